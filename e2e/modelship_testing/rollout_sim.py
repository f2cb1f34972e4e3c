"""A pure stand-in for the cluster, to walk the rollout planner through whole rollouts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from modelship.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelship.api.rolloutstate import RolloutState
from modelship.rollout.controls import read_controls
from modelship.rollout.planner import plan_rollout
from modelship.rollout.replicas import initial_replicas
from modelship.rollout.revision import revision_of
from modelship.rollout.types import (
    Control,
    GateResult,
    PlannedEvent,
    RevisionObserved,
    RolloutInput,
    RolloutPlan,
)

IMAGE = "modelship/server:test"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def spec(version: str = "1", replicas: int = 4, **fields: Any) -> ModelDeploymentSpec:
    body: dict[str, Any] = {
        "model": {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/"},
        "serving": {"replicas": replicas},
    }
    body.update(fields)
    return ModelDeploymentSpec.model_validate(body)


class Cluster:
    """Deployments whose pods become ready at once unless told otherwise."""

    def __init__(self, md: ModelDeploymentSpec) -> None:
        self.spec = md
        self.status = ModelDeploymentStatus()
        self.state = RolloutState()
        self.revisions: dict[str, RevisionObserved] = {}
        self.now = T0
        self.gates: dict[str, GateResult] = {}
        self.control = Control()
        self.annotations: dict[str, str] | None = None
        """When set, controls come from these annotations, as the operator reads them."""
        self.events: list[PlannedEvent] = []
        """Every event planned so far."""
        self.pods_become_ready = True
        self.autoscaled: int | None = None
        self.created: int = 0
        self.last: RolloutPlan | None = None

    @property
    def spec_revision(self) -> str:
        return revision_of(self.spec, IMAGE)

    def plan(self) -> RolloutPlan:
        control, state = self.control, self.state
        if self.annotations is not None:
            control, handled = read_controls(self.annotations, state.handled)
            state = state.model_copy(update={"handled": handled})
        return plan_rollout(
            RolloutInput(
                spec=self.spec,
                status=self.status,
                state=state,
                spec_revision=self.spec_revision,
                revisions=dict(self.revisions),
                now=self.now,
                control=control,
                gates=dict(self.gates),
                autoscaled_replicas=self.autoscaled,
            )
        )

    def apply(self, plan: RolloutPlan) -> None:
        for revision, replicas in plan.replicas.items():
            obs = self.revisions.get(revision)
            if obs is None:
                assert revision == self.spec_revision, f"no template for revision {revision}"
                self.created += 1
                autoscaling = self.spec.serving.autoscaling
                obs = RevisionObserved(
                    revision=revision,
                    # The reconciler's own decision, so the walk-throughs model production.
                    replicas=initial_replicas(
                        replicas, autoscaling.min_replicas if autoscaling else None
                    ),
                    model_version=self.spec.model.version,
                    model_uri=self.spec.model.uri,
                    created_at=self.now,
                )
            count = obs.replicas if replicas is None else replicas
            if replicas is None and self.autoscaled is not None:
                count = self.autoscaled  # what the autoscaler does with a count left to it
            obs = replace(obs, replicas=count)
            self.revisions[revision] = obs
        for revision in plan.delete:
            del self.revisions[revision]
        self.status, self.state = plan.status, plan.state
        self.events.extend(plan.events)
        self.control = Control(paused=self.control.paused)
        self.last = plan

    def settle_pods(self) -> None:
        """The Deployment controller and kubelets catch up."""
        for revision, obs in self.revisions.items():
            ready = obs.replicas if self.pods_become_ready else min(obs.ready, obs.replicas)
            self.revisions[revision] = replace(obs, ready=ready, available=ready)

    def step(self) -> RolloutPlan:
        plan = self.plan()
        self.apply(plan)
        self.settle_pods()
        return plan

    def converge(self, limit: int = 30) -> RolloutPlan:
        """Reconcile until a plan changes nothing."""
        for _ in range(limit):
            before = (self.status, self.state, dict(self.revisions))
            plan = self.step()
            if (self.status, self.state, self.revisions) == before:
                return plan
        raise AssertionError(f"no convergence after {limit} reconciles: {self.status}")

    def replicas(self) -> dict[str, int]:
        return {r: o.replicas for r, o in self.revisions.items()}

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
