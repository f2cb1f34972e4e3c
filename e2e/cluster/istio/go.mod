// Pins the Istio API release whose VirtualService CRD the local cluster installs for the
// istio router tests (the CRDs ship in the module's kubernetes/ directory; nothing is built).
module modelship.io/e2e/cluster/istio

go 1.26

require istio.io/api v1.32.0
