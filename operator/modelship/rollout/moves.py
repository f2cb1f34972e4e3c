"""The moves strategies and the planner share: start a rollout, promote, abort, supersede,
retire a revision, the history entry each records, and what a strategy says it did.

Functions of the `Draft` they change, as `gating.py`'s are.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from modelship.api.modeldeployment import HistoryEntry, RolloutOutcome
from modelship.api.rolloutstate import OpenWindow, RolloutStage, ScaleDown
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.replicas import resolve_int_or_percent
from modelship.rollout.types import GateResult

# Traffic routed by a proxy or a revision selector keeps the old pods this long after they
# stop serving, while the proxy or the EndpointSlices catch up.
ROUTED_SCALE_DOWN_DELAY_SECONDS = 30


class StrategyOutcome(StrEnum):
    """What one pass of a strategy did with the new revision; the planner acts on it."""

    PROGRESSING = "Progressing"
    """Still rolling out: moving, paused, waiting for pods or a gate, or degraded."""
    PROMOTED = "Promoted"
    """It became stable: the rollout is over and the stable serves everything."""
    ROLLED_BACK = "RolledBack"
    """A failed analysis stopped it: all traffic is back on stable, the phase says why."""
    DROPPED = "Dropped"
    """Its shadow run finished and it was dropped as configured: stable serves everything."""


def record(
    d: Draft,
    revision: str,
    outcome: RolloutOutcome,
    reason: str,
    result: GateResult | None = None,
) -> None:
    """Add a history entry for the rollout of `revision`, newest first, bounded."""
    obs = d.observed(revision)
    from_spec = revision == d.inp.spec_revision
    model = d.spec.model
    entry = HistoryEntry(
        revision=revision,
        model_version=d.version_of(revision),
        model_uri=model.uri if from_spec else obs.model_uri,
        image=(d.spec.serving.image or d.inp.image) if from_spec else obs.image,
        started_at=d.state.started_at or d.now,
        finished_at=d.now,
        outcome=outcome,
        reason=reason[:1024],
        measurements=list(result.measurements) if result and result.measurements else None,
        run=d.inp.status.model.run
        if from_spec and d.inp.status.model
        else next((h.run for h in d.history if h.revision == revision), None),
    )
    limit = max(d.spec.rollback.revision_history_limit, 1)
    d.history = [entry, *d.history][:limit]


def wait_for_pods(d: Draft, revision: str | None, message: str) -> None:
    """Report waiting for a revision's pods; Degraded, with what to check, once its
    Deployment has given up on them (progress deadline exceeded)."""
    if revision is not None and d.observed(revision).stuck:
        d.set_phase(
            Phase.DEGRADED,
            f"{message}; the pods of revision {revision} did not become ready in time "
            "(ProgressDeadlineExceeded): check the model URI, the image and the pods' logs",
        )
    else:
        d.set_phase(Phase.PROGRESSING, message)


def clear_rollout(d: Draft) -> None:
    d.canary = None
    d.status.update(
        current_step=None, current_step_started_at=None, canary_weight=None, paused_at=None
    )
    d.update_state(
        stage=None,
        started_at=None,
        stage_started_at=None,
        preview_ready_at=None,
        promoting=False,
    )


def start(d: Draft, revision: str, stage: RolloutStage, reason: str) -> None:
    d.canary = revision
    d.status.update(
        current_step=0 if stage is RolloutStage.CANARY else None,
        current_step_started_at=d.now,
        canary_weight=0,
        paused_at=None,
    )
    d.update_state(
        stage=stage,
        started_at=d.now,
        stage_started_at=d.now,
        preview_ready_at=None,
        promoting=False,
    )
    d.event(
        "RolloutStarted",
        f"{reason}: {stage.value.lower()} of revision {revision} "
        f"(model version {d.version_of(revision)})",
        revision=revision,
    )


def schedule_scale_down(d: Draft, revision: str, delay: timedelta) -> None:
    rest = [s for s in d.state.scale_downs if s.revision != revision]
    d.update_state(scale_downs=[*rest, ScaleDown(revision=revision, at=d.now + delay)])


def window_replicas(d: Draft) -> int | None:
    """Pods the previous revision keeps during a rollback window (None: no window): the
    spec's count or share of the serving replicas, at least one, at most all."""
    window = d.spec.rollback.window
    if window is None:
        return None
    total = max(d.total, 1)
    return min(
        max(resolve_int_or_percent(window.previous_replicas, total, round_up=True), 1), total
    )


