"""Blue-green: the new revision runs beside the old behind a preview Service; promotion
switches the main Service at once; the old pods stay up for the scale-down delay, so a
failing post-promotion analysis (or a person) switches back instantly."""

from __future__ import annotations

from datetime import timedelta

from modelship.api.rolloutstate import RolloutStage
from modelship.api.strategy import BlueGreenStrategy
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.gating import GateOutcome, background_analysis_failed, pause, run_gate
from modelship.rollout.types import Traffic


def plan_blue_green(d: Draft, bg: BlueGreenStrategy) -> None:
    assert d.canary is not None and d.stable is not None
    if d.state.stage is RolloutStage.SWITCHED:
        _switched(d, bg)
        return
    total = d.total
    preview_replicas = bg.preview_replicas or total
    preview = d.observed(d.canary)
    d.replicas[d.stable] = None if d.spec.serving.autoscaling else total
    d.replicas[d.canary] = preview_replicas
    d.traffic = Traffic(
        service_revision=d.stable, stable_revision=d.stable, canary_revision=d.canary, preview=True
    )
    if preview.ready < preview_replicas:
        d.wait_for_pods(d.canary, f"preview: {preview.ready}/{preview_replicas} pods ready")
        return
    if d.state.preview_ready_at is None:
        d.update_state(preview_ready_at=d.now)
        d.event("PreviewReady", f"revision {d.canary} is ready behind the preview Service")
    if background_analysis_failed(d):
        return
    control = d.inp.control
    # A promote annotation acts once; the promotion it starts carries on until the switch.
    promote = control.promote is not None or d.state.promoting
    if not promote and (
        run_gate(d, "prePromotion", bg.pre_promotion_analysis, "pre-promotion analysis")
        is not GateOutcome.PASSED
    ):
        return
    if control.paused:
        pause(d, "preview: paused by the modelship.io/paused annotation")
        return
    if not promote:
        if not bg.auto_promotion_enabled:
            pause(d, "preview ready: waiting for promote (annotate modelship.io/promote)")
            return
        ready_at = d.state.preview_ready_at or d.now
        promote_at = ready_at + timedelta(seconds=bg.auto_promotion_seconds or 0)
        if d.now < promote_at:
            d.set_phase(
                Phase.PROGRESSING,
                "preview ready: promoting automatically at "
                + promote_at.isoformat(timespec="seconds"),
            )
            d.requeue_at(promote_at)
            return
    # Promotion: the new revision gets full capacity before the Service switches to it.
    d.update_state(promoting=True)
    d.replicas[d.canary] = total
    if preview.ready < total:
        d.wait_for_pods(d.canary, f"promoting: {preview.ready}/{total} pods ready")
        return
    d.update_state(stage=RolloutStage.SWITCHED, stage_started_at=d.now)
    d.event(
        "Switched",
        f"the Service now sends all traffic to revision {d.canary}; revision "
        f"{d.stable} stays up for rollback",
    )
    _switched(d, bg)


def _switched(d: Draft, bg: BlueGreenStrategy) -> None:
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
            return
    d.promote(
        new, "blue-green promotion", keep_old_for=timedelta(seconds=bg.scale_down_delay_seconds)
    )
    d.traffic = d.stable_traffic()
    d.replicas[new] = None if d.spec.serving.autoscaling else d.total
