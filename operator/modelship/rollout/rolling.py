"""Rolling: bring the new revision up and the old one down within maxSurge and
maxUnavailable, as a Deployment does, with no gates."""

from __future__ import annotations

from datetime import timedelta

from modelship.api.strategy import RollingStrategy
from modelship.rollout.draft import Draft
from modelship.rollout.gating import pause
from modelship.rollout.moves import (
    ROUTED_SCALE_DOWN_DELAY_SECONDS,
    StrategyOutcome,
    promote,
    wait_for_pods,
)
from modelship.rollout.replicas import resolve_int_or_percent


def plan_rolling(
    d: Draft, rolling: RollingStrategy, reason: str = "rolling update"
) -> StrategyOutcome:
    assert d.canary is not None and d.stable is not None
    total = d.total
    surge = resolve_int_or_percent(rolling.max_surge, total, round_up=True)
    unavailable = resolve_int_or_percent(rolling.max_unavailable, total, round_up=False)
    if surge == 0 and unavailable == 0:
        surge = 1  # both zero could never make progress
    new, old = d.observed(d.canary), d.observed(d.stable)
    if d.inp.control.paused and d.state.stage is not None:
        # Held where it is: both revisions keep the pods they have.
        d.replicas[d.canary], d.replicas[d.stable] = new.replicas, old.replicas
        d.traffic = d.stable_traffic()
        pause(d, f"{reason}: paused by the modelship.io/paused annotation")
        return StrategyOutcome.PROGRESSING
    # Up to `total + surge` pods in all; at least `total - unavailable` ready ones.
    new_replicas = min(total, max(new.replicas, total + surge - old.replicas))
    old_replicas = min(old.replicas, max(total - unavailable - new.ready, 0))
    keep_old_for = timedelta(0)
    if d.service_selects_revision:
        # The Service reaches only the old revision until the switch: its pods stay up until
        # then, and a while after (blue-green's scale-down delay), for an instant way back.
        new_replicas, old_replicas = total, old.replicas
        bg = d.spec.strategy.blue_green
        keep_old_for = timedelta(
            seconds=bg.scale_down_delay_seconds if bg else ROUTED_SCALE_DOWN_DELAY_SECONDS
        )
    d.replicas[d.canary] = new_replicas
    d.replicas[d.stable] = old_replicas
    d.traffic = d.stable_traffic()
    if new.available >= total:
        promote(d, d.canary, reason, keep_old_for=keep_old_for)
        d.replicas[d.stable] = None if d.spec.serving.autoscaling else total
        d.traffic = d.stable_traffic()
        return StrategyOutcome.PROMOTED
    wait_for_pods(
        d,
        d.canary,
        f"{reason}: {new.available}/{total} new pods available, {old.replicas} old pods left",
    )
    return StrategyOutcome.PROGRESSING