def open_window(d: Draft, revision: str, previous: str) -> bool:
    """After promoting `revision`, keep `previous` warm for the spec's rollback window;
    False when there is none (or the promotion was itself a return to an older revision)."""
    window, keep = d.spec.rollback.window, window_replicas(d)
    if window is None or keep is None or previous not in d.inp.revisions:
        return False
    until = d.now + d.duration(window.duration)
    d.update_state(
        window=OpenWindow(
            revision=revision, previous=previous, opened_at=d.now, until=until,
            previous_replicas=keep,
        )
    )  # fmt: skip
    d.replicas[previous] = keep
    d.requeue_at(until)
    d.event(
        "RollbackWindowOpened",
        f"revision {revision} is analysed until {until.isoformat(timespec='seconds')}; "
        f"revision {previous} keeps {keep} pods to return to",
    )
    return True


def promote(d: Draft, revision: str, reason: str, keep_old_for: timedelta = timedelta(0)) -> None:
    """`revision` becomes stable; the old stable stops serving (after `keep_old_for`), or
    stays warm through the rollback window."""
    old = d.stable
    returning = d.state.stage is RolloutStage.ROLLBACK
    record(d, revision, RolloutOutcome.PROMOTED, reason)
    d.stable = revision
    clear_rollout(d)
    if old and old != revision:
        if not returning and open_window(d, revision, old):
            pass
        elif keep_old_for > timedelta(0):
            schedule_scale_down(d, old, keep_old_for)
        else:
            d.replicas[old] = 0
    d.event(
        "Promoted",
        f"revision {revision} (model version {d.history[0].model_version}) is stable: {reason}",
        revision=revision,
    )


def abort(
    d: Draft,
    outcome: RolloutOutcome,
    reason: str,
    result: GateResult | None = None,
    dropped: bool = False,
) -> None:
    """All traffic back to stable, the canary scaled down, the revision held."""
    canary = d.canary
    if canary is None:
        return
    record(d, canary, outcome, reason, result)
    retire(d, canary)
    d.update_state(held_revision=canary, held_reason=reason, held_dropped=dropped)
    clear_rollout(d)
    if dropped:
        d.event("ShadowDropped", f"revision {canary}: {reason}")
    else:
        d.event(
            "RolledBack" if outcome is RolloutOutcome.ROLLED_BACK else "Aborted",
            f"revision {canary}: {reason}; all traffic back to stable {d.stable}",
            "Warning",
            revision=canary,
        )


def retire(d: Draft, revision: str) -> None:
    """`revision` stops serving. Behind a proxy or a revision selector its pods stay a
    while, as traffic moves away; with the replicas router they go as the stable's pods
    become ready (see finish.settle_others). Never all at once: that would be an outage."""
    if d.service_selects_revision:
        schedule_scale_down(d, revision, timedelta(seconds=ROUTED_SCALE_DOWN_DELAY_SECONDS))
    if d.stable:
        d.replicas[d.stable] = None if d.spec.serving.autoscaling else d.total


def supersede(d: Draft, reason: str) -> None:
    canary = d.canary
    if canary is None:
        return
    record(d, canary, RolloutOutcome.SUPERSEDED, reason)
    retire(d, canary)
    clear_rollout(d)
    d.event("Superseded", f"revision {canary}: {reason}")
