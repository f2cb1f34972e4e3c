"""The planner's working copy: what a plan decides so far, and the moves shared by strategies.

Strategy modules (rolling, canary, bluegreen, shadow) read the input and change a `Draft`;
`Draft.finish()` turns it into an immutable `RolloutPlan`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from modelship.api.analysis import AnalysisGate
from modelship.api.modeldeployment import (
    HistoryEntry,
    ModelDeploymentPhase,
    RolloutOutcome,
)
from modelship.api.rolloutstate import RolloutStage, RolloutState, ScaleDown
from modelship.api.strategy import Router
from modelship.api.types import parse_duration
from modelship.rollout.types import (
    GateResult,
    PlannedEvent,
    RevisionObserved,
    RolloutInput,
    RolloutPlan,
    Traffic,
    Verdict,
)

Phase = ModelDeploymentPhase
SERVICE_SWITCH_OVERLAP = timedelta(seconds=2)
# Traffic routed by a proxy or a revision selector keeps the old pods this long after they
# stop serving, while the proxy or the EndpointSlices catch up.
ROUTED_SCALE_DOWN_DELAY_SECONDS = 30


class Draft:
    def __init__(self, inp: RolloutInput) -> None:
        self.inp = inp
        self.now = inp.now
        self.spec = inp.spec
        self.replicas: dict[str, int | None] = {}
        self.delete: list[str] = []
        self.events: list[PlannedEvent] = []
        self.gates: dict[str, AnalysisGate] = {}
        self.requeue: list[float] = []
        self.state: RolloutState = inp.state
        self.status: dict[str, Any] = {}
        self.traffic: Traffic = Traffic(service_revision=None, stable_revision=None)
        self.phase: Phase = inp.status.phase
        self.message: str = inp.status.message
        self.stable: str | None = inp.status.stable_revision
        self.canary: str | None = inp.status.canary_revision
        self.history: list[HistoryEntry] = list(inp.status.history or [])

    # --- reading ------------------------------------------------------------------------
    def observed(self, revision: str | None) -> RevisionObserved:
        """The revision's Deployment, or an empty one when it does not exist (yet)."""
        if revision is not None and revision in self.inp.revisions:
            return self.inp.revisions[revision]
        return RevisionObserved(revision=revision or "", replicas=0)

    @property
    def total(self) -> int:
        """Pods the serving revision should run: the spec's count or the autoscaler's."""
        autoscaling = self.spec.serving.autoscaling
        if autoscaling is None:
            return self.spec.serving.replicas
        current = self.inp.autoscaled_replicas
        if current is None or current < autoscaling.min_replicas:
            return autoscaling.min_replicas
        return min(current, autoscaling.max_replicas)

    @property
    def router(self) -> Router:
        strategy = self.spec.strategy
        routing = None
        if strategy.canary is not None:
            routing = strategy.canary.traffic
        elif strategy.shadow is not None:
            routing = strategy.shadow.traffic
        return routing.router if routing is not None else Router.REPLICAS

    @property
    def service_selects_revision(self) -> bool:
        """Whether the main Service selects one revision; otherwise it selects all serving
        pods and the replica ratio splits traffic."""
        kind = self.spec.strategy.kind
        return kind in ("blueGreen", "shadow") or self.router != Router.REPLICAS

    def current(self, name: str) -> Any:
        """A status field as this plan has it so far (decided here, else as observed)."""
        return self.status[name] if name in self.status else getattr(self.inp.status, name)

    def version_of(self, revision: str) -> str:
        """The model version a revision serves: the spec's for the spec's revision, else
        what its Deployment records."""
        if revision == self.inp.spec_revision:
            return self.spec.model.version
        return self.observed(revision).model_version or "unknown"

    def gate(self, key: str) -> GateResult:
        return self.inp.gates.get(key, GateResult(Verdict.RUNNING))

    # --- deciding -----------------------------------------------------------------------
    def event(
        self, reason: str, message: str, type_: Literal["Normal", "Warning"] = "Normal"
    ) -> None:
        self.events.append(PlannedEvent(type_, reason, message))

    def set_phase(self, phase: Phase, message: str) -> None:
        self.phase, self.message = phase, message

    def wait_for_pods(self, revision: str | None, message: str) -> None:
        """Report waiting for a revision's pods; Degraded, with what to check, once its
        Deployment has given up on them (progress deadline exceeded)."""
        if revision is not None and self.observed(revision).stuck:
            self.set_phase(
                Phase.DEGRADED,
                f"{message}; the pods of revision {revision} did not become ready in time "
                "(ProgressDeadlineExceeded): check the model URI, the image and the pods' logs",
            )
        else:
            self.set_phase(Phase.PROGRESSING, message)

    def requeue_at(self, when: datetime) -> None:
        self.requeue.append(max((when - self.now).total_seconds(), 0.5))

    def update_state(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    def request_gate(self, key: str, gate: AnalysisGate) -> None:
        self.gates[key] = gate

    def duration(self, text: str) -> timedelta:
        return parse_duration(text)

    # --- history ------------------------------------------------------------------------
    def record(
        self, revision: str, outcome: RolloutOutcome, reason: str, result: GateResult | None = None
    ) -> None:
        """Add a history entry for the rollout of `revision`, newest first, bounded."""
        obs = self.observed(revision)
        from_spec = revision == self.inp.spec_revision
        model = self.spec.model
        entry = HistoryEntry(
            revision=revision,
            model_version=self.version_of(revision),
            model_uri=model.uri if from_spec else obs.model_uri,
            image=(self.spec.serving.image or self.inp.image) if from_spec else obs.image,
            started_at=self.state.started_at or self.now,
            finished_at=self.now,
            outcome=outcome,
            reason=reason[:1024],
            measurements=list(result.measurements) if result and result.measurements else None,
            run=self.inp.status.model.run
            if from_spec and self.inp.status.model
            else next((h.run for h in self.history if h.revision == revision), None),
        )
        limit = max(self.spec.rollback.revision_history_limit, 1)
        self.history = [entry, *self.history][:limit]

    # --- common moves -------------------------------------------------------------------
    def clear_rollout(self) -> None:
        self.canary = None
        self.status.update(
            current_step=None, current_step_started_at=None, canary_weight=None, paused_at=None
        )
        self.update_state(
            stage=None,
            started_at=None,
            stage_started_at=None,
            preview_ready_at=None,
            promoting=False,
        )

    def start(self, revision: str, stage: RolloutStage, reason: str) -> None:
        self.canary = revision
        self.status.update(
            current_step=0 if stage is RolloutStage.CANARY else None,
            current_step_started_at=self.now,
            canary_weight=0,
            paused_at=None,
        )
        self.update_state(
            stage=stage,
            started_at=self.now,
            stage_started_at=self.now,
            preview_ready_at=None,
            promoting=False,
        )
        self.event(
            "RolloutStarted",
            f"{reason}: {stage.value.lower()} of revision {revision} "
            f"(model version {self.version_of(revision)})",
        )

    def schedule_scale_down(self, revision: str, delay: timedelta) -> None:
        rest = [s for s in self.state.scale_downs if s.revision != revision]
        self.update_state(scale_downs=[*rest, ScaleDown(revision=revision, at=self.now + delay)])

    def promote(self, revision: str, reason: str, keep_old_for: timedelta = timedelta(0)) -> None:
        """`revision` becomes stable; the old stable stops serving (after `keep_old_for`)."""
        old = self.stable
        self.record(revision, RolloutOutcome.PROMOTED, reason)
        self.stable = revision
        self.clear_rollout()
        if old and old != revision:
            if keep_old_for > timedelta(0):
                self.schedule_scale_down(old, keep_old_for)
            else:
                self.replicas[old] = 0
        self.event(
            "Promoted",
            f"revision {revision} (model version "
            f"{self.history[0].model_version}) is stable: {reason}",
        )

    def abort(
        self,
        outcome: RolloutOutcome,
        reason: str,
        result: GateResult | None = None,
        dropped: bool = False,
    ) -> None:
        """All traffic back to stable, the canary scaled down, the revision held."""
        canary = self.canary
        if canary is None:
            return
        self.record(canary, outcome, reason, result)
        self.retire(canary)
        self.update_state(held_revision=canary, held_reason=reason, held_dropped=dropped)
        self.clear_rollout()
        if dropped:
            self.event("ShadowDropped", f"revision {canary}: {reason}")
        else:
            self.event(
                "RolledBack" if outcome is RolloutOutcome.ROLLED_BACK else "Aborted",
                f"revision {canary}: {reason}; all traffic back to stable {self.stable}",
                "Warning",
            )

    def retire(self, revision: str) -> None:
        """`revision` stops serving. Behind a proxy or a revision selector its pods stay a
        while, as traffic moves away; with the replicas router they go as the stable's pods
        become ready (see settle_others). Never all at once: that would be an outage."""
        if self.service_selects_revision:
            self.schedule_scale_down(revision, timedelta(seconds=ROUTED_SCALE_DOWN_DELAY_SECONDS))
        if self.stable:
            self.replicas[self.stable] = None if self.spec.serving.autoscaling else self.total

    def supersede(self, reason: str) -> None:
        canary = self.canary
        if canary is None:
            return
        self.record(canary, RolloutOutcome.SUPERSEDED, reason)
        self.retire(canary)
        self.clear_rollout()
        self.event("Superseded", f"revision {canary}: {reason}")

    # --- finishing ----------------------------------------------------------------------
    def stable_traffic(self) -> Traffic:
        selects = self.service_selects_revision
        return Traffic(
            service_revision=self.stable if selects else None, stable_revision=self.stable
        )

    def settle_others(self) -> None:
        """Revisions that neither serve nor wait for their scale-down delay go to zero, and
        those beyond the history limit are deleted."""
        keep_up: dict[str, datetime] = {}
        pending = []
        for scale_down in self.state.scale_downs:
            if scale_down.revision in (self.stable, self.canary):
                continue
            if scale_down.at > self.now and scale_down.revision in self.inp.revisions:
                keep_up[scale_down.revision] = scale_down.at
                pending.append(scale_down)
                self.requeue_at(scale_down.at)
        if len(pending) != len(self.state.scale_downs):
            self.update_state(scale_downs=pending)
        rollback = self.state.rollback.revision if self.state.rollback else None
        idle = [
            obs
            for revision, obs in self.inp.revisions.items()
            if revision not in (self.stable, self.canary) and revision not in keep_up
        ]
        idle.sort(
            key=lambda o: o.created_at or datetime.min.replace(tzinfo=self.now.tzinfo), reverse=True
        )
        # With the replicas router the main Service selects every pod: a revision that stops
        # serving keeps pods until the serving revisions have enough ready ones to replace it.
        needed = 0
        if not self.service_selects_revision:
            ready = sum(self.observed(r).ready for r in (self.stable, self.canary) if r)
            needed = max(self.total - ready, 0)
        limit = self.spec.rollback.revision_history_limit
        for position, obs in enumerate(idle):
            keep = min(obs.replicas, needed)
            needed -= keep
            self.replicas.setdefault(obs.revision, keep)
            if position >= limit and obs.revision != rollback and not keep and not obs.replicas:
                self.replicas.pop(obs.revision, None)
                self.delete.append(obs.revision)

    def smooth_service_switch(self) -> None:
        """Move the main Service from one revision to another through a moment where it
        selects both: changing a selector in one step can leave its EndpointSlices empty
        for an instant, and a gap is a failed request."""
        desired = self.traffic.service_revision
        applied = self.state.service_revision
        if (
            desired is None
            or applied is None
            or desired == applied
            or self.observed(applied).ready == 0
        ):
            self.update_state(service_revision=desired, switch_until=None)
            return
        until = self.state.switch_until or self.now + SERVICE_SWITCH_OVERLAP
        if self.now < until:
            self.update_state(switch_until=until)
            self.traffic = replace(self.traffic, service_revision=None)
            self.requeue_at(until)
        else:
            self.update_state(service_revision=desired, switch_until=None)

    def canary_step(self) -> str | None:
        """The canary step in progress for people, counted from 1: `2/5` (None: no canary
        steps run). Past the last step (promoting) it stays at the last one."""
        strategy = self.spec.strategy
        canary = strategy.canary or (strategy.shadow.canary if strategy.shadow else None)
        index = self.current("current_step")
        if self.canary is None or self.state.stage is not RolloutStage.CANARY:
            return None
        if canary is None or not canary.steps or index is None:
            return None
        return f"{min(index + 1, len(canary.steps))}/{len(canary.steps)}"

    def finish(self) -> RolloutPlan:
        self.smooth_service_switch()
        self.settle_others()
        self.update_state(
            stable_version=self.version_of(self.stable) if self.stable else None,
            step=self.canary_step(),
        )
        observed = self.inp.revisions.values()
        status = self.inp.status.model_copy(
            update={
                **self.status,
                "phase": self.phase,
                "message": self.message[:1024],
                "stable_revision": self.stable,
                "canary_revision": self.canary,
                "history": self.history or None,
                "replicas": sum(o.replicas for o in observed),
                "ready_replicas": sum(o.ready for o in observed),
            }
        )
        return RolloutPlan(
            replicas=self.replicas,
            delete=self.delete,
            traffic=self.traffic,
            status=status,
            state=self.state,
            events=self.events,
            gates=self.gates,
            requeue_after=min(self.requeue) if self.requeue else None,
        )


def resolve_int_or_percent(value: int | str, total: int, round_up: bool) -> int:
    """`25%` of `total` (rounded up for surge, down for unavailable, as Deployments do)."""
    if isinstance(value, int):
        return value
    if value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)
