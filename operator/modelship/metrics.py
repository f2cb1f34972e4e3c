"""The operator's own Prometheus metrics (served on --metrics-port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
RETRAIN_EVENTS = Counter(
    "modelship_retrain_events_total",
    "RetrainPolicy Events, by reason (RunStarted, RunPromoted, RunFailed, RunRejected, ...).",
    ["reason"],
)
NOTIFICATIONS = Counter(
    "modelship_notifications_total",
    "Notification deliveries, by receiver and outcome (sent, retried, failed, dropped, invalid).",
    ["receiver", "outcome"],
)
API_WRITES = Counter(
    "modelship_api_writes_total",
    "Writes the operator sent to the Kubernetes API for ModelDeployments and their children.",
    ["verb"],
)

DRIFT_EVALUATIONS = Counter(
    "modelship_drift_evaluations_total",
    "DriftMonitor evaluations, by verdict (True: drifted, False, Unknown).",
    ["verdict"],
)
DRIFT_SCORE = Gauge(
    "modelship_drift_score",
    "The last drift score of a feature (p-value for chi2 and kolmogorovSmirnov).",
    ["namespace", "monitor", "feature", "method"],
)
DRIFT_SEVERITY = Gauge(
    "modelship_drift_severity",
    "The last severity of a feature: 0 none, 1 warning, 2 critical.",
    ["namespace", "monitor", "feature"],
)
DRIFT_DATASET_SHARE = Gauge(
    "modelship_drift_dataset_share",
    "Share of a monitor's scored features that drifted at the dataset-drift severity.",
    ["namespace", "monitor"],
)
DRIFTED = Gauge(
    "modelship_drift_drifted",
    "1 while a DriftMonitor reports drift, 0 when not, -1 when it cannot tell (Unknown).",
    ["namespace", "monitor"],
)
DRIFT_PERFORMANCE = Gauge(
    "modelship_drift_performance",
    "The last realised performance of a DriftMonitor's model.",
    ["namespace", "monitor", "metric"],
)
DRIFT_PERFORMANCE_ESTIMATED = Gauge(
    "modelship_drift_performance_estimated",
    "The last performance of a DriftMonitor's model estimated from its score histogram.",
    ["namespace", "monitor", "metric"],
)
DRIFT_FAIRNESS = Gauge(
    "modelship_drift_fairness",
    "The last value of a fairness check.",
    ["namespace", "monitor", "attribute", "metric"],
)
DRIFT_DATA_QUALITY = Gauge(
    "modelship_drift_data_quality",
    "The last data-quality share of a feature, by check (missing, outOfRange, unseen).",
    ["namespace", "monitor", "feature", "check"],
)
DRIFT_REJECTED = Gauge(
    "modelship_drift_rejected_share",
    "The last share of inference requests the server rejected, by reason.",
    ["namespace", "monitor", "reason"],
)
DRIFT_DATA_QUALITY_FAILED = Gauge(
    "modelship_drift_data_quality_failed",
    "1 while a DriftMonitor's data quality fails a check, else 0.",
    ["namespace", "monitor"],
)


def serve(port: int) -> None:
    """Serve /metrics on `port` (all interfaces, for Prometheus in the cluster)."""
    start_http_server(port)
