// Pins the Prometheus Operator release whose PodMonitor, ServiceMonitor and PrometheusRule
// CRDs the chart's monitors and rules are checked against (the CRDs ship in the module's
// example/prometheus-operator-crd/ directory; nothing is built).
module modelship.io/e2e/cluster/prometheus-operator

go 1.26

require github.com/prometheus-operator/prometheus-operator v0.85.0
