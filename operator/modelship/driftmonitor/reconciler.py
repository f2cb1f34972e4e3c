"""The DriftMonitor reconciler: validate, resolve the ModelDeployment it watches, report."""

from __future__ import annotations

from modelship.api.resources import DRIFT_MONITOR
from modelship.planners.assessment import assess_drift_monitor
from modelship.runtime.status import StatusSink
from modelship.runtime.validated import ExistingIn, ValidatedReconciler


def drift_monitor_reconciler(sink: StatusSink, existing: ExistingIn) -> ValidatedReconciler:
    return ValidatedReconciler(DRIFT_MONITOR, assess_drift_monitor, sink, existing)
