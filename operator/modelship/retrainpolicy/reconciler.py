"""The RetrainPolicy reconciler: validate, resolve its references, report."""

from __future__ import annotations

from modelship.api.resources import RETRAIN_POLICY
from modelship.planners.assessment import assess_retrain_policy
from modelship.runtime.status import StatusSink
from modelship.runtime.validated import ExistingIn, ValidatedReconciler


def retrain_policy_reconciler(sink: StatusSink, existing: ExistingIn) -> ValidatedReconciler:
    return ValidatedReconciler(RETRAIN_POLICY, assess_retrain_policy, sink, existing)
