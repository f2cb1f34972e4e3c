"""RetrainPolicy: retrain a model when it matters, and promote only what passes validation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from modelship.api.base import KubeModel, Rule
from modelship.api.common import Conditions
from modelship.api.types import (
    MODEL_URI_PATTERN,
    Cron,
    Duration,
    ObjectName,
    PreservedObject,
    cel_matches,
)

Text = Annotated[str, StringConstraints(max_length=1024)]

Thresholds = Annotated[dict[str, float], Field(max_length=32)]


class DriftTrigger(KubeModel):
    """Retrain when a DriftMonitor reports drift of at least `severity`."""

    drift_monitor_ref: ObjectName
    """The DriftMonitor (in this namespace)."""
    severity: Literal["warning", "critical"] = "critical"
    """The drift severity that triggers a run."""


class PerformanceTrigger(KubeModel):
    """Retrain when a DriftMonitor reports degraded performance."""

    drift_monitor_ref: ObjectName
    """The DriftMonitor (in this namespace) whose performance check is watched."""


class Triggers(KubeModel):
    """When to retrain. A manual run is always possible: annotate the policy with
    modelship.io/retrain (what `kubectl modelship retrain` does)."""

    drift: DriftTrigger | None = None
    """On drift."""
    performance: PerformanceTrigger | None = None
    """On degraded performance."""
    schedule: Cron | None = None
    """On a cron schedule, in UTC, e.g. "0 3 * * 0" (Sundays at 03:00)."""


class JobSpec(KubeModel):
    """The training Job. The operator injects MODELSHIP_MODEL_NAME, MODELSHIP_BASE_VERSION,
    MODELSHIP_NEW_VERSION, MODELSHIP_OUTPUT_URI and MODELSHIP_TRIGGER into every container; the
    Job reports its metrics and artifact as JSON in its termination message."""

    template: PreservedObject
    """A batch/v1 JobTemplateSpec ({metadata, spec})."""


OUTPUT_URI_PATTERN = MODEL_URI_PATTERN


class Output(KubeModel):
    """Where each run writes its model."""

    rules = (
        Rule(
            # A uri that fails its pattern is reported by it alone.
            cel=f"!{cel_matches('self.uri', OUTPUT_URI_PATTERN)}"
            " || self.uri.contains('{version}')",
            message="uri must contain {version}, so that each run writes to its own location",
            check=lambda o: "{version}" in o.uri,
        ),
    )

    uri: Annotated[str, StringConstraints(pattern=OUTPUT_URI_PATTERN, max_length=1024)]
    """The artifact location; {version} is replaced by the run's new version."""


class Validation(KubeModel):
    """What a trained model must achieve (from its reported metrics) to be promoted."""

    min_metrics: Thresholds | None = None
    """Metrics that must be at least these values, e.g. {accuracy: 0.91}."""
    max_metrics: Thresholds | None = None
    """Metrics that must be at most these values, e.g. {rmse: 3.5}."""


class Concurrency(StrEnum):
    FORBID = "Forbid"
    REPLACE = "Replace"


class Promotion(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    NONE = "none"


class RetrainPolicySpec(KubeModel):
    """When to retrain a ModelDeployment's model, how, and what to do with the result."""

    model_deployment_ref: ObjectName
    """The ModelDeployment (in this namespace) whose model is retrained."""
    triggers: Triggers = Field(default_factory=Triggers)
    """When to retrain."""
    cooldown: Duration = "6h"
    """Minimum time between two runs' starts (manual runs excepted)."""
    concurrency: Concurrency = Concurrency.FORBID
    """Forbid: skip a trigger while a run is active; Replace: stop the active run and start anew."""
    job: JobSpec
    """The training Job."""
    output: Output
    """Where runs write their model."""
    validation: Validation | None = None
    """What a run must achieve to be promoted."""
    promotion: Promotion = Promotion.MANUAL
    """auto: a validated run updates the ModelDeployment's model (the only spec the operator
    edits), starting a gated rollout; manual: wait for an approval annotation; none: record only."""
    history_limit: int = Field(default=10, ge=1, le=100)
    """Runs kept in status (and their Jobs)."""


class RetrainPolicyPhase(StrEnum):
    PENDING = "Pending"
    IDLE = "Idle"
    TRAINING = "Training"
    VALIDATING = "Validating"
    PROMOTING = "Promoting"
    COOLING_DOWN = "CoolingDown"
    FAILED = "Failed"


class TriggerKind(StrEnum):
    DRIFT = "drift"
    PERFORMANCE = "performance"
    SCHEDULE = "schedule"
    MANUAL = "manual"


class RunOutcome(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    REJECTED = "Rejected"
    CANCELLED = "Cancelled"


class RetrainRun(KubeModel):
    """One retraining run: the lineage record of a model version."""

    name: ObjectName
    """The run's name (also its Job's)."""
    trigger: TriggerKind
    """drift, performance, schedule or manual."""
    reason: Text = ""
    """Why it was triggered."""
    job_name: ObjectName | None = None
    """The Job."""
    base_version: Annotated[str, StringConstraints(max_length=63)] = ""
    """The model version it started from."""
    new_version: Annotated[str, StringConstraints(max_length=63)] = ""
    """The version it produced."""
    artifact_uri: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, alias="artifactURI"
    )
    """Where the model was written."""
    started_at: datetime
    """When the run started."""
    finished_at: datetime | None = None
    """When it finished."""
    outcome: RunOutcome = RunOutcome.RUNNING
    """Running, Succeeded (passed validation), Failed (the Job failed), Rejected (failed
    validation) or Cancelled."""
    metrics: dict[str, float] | None = Field(default=None, max_length=64)
    """Metrics the Job reported."""
    promoted: bool = False
    """Whether the new version was written to the ModelDeployment."""
    message: Text = ""
    """Details for people."""


class RetrainPolicyStatus(KubeModel):
    """The policy's runs and state. Written only by the operator."""

    phase: RetrainPolicyPhase = RetrainPolicyPhase.PENDING
    """Pending, Idle, Training, Validating, Promoting, CoolingDown or Failed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation this status reflects."""
    conditions: Conditions | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling and Stalled."""
    message: Text = ""
    """A summary for people."""
    active_run: ObjectName | None = None
    """The run in progress, if any."""
    last_run_time: datetime | None = None
    """When the last run started (the cooldown counts from here)."""
    next_schedule_time: datetime | None = None
    """When the schedule triggers next."""
    runs: list[RetrainRun] | None = Field(default=None, max_length=100)
    """Runs, newest first, bounded by historyLimit."""
