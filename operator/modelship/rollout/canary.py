"""Canary: walk the steps (setWeight, pause, analysis), then promote.

Each call advances as far as the observed state allows in one go: a step whose condition
already holds completes at once, the first one that must wait stops the walk.
"""

from __future__ import annotations

import math
from datetime import timedelta

from modelship.api.strategy import CanaryStep, CanaryStrategy, Router
from modelship.rollout.draft import Draft
from modelship.rollout.gating import GateOutcome, pause, run_background_analysis, run_gate
from modelship.rollout.moves import (
    ROUTED_SCALE_DOWN_DELAY_SECONDS,
    StrategyOutcome,
    promote,
    wait_for_pods,
    window_replicas,
)
from modelship.rollout.replicas import guarded_scale_down, split_for_weight
from modelship.rollout.types import Traffic


def apply_weight(d: Draft, weight: int) -> bool:
    """Replicas and routes for `weight`; True once the pods for it are ready."""
    assert d.canary is not None and d.stable is not None
    canary, stable, total = d.observed(d.canary), d.observed(d.stable), d.total
    if d.router is Router.REPLICAS:
        d.status["canary_weight"] = weight
        split = split_for_weight(total, weight)
        # At 100% the stable keeps the pods its rollback window holds warm (none without one).
        floor = (window_replicas(d) or 0) if weight == 100 else 0
        stable_target = max(split.stable, floor)
        stable_replicas = guarded_scale_down(stable_target, stable.replicas, total, canary.ready)
        d.replicas[d.canary] = split.canary
        d.replicas[d.stable] = stable_replicas
        # Pods kept warm for the window must not serve: at 100% the Service selects the canary
        # alone (its pods are all ready by then, or the step is not reached).
        warm = weight == 100 and floor > 0 and canary.ready >= split.canary
        d.traffic = Traffic(
            service_revision=d.canary if warm else None,
            stable_revision=d.stable,
            canary_revision=d.canary,
            canary_weight=weight,
        )
        return canary.ready >= split.canary and stable.replicas <= stable_target
    # A proxy splits traffic by weight: the stable keeps full capacity, the canary gets pods
    # for its share and traffic only once they are ready.
    canary_replicas = math.ceil(total * weight / 100) if weight > 0 else 0
    d.replicas[d.canary] = max(canary_replicas, 1 if weight > 0 else 0)
    d.replicas[d.stable] = None if d.spec.serving.autoscaling else total
    reached = canary.ready >= d.replicas[d.canary]  # type: ignore[operator]
    routed = weight if reached else (d.current("canary_weight") or 0)
    d.status["canary_weight"] = routed
    d.traffic = Traffic(
        service_revision=d.stable,
        stable_revision=d.stable,
        canary_revision=d.canary,
        canary_weight=routed,
    )
    return reached


def plan_canary(d: Draft, canary: CanaryStrategy) -> StrategyOutcome:
    assert d.canary is not None
    steps = canary.steps
    first_index = index = d.current("current_step") or 0
    weight = d.current("canary_weight") or 0
    step_started = d.current("current_step_started_at") or d.now
    control = d.inp.control
    promote_step = control.promote == "step"
    if control.promote == "full":
        d.event("PromotedManually", f"full promotion requested at step {index + 1}/{len(steps)}")
        index = len(steps)
        d.update_state(promoting=True)  # remembered for the history entry
    # Traffic stays where it is unless a step moves it: also when the analysis stops here.
    apply_weight(d, weight)
    if control.promote is None:
        background = run_background_analysis(d)
        if background is not GateOutcome.PASSED:
            return background.strategy_outcome()

    while index < len(steps):
        step = steps[index]
        label = f"step {index + 1}/{len(steps)}"
        if step.set_weight is not None:
            weight = step.set_weight
            if not apply_weight(d, weight):
                canary_obs = d.observed(d.canary)
                wait_for_pods(
                    d,
                    d.canary,
                    f"{label}: setting canary weight to {weight}% "
                    f"({canary_obs.ready} canary pods ready)",
                )
                break
        else:
            apply_weight(d, weight)
            if control.paused:
                break
            if step.pause is not None:
                if promote_step:
                    promote_step = False
                    d.event("PromotedManually", f"{label}: pause skipped by promote")
                elif step.pause.duration is not None:
                    ends = step_started + d.duration(step.pause.duration)
                    if d.now < ends:
                        pause(
                            d,
                            f"{label}: paused for {step.pause.duration} until "
                            f"{ends.isoformat(timespec='seconds')}",
                        )
                        d.requeue_at(ends)
                        break
                else:
                    pause(d, f"{label}: paused until promoted (annotate modelship.io/promote)")
                    break
            elif step.analysis is not None:
                if promote_step:
                    promote_step = False
                    d.event("PromotedManually", f"{label}: analysis skipped by promote")
                else:
                    gate = run_gate(d, f"step-{index}", step.analysis, f"{label}: analysis")
                    if gate is GateOutcome.STOPPED:
                        return gate.strategy_outcome()
                    if gate is GateOutcome.WAITING:
                        break
        if control.paused:
            break
        index += 1
        step_started = d.now
        if index < len(steps):
            d.event("StepCompleted", f"{label} done; {_describe(steps, index)}")

    if control.paused:
        pause(
            d,
            f"step {min(index, len(steps)) + 1}/{len(steps)}: paused by the "
            "modelship.io/paused annotation",
        )
    if index != first_index:
        d.status["current_step_started_at"] = step_started
    d.status["current_step"] = index
    if index >= len(steps) and not control.paused:
        return _promote_canary(d)
    return StrategyOutcome.PROGRESSING


def _describe(steps: list[CanaryStep], index: int) -> str:
    step = steps[index]
    if step.set_weight is not None:
        what = f"setWeight {step.set_weight}"
    elif step.pause is not None:
        what = f"pause {step.pause.duration or 'until promoted'}"
    else:
        what = "analysis"
    return f"step {index + 1}/{len(steps)}: {what}"


def _promote_canary(d: Draft) -> StrategyOutcome:
    """All pods to the canary; once they are ready it becomes stable."""
    assert d.canary is not None
    if not apply_weight(d, 100):
        ready = d.observed(d.canary).ready
        wait_for_pods(d, d.canary, f"promoting: {ready}/{d.total} canary pods ready")
        return StrategyOutcome.PROGRESSING
    delay = 0 if d.router is Router.REPLICAS else ROUTED_SCALE_DOWN_DELAY_SECONDS
    canary = d.canary
    reason = (
        "promoted in full by modelship.io/promote-full"
        if d.state.promoting
        else "canary steps completed"
    )
    promote(d, canary, reason, keep_old_for=timedelta(seconds=delay))
    d.traffic = d.stable_traffic()
    d.replicas[canary] = None if d.spec.serving.autoscaling else d.total
    return StrategyOutcome.PROMOTED
