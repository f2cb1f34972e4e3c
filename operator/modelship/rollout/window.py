"""The rollback window after a promotion: the new stable revision is still analysed, the
previous one keeps warm pods (`moves.open_window`), and a failure returns all traffic to them
without a new rollout. Like Argo Rollouts' scaleDownDelaySeconds with analysis still running.

Functions of the `Draft`, called by the planner on the passes where the stable revision
serves everything.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from modelship.analysis.run import BACKGROUND
from modelship.api.analysis import Analysis, AnalysisGate
from modelship.api.modeldeployment import ModelDeploymentStatus, RolloutOutcome
from modelship.api.rolloutstate import OpenWindow
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.moves import record, retire
from modelship.rollout.types import GateResult, RolloutPlan, Verdict


def window_metrics(analysis: Analysis | None) -> list[str]:
    """The metrics the window measures: those without a judge. A judge compares the two
    revisions' live traffic, and the previous revision gets none while the window is open."""
    if analysis is None:
        return []
    return [m.name for m in analysis.metrics if m.judge is None]


def close_window(d: Draft, message: str) -> None:
    """The window ends; the previous revision's pods go as any idle revision's do."""
    if d.state.window is None:
        return
    d.update_state(window=None)
    d.event("RollbackWindowClosed", message)


def end_stale_window(d: Draft, target: str) -> None:
    """A window lasts only while its revision is stable and the spec still asks for it."""
    window = d.state.window
    if window is None:
        return
    if window.revision != d.stable or target != d.stable:
        close_window(
            d, f"revision {window.revision}: a new rollout started; revision {window.previous} "
            "is no longer kept",
        )  # fmt: skip
    elif window.previous not in d.inp.revisions:
        close_window(d, f"the Deployment of revision {window.previous} is gone")


def run_window(d: Draft) -> bool:
    """One pass of an open window; True when it rolled back to the previous revision."""
    window = d.state.window
    if window is None:
        return False
    if d.now >= window.until:
        close_window(
            d, f"revision {window.revision} passed its rollback window "
            f"({d.spec.rollback.window.duration if d.spec.rollback.window else 'ended'}); "
            f"revision {window.previous} is scaled down",
        )  # fmt: skip
        return False
    d.replicas[window.previous] = window.previous_replicas
    d.requeue_at(window.until)
    names = window_metrics(d.spec.analysis)
    if not names:
        return False
    d.request_gate(BACKGROUND, AnalysisGate(metrics=names))
    result = d.gate(BACKGROUND)
    if result.verdict is not Verdict.FAILED:
        return False
    reason = f"analysis in the rollback window after promotion failed: {result.message}"
    if not d.spec.rollback.automatic:
        d.set_phase(
            Phase.DEGRADED,
            f"revision {window.revision}: {reason}; automatic rollback is off: annotate "
            f"modelship.io/rollback-to={window.previous} to return to the previous revision",
        )
        return True
    rollback_after_promotion(d, window, reason, result)
    return True


def rollback_after_promotion(d: Draft, window: OpenWindow, reason: str, result: GateResult) -> None:
    """All traffic back to the previous revision, whose warm pods serve at once while it
    scales to full; the failed revision is held until the spec changes or a retry."""
    failed, previous = window.revision, window.previous
    d.update_state(started_at=window.opened_at)  # the history entry spans the window
    record(d, failed, RolloutOutcome.ROLLED_BACK_AFTER_PROMOTION, reason, result)
    d.stable = previous
    d.update_state(
        window=None, started_at=None, held_revision=failed, held_reason=reason,
        held_dropped=False,
    )  # fmt: skip
    d.replicas[previous] = d.total
    d.traffic = d.stable_traffic()
    if d.service_selects_revision:
        retire(d, failed)  # the route or selector moves now; the pods go after a delay
    else:
        # Only the Service's selector keeps the failed pods from traffic: it selects the
        # previous revision from now on (see hold_service), and the failed pods go once it
        # does; scaled down in this pass they could leave the Service no endpoints.
        d.update_state(returned_from=failed)
        d.replicas[failed] = d.observed(failed).replicas
    message = f"revision {failed}: {reason}; all traffic back to revision {previous}"
    d.set_phase(Phase.ROLLED_BACK, message)
    d.event("RolledBackAfterPromotion", message, "Warning")


def hold_service(d: Draft) -> None:
    """While a window is open, the main Service selects the stable revision alone, so the
    previous revision's warm pods get no traffic (with the replicas router it would
    otherwise select every pod). After a rollback in the window it selects the previous
    revision alone until the failed revision's pods are gone, and scales them down once
    the Service no longer reaches them."""
    window = d.state.window
    if window is not None and d.canary is None and d.stable == window.revision:
        d.traffic = replace(d.traffic, service_revision=d.stable)
    returned = d.state.returned_from
    if returned is None:
        return
    failed = d.observed(returned)
    gone = returned not in d.inp.revisions or failed.replicas + failed.ready == 0
    if d.canary is not None or gone:
        d.update_state(returned_from=None)
        return
    d.traffic = replace(d.traffic, service_revision=d.stable)
    moved = d.state.service_revision == d.stable and d.state.switch_until is None
    d.replicas[returned] = 0 if moved else failed.replicas
    if not moved:
        d.requeue.append(1.0)  # look again once the Service's move is applied


def describe_window(d: Draft) -> None:
    """Say in the Healthy message that the window is open, until when, what it keeps."""
    window = d.state.window
    if window is None or d.phase is not Phase.HEALTHY or d.stable != window.revision:
        return
    names = window_metrics(d.spec.analysis)
    analysed = (
        f"analysing {', '.join(names)}" if names else "no analysis (no metric without a judge)"
    )
    d.message += (
        f"; rollback window open until {window.until.isoformat(timespec='seconds')}: "
        f"revision {window.previous} keeps {window.previous_replicas} pods, {analysed}"
    )


def analysis_subject(plan: RolloutPlan) -> tuple[ModelDeploymentStatus, datetime | None]:
    """What the analysis measures for `plan`: the canary from the rollout's start, or,
    while a rollback window is open, the new stable against the previous revision from the
    window's start (so rounds before the promotion do not count)."""
    window = plan.state.window
    if plan.status.canary_revision is None and window is not None:
        status = plan.status.model_copy(
            update={"canary_revision": window.revision, "stable_revision": window.previous}
        )
        return status, window.opened_at
    return plan.status, plan.state.started_at
