// Pins the Gateway API release whose CRDs the local cluster installs for router tests.
module modelship.io/e2e/cluster/gateway-api

go 1.26

require sigs.k8s.io/gateway-api v1.7.0
