"""The operator's own Prometheus metrics (served on --metrics-port)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RECONCILES = Counter(
    "modelship_reconciles_total",
    "Reconcile passes, by kind and resulting phase.",
    ["kind", "phase"],
)
STATUS_WRITES = Counter(
    "modelship_status_writes_total",
    "Reconcile passes that changed an object's status, by kind.",
    ["kind"],
)
RECONCILE_SECONDS = Histogram(
    "modelship_reconcile_duration_seconds",
    "Time spent planning one reconcile pass, by kind.",
    ["kind"],
)

MEASUREMENTS = Counter(
    "modelship_analysis_measurements_total",
    "Analysis measurements, by metric and result (Successful, Failed, Inconclusive).",
    ["metric", "result"],
)
PROMETHEUS_QUERIES = Counter(
    "modelship_prometheus_queries_total",
    "Queries sent to Prometheus by the analysis, by outcome (ok, error).",
    ["outcome"],
)
ROLLOUT_EVENTS = Counter(
    "modelship_rollout_events_total",
    "Rollout transitions, by reason (RolloutStarted, Promoted, RolledBack, Aborted, ...).",
    ["reason"],
)
API_WRITES = Counter(
    "modelship_api_writes_total",
    "Writes the operator sent to the Kubernetes API for ModelDeployments and their children.",
    ["verb"],
)


def serve(port: int) -> None:
    """Serve /metrics on `port` (all interfaces, for Prometheus in the cluster)."""
    start_http_server(port)
