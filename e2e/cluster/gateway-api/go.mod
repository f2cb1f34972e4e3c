// Pins the Gateway API release whose CRDs the local cluster installs for router tests.
// v1.7 needs Go 1.27; v1.6.3 is the newest release that builds with the Go 1.26 the others pin.
module modelship.io/e2e/cluster/gateway-api

go 1.26

require sigs.k8s.io/gateway-api v1.6.3
