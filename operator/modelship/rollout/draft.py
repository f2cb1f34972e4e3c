"""The planner's working copy: what a plan decides so far, and how to read it.

`planner.plan_rollout` builds a `Draft` from the input; the strategy modules (rolling,
canary, bluegreen, shadow) change it through the shared moves (`moves.py`, `gating.py`) and
say what happened (`moves.StrategyOutcome`); `finish.finish_plan` turns it into an immutable
`RolloutPlan`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from modelship.api.analysis import AnalysisGate
from modelship.api.modeldeployment import HistoryEntry, ModelDeploymentPhase
from modelship.api.rolloutstate import RolloutState
from modelship.api.strategy import Router
from modelship.api.types import parse_duration
from modelship.rollout.types import (
    GateResult,
    PlannedEvent,
    RevisionObserved,
    RolloutInput,
    Traffic,
    Verdict,
)

Phase = ModelDeploymentPhase


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
        routing = self.spec.strategy.traffic
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

    def stable_traffic(self) -> Traffic:
        """The routes when the stable revision serves everything."""
        selects = self.service_selects_revision
        return Traffic(
            service_revision=self.stable if selects else None, stable_revision=self.stable
        )

    def duration(self, text: str) -> timedelta:
        return parse_duration(text)

    # --- writing: the plain setters every move uses ----------------------------------------
    def event(
        self,
        reason: str,
        message: str,
        type_: Literal["Normal", "Warning"] = "Normal",
        revision: str | None = None,
    ) -> None:
        """Record an Event; `revision` names the revision it is about (and its version)."""
        version = self.version_of(revision) if revision else None
        self.events.append(PlannedEvent(type_, reason, message, revision, version))

    def set_phase(self, phase: Phase, message: str) -> None:
        self.phase, self.message = phase, message

    def requeue_at(self, when: datetime) -> None:
        self.requeue.append(max((when - self.now).total_seconds(), 0.5))

    def update_state(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    def request_gate(self, key: str, gate: AnalysisGate) -> None:
        self.gates[key] = gate
