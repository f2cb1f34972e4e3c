"""The finishing pass: the main Service's switch smoothed, the revisions that no longer
serve scaled down or deleted, and the draft turned into an immutable `RolloutPlan`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from modelship.api.rolloutstate import RolloutStage
from modelship.rollout.draft import Draft
from modelship.rollout.types import RolloutPlan

SERVICE_SWITCH_OVERLAP = timedelta(seconds=2)


def finish_plan(d: Draft) -> RolloutPlan:
    smooth_service_switch(d)
    settle_others(d)
    d.update_state(
        stable_version=d.version_of(d.stable) if d.stable else None,
        step=canary_step(d),
    )
    observed = d.inp.revisions.values()
    status = d.inp.status.model_copy(
        update={
            **d.status,
            "phase": d.phase,
            "message": d.message[:1024],
            "stable_revision": d.stable,
            "canary_revision": d.canary,
            "history": d.history or None,
            "replicas": sum(o.replicas for o in observed),
            "ready_replicas": sum(o.ready for o in observed),
        }
    )
    return RolloutPlan(
        replicas=d.replicas,
        delete=d.delete,
        traffic=d.traffic,
        status=status,
        state=d.state,
        events=d.events,
        gates=d.gates,
        requeue_after=min(d.requeue) if d.requeue else None,
    )


def settle_others(d: Draft) -> None:
    """Revisions that neither serve nor wait for their scale-down delay go to zero, and
    those beyond the history limit are deleted."""
    keep_up: dict[str, datetime] = {}
    pending = []
    for scale_down in d.state.scale_downs:
        if scale_down.revision in (d.stable, d.canary):
            continue
        if scale_down.at > d.now and scale_down.revision in d.inp.revisions:
            keep_up[scale_down.revision] = scale_down.at
            pending.append(scale_down)
            d.requeue_at(scale_down.at)
    if len(pending) != len(d.state.scale_downs):
        d.update_state(scale_downs=pending)
    rollback = d.state.rollback.revision if d.state.rollback else None
    idle = [
        obs
        for revision, obs in d.inp.revisions.items()
        if revision not in (d.stable, d.canary) and revision not in keep_up
    ]
    idle.sort(key=lambda o: o.created_at or datetime.min.replace(tzinfo=d.now.tzinfo), reverse=True)
    # With the replicas router the main Service selects every pod: a revision that stops
    # serving keeps pods until the serving revisions have enough ready ones to replace it.
    needed = 0
    if not d.service_selects_revision:
        ready = sum(d.observed(r).ready for r in (d.stable, d.canary) if r)
        needed = max(d.total - ready, 0)
    limit = d.spec.rollback.revision_history_limit
    for position, obs in enumerate(idle):
        keep = min(obs.replicas, needed)
        needed -= keep
        d.replicas.setdefault(obs.revision, keep)
        if position >= limit and obs.revision != rollback and not keep and not obs.replicas:
            d.replicas.pop(obs.revision, None)
            d.delete.append(obs.revision)


def smooth_service_switch(d: Draft) -> None:
    """Move the main Service from one revision to another through a moment where it
    selects both: changing a selector in one step can leave its EndpointSlices empty
    for an instant, and a gap is a failed request."""
    desired = d.traffic.service_revision
    applied = d.state.service_revision
    if desired is None or applied is None or desired == applied or d.observed(applied).ready == 0:
        d.update_state(service_revision=desired, switch_until=None)
        return
    until = d.state.switch_until or d.now + SERVICE_SWITCH_OVERLAP
    if d.now < until:
        d.update_state(switch_until=until)
        d.traffic = replace(d.traffic, service_revision=None)
        d.requeue_at(until)
    else:
        d.update_state(service_revision=desired, switch_until=None)


def canary_step(d: Draft) -> str | None:
    """The canary step in progress for people, counted from 1: `2/5` (None: no canary
    steps run). Past the last step (promoting) it stays at the last one."""
    strategy = d.spec.strategy
    canary = strategy.canary or (strategy.shadow.canary if strategy.shadow else None)
    index = d.current("current_step")
    if d.canary is None or d.state.stage is not RolloutStage.CANARY:
        return None
    if canary is None or not canary.steps or index is None:
        return None
    return f"{min(index + 1, len(canary.steps))}/{len(canary.steps)}"
