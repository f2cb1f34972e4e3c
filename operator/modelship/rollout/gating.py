"""Moves every strategy shares when a gate or a person stops a rollout."""

from __future__ import annotations

from enum import StrEnum

from modelship.api.analysis import AnalysisGate
from modelship.api.modeldeployment import RolloutOutcome
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.moves import StrategyOutcome, abort
from modelship.rollout.types import GateResult, Verdict


def pause(d: Draft, message: str) -> None:
    """Stop progressing until time passes or a person acts; the stop is recorded once."""
    was_paused = d.inp.status.phase is Phase.PAUSED
    if not was_paused:
        d.event("Paused", message, revision=d.canary)
    d.status["paused_at"] = (d.inp.status.paused_at if was_paused else None) or d.now
    d.set_phase(Phase.PAUSED, message)


class GateOutcome(StrEnum):
    """What a gate means for the strategy that asked."""

    PASSED = "Passed"
    """Move on."""
    WAITING = "Waiting"
    """Stay at this step: analysing, inconclusive (paused), or failed with manual rollback."""
    STOPPED = "Stopped"
    """The rollout ended here (rolled back): nothing more to plan for the new revision."""

    def strategy_outcome(self) -> StrategyOutcome:
        """What a strategy that stops at this gate (not PASSED) reports to the planner."""
        if self is GateOutcome.STOPPED:
            return StrategyOutcome.ROLLED_BACK
        return StrategyOutcome.PROGRESSING


def run_gate(d: Draft, key: str, gate: AnalysisGate | None, label: str) -> GateOutcome:
    """Ask the analysis for gate `key`. A failure rolls back (see `fail`), an inconclusive
    result pauses, a running one reports progress."""
    if gate is None:
        return GateOutcome.PASSED
    result = d.gate(key)
    if result.verdict is Verdict.SUCCESSFUL:
        return GateOutcome.PASSED
    d.request_gate(key, gate)
    detail = f": {result.message}" if result.message else ""
    if result.verdict is Verdict.FAILED:
        return fail(d, f"{label} failed{detail}", result)
    if result.verdict is Verdict.INCONCLUSIVE:
        pause(d, f"{label} inconclusive{detail}; promote to skip it, or abort")
    else:
        d.set_phase(Phase.PROGRESSING, f"{label}: analysing{detail}")
    return GateOutcome.WAITING


def fail(d: Draft, reason: str, result: GateResult) -> GateOutcome:
    """A failed analysis: roll back, or stop and wait for a person when rollback is manual."""
    if d.spec.rollback.automatic:
        abort(d, RolloutOutcome.ROLLED_BACK, reason, result)
        d.set_phase(Phase.ROLLED_BACK, reason)
        d.traffic = d.stable_traffic()
        if d.stable:
            d.replicas[d.stable] = None if d.spec.serving.autoscaling else d.total
        return GateOutcome.STOPPED
    d.set_phase(Phase.DEGRADED, f"{reason}; automatic rollback is off: abort or promote")
    return GateOutcome.WAITING


def run_background_analysis(d: Draft) -> GateOutcome:
    """While the new revision runs, spec.analysis measures it continuously. PASSED while
    it has not failed (running counts: it never holds a step); a failure rolls back
    (STOPPED) or, with manual rollback, holds the rollout (WAITING)."""
    analysis = d.spec.analysis
    if analysis is None or not analysis.background:
        return GateOutcome.PASSED
    d.request_gate("background", AnalysisGate())
    result = d.gate("background")
    if result.verdict is Verdict.FAILED:
        return fail(d, f"background analysis failed: {result.message}", result)
    return GateOutcome.PASSED
