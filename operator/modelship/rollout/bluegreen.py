"""Blue-green: the new revision runs beside the old behind a preview Service; promotion
switches the main Service at once; the old pods stay up for the scale-down delay, so a
failing post-promotion analysis (or a person) switches back instantly."""

from __future__ import annotations

from datetime import timedelta

from modelship.api.rolloutstate import RolloutStage
from modelship.api.strategy import BlueGreenStrategy
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.gating import GateOutcome, pause, run_background_analysis, run_gate
from modelship.rollout.moves import StrategyOutcome, promote, wait_for_pods
from modelship.rollout.types import Traffic


def plan_blue_green(d: Draft, bg: BlueGreenStrategy) -> StrategyOutcome:
    assert d.canary is not None and d.stable is not None
    if d.state.stage is RolloutStage.SWITCHED:
        return _switched(d, bg)
    total = d.total
    preview_replicas = bg.preview_replicas or total
    preview = d.observed(d.canary)
    d.replicas[d.stable] = None if d.spec.serving.autoscaling else total
    d.replicas[d.canary] = preview_replicas
    d.traffic = Traffic(
        service_revision=d.stable, stable_revision=d.stable, canary_revision=d.canary, preview=True
    )
    if preview.ready < preview_replicas:
        wait_for_pods(d, d.canary, f"preview: {preview.ready}/{preview_replicas} pods ready")
        return StrategyOutcome.PROGRESSING
    if d.state.preview_ready_at is None:
        d.update_state(preview_ready_at=d.now)
        d.event("PreviewReady", f"revision {d.canary} is ready behind the preview Service")
    background = run_background_analysis(d)
    if background is not GateOutcome.PASSED:
        return background.strategy_outcome()
    control = d.inp.control
    # A promote annotation acts once; the promotion it starts carries on until the switch.
    promoting = control.promote is not None or d.state.promoting
    if not promoting:
        gate = run_gate(d, "prePromotion", bg.pre_promotion_analysis, "pre-promotion analysis")
        if gate is not GateOutcome.PASSED:
            return gate.strategy_outcome()
    if control.paused:
        pause(d, "preview: paused by the modelship.io/paused annotation")
        return StrategyOutcome.PROGRESSING
    if not promoting:
        if not bg.auto_promotion_enabled:
            pause(d, "preview ready: waiting for promote (annotate modelship.io/promote)")
            return StrategyOutcome.PROGRESSING
        ready_at = d.state.preview_ready_at or d.now
        promote_at = ready_at + timedelta(seconds=bg.auto_promotion_seconds or 0)
        if d.now < promote_at:
            d.set_phase(
                Phase.PROGRESSING,
                "preview ready: promoting automatically at "
                + promote_at.isoformat(timespec="seconds"),
            )
            d.requeue_at(promote_at)
            return StrategyOutcome.PROGRESSING
    # Promotion: the new revision gets full capacity before the Service switches to it.
    d.update_state(promoting=True)
    d.replicas[d.canary] = total
    if preview.ready < total:
        wait_for_pods(d, d.canary, f"promoting: {preview.ready}/{total} pods ready")
        return StrategyOutcome.PROGRESSING
    d.update_state(stage=RolloutStage.SWITCHED, stage_started_at=d.now)
    d.event(
        "Switched",
        f"the Service now sends all traffic to revision {d.canary}; revision "
        f"{d.stable} stays up for rollback",
    )
    return _switched(d, bg)


def _switched(d: Draft, bg: BlueGreenStrategy) -> StrategyOutcome:
    """After the switch: post-promotion analysis decides between keeping and switching back."""
    assert d.canary is not None and d.stable is not None
    old, new = d.stable, d.canary
    d.replicas[new] = d.total
    d.replicas[old] = d.observed(old).replicas  # keep the old pods up: instant rollback
    d.traffic = Traffic(
        service_revision=new, stable_revision=new, canary_revision=new, preview=True
    )
    if not d.inp.control.promote:
        gate = run_gate(d, "postPromotion", bg.post_promotion_analysis, "post-promotion analysis")
        if gate is GateOutcome.STOPPED:  # switched back
            d.replicas[old] = d.total
        if gate is not GateOutcome.PASSED:
            return gate.strategy_outcome()
    promote(
        d, new, "blue-green promotion", keep_old_for=timedelta(seconds=bg.scale_down_delay_seconds)
    )
    d.traffic = d.stable_traffic()
    d.replicas[new] = None if d.spec.serving.autoscaling else d.total
    return StrategyOutcome.PROMOTED
