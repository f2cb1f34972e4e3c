"""What the rollout planner reads and what it decides: plain data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from modelship.analysis.types import GateResult, Verdict
from modelship.api.analysis import AnalysisGate
from modelship.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelship.api.rolloutstate import RolloutState
from modelship.planners.status import Transition as PlannedEvent

__all__ = ["GateResult", "PlannedEvent", "Verdict"]


@dataclass(frozen=True)
class RevisionObserved:
    """One revision's Deployment as the API server reports it."""

    revision: str
    replicas: int
    """spec.replicas"""
    ready: int = 0
    available: int = 0
    current: bool = True
    """The Deployment controller has observed the latest spec (observedGeneration)."""
    model_version: str = ""
    model_uri: str = ""
    image: str = ""
    created_at: datetime | None = None
    stuck: bool = False
    """The Deployment reports ProgressDeadlineExceeded: its pods did not become ready in time
    (a model that fails to load, an image that cannot be pulled, no room to schedule)."""
    profile: tuple[str, str] | None = None
    """(ConfigMap, key) of the reference profile its pods mount, if any."""


@dataclass(frozen=True)
class Control:
    """Requests from the control annotations, each already filtered to new values."""

    paused: bool = False
    promote: Literal["step", "full"] | None = None
    abort: bool = False
    retry: bool = False
    rollback_to: str | None = None
    notices: tuple[PlannedEvent, ...] = ()
    """Events about the annotations themselves (a deferred promote, a value not understood)."""


@dataclass(frozen=True)
class RolloutInput:
    spec: ModelDeploymentSpec
    status: ModelDeploymentStatus
    state: RolloutState
    spec_revision: str
    """The revision the spec describes (a hash of everything that shapes the pods)."""
    revisions: Mapping[str, RevisionObserved]
    """Every existing revision Deployment of this ModelDeployment, by revision."""
    now: datetime
    control: Control = Control()
    gates: Mapping[str, GateResult] = field(default_factory=dict)
    """Verdicts of the analysis gates requested by the previous plan, by gate key."""
    autoscaled_replicas: int | None = None
    """The HorizontalPodAutoscaler's current desired count, when autoscaling is set."""
    image: str = ""
    """The server image the spec's revision runs (the operator's default when unset)."""


@dataclass(frozen=True)
class Traffic:
    """Which revisions each Service and route reaches."""

    service_revision: str | None
    """The main Service's revision; None selects every revision's pods (the replicas router
    then splits traffic by pod count)."""
    stable_revision: str | None
    """The revision behind `<name>-stable` (the route's stable backend)."""
    canary_revision: str | None = None
    """The revision behind `<name>-canary` (canary, shadow) or the preview Service."""
    preview: bool = False
    """Blue-green: expose the canary revision through the preview Service."""
    canary_weight: int = 0
    """Route weight of the canary backend, 0-100 (gatewayAPI, istio)."""
    mirror_percent: int = 0
    """Share of requests copied to the canary backend, answers discarded (shadow)."""


@dataclass
class RolloutPlan:
    replicas: dict[str, int | None]
    """Desired replicas per revision; None leaves the count to the autoscaler. A revision
    missing here keeps its Deployment untouched; `spec_revision` is built from the spec."""
    delete: list[str]
    traffic: Traffic
    status: ModelDeploymentStatus
    state: RolloutState
    events: list[PlannedEvent] = field(default_factory=list)
    gates: dict[str, AnalysisGate] = field(default_factory=dict)
    """Analysis gates that should be measuring now, by gate key."""
    requeue_after: float | None = None
    """Seconds until the plan changes with no outside event (a pause ends, a delay passes)."""
