"""Shadow: the new revision receives a mirrored share of live traffic whose answers are
discarded; after `duration` its analysis decides whether it continues as a canary or is
dropped."""

from __future__ import annotations

import math

from modelship.api.modeldeployment import RolloutOutcome
from modelship.api.rolloutstate import RolloutStage
from modelship.api.strategy import ShadowStrategy
from modelship.rollout.canary import plan_canary
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.gating import GateOutcome, pause, run_background_analysis, run_gate
from modelship.rollout.moves import StrategyOutcome, abort, wait_for_pods
from modelship.rollout.types import Traffic


def plan_shadow(d: Draft, shadow: ShadowStrategy) -> StrategyOutcome:
    assert d.canary is not None and d.stable is not None
    if d.state.stage is RolloutStage.CANARY and shadow.canary is not None:
        return plan_canary(d, shadow.canary)
    total = d.total
    replicas = max(1, math.ceil(total * shadow.mirror_percentage / 100))
    obs = d.observed(d.canary)
    d.replicas[d.stable] = None if d.spec.serving.autoscaling else total
    d.replicas[d.canary] = replicas
    ready = obs.ready >= replicas
    d.traffic = Traffic(
        service_revision=d.stable,
        stable_revision=d.stable,
        canary_revision=d.canary,
        mirror_percent=shadow.mirror_percentage if ready else 0,
    )
    d.status["canary_weight"] = 0
    if not ready:
        wait_for_pods(d, d.canary, f"shadow: {obs.ready}/{replicas} pods ready")
        return StrategyOutcome.PROGRESSING
    background = run_background_analysis(d)
    if background is not GateOutcome.PASSED:
        return background.strategy_outcome()
    if d.inp.control.paused:
        pause(d, "shadow: paused by the modelship.io/paused annotation")
        return StrategyOutcome.PROGRESSING
    started = d.state.stage_started_at or d.now
    ends = started + d.duration(shadow.duration)
    if d.now < ends and d.inp.control.promote is None:
        d.set_phase(
            Phase.PROGRESSING,
            f"shadow: mirroring {shadow.mirror_percentage}% of "
            f"requests until {ends.isoformat(timespec='seconds')}",
        )
        d.requeue_at(ends)
        return StrategyOutcome.PROGRESSING
    if d.inp.control.promote is None:
        gate = run_gate(d, "shadow", shadow.analysis, "shadow analysis")
        if gate is not GateOutcome.PASSED:
            return gate.strategy_outcome()
    if shadow.then == "drop" or shadow.canary is None:
        abort(d, RolloutOutcome.DROPPED, "shadow evaluation finished", dropped=True)
        d.set_phase(
            Phase.HEALTHY,
            f"shadow evaluation of revision {d.inp.status.canary_revision} "
            "finished; it was dropped as configured",
        )
        d.traffic = d.stable_traffic()
        return StrategyOutcome.DROPPED
    d.update_state(stage=RolloutStage.CANARY, stage_started_at=d.now)
    d.status.update(current_step=0, current_step_started_at=d.now)
    d.event("ShadowPassed", f"revision {d.canary} passed its shadow run; starting the canary")
    return plan_canary(d, shadow.canary)
