"""The rollout planner's bookkeeping, kept in a ModelDeployment's status between reconciles.

Everything the planner needs to resume after an operator restart lives here, so a restarted
operator picks up at the same step without creating anything twice. Beside it, two fields
for people (`stableVersion`, `step`), which the planner rewrites on every pass and which
`kubectl get` prints.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from modelship.api.base import KubeModel

Token = Annotated[str, StringConstraints(max_length=253)]
RevisionName = Annotated[str, StringConstraints(max_length=63)]


class RolloutStage(StrEnum):
    """Where the rollout of the canary revision stands."""

    ROLLING = "Rolling"
    SHADOW = "Shadow"
    CANARY = "Canary"
    PREVIEW = "Preview"
    """Blue-green: the new revision runs behind the preview Service."""
    SWITCHED = "Switched"
    """Blue-green: the stable Service points at the new revision; post-promotion analysis."""
    ROLLBACK = "Rollback"
    """Returning to a revision from history."""


class HandledControls(KubeModel):
    """The value of each control annotation the operator has already acted on.

    A control annotation acts once per new value (`kubectl annotate ... --overwrite` with a
    fresh value, e.g. a timestamp), so the operator never edits a user's metadata to consume it.
    """

    promote: Token | None = None
    promote_full: Token | None = None
    abort: Token | None = None
    retry: Token | None = None
    rollback_to: Token | None = None
    deferred_promote: Token | None = None
    """A promote that arrived while `modelship.io/paused` held the rollout: it acts once the
    pause lifts; remembered so its Event is posted once."""
    unrecognised: Token | None = None
    """A fingerprint of the control annotations last reported as not understood."""


class ScaleDown(KubeModel):
    """A revision kept up after it stopped serving, until `at` (blue-green scale-down delay)."""

    revision: RevisionName
    at: datetime


class RollbackTarget(KubeModel):
    """A rollback to a revision from history, in force while the spec still asks for
    `specRevision` (a new spec ends it)."""

    revision: RevisionName
    spec_revision: RevisionName


class OpenWindow(KubeModel):
    """A rollback window in force: `revision` was promoted at `openedAt`; until `until` the
    analysis measures it and `previous` keeps `previousReplicas` pods for a quick return."""

    revision: RevisionName
    previous: RevisionName
    opened_at: datetime
    until: datetime
    previous_replicas: int = Field(ge=0, le=1000)


class RolloutState(KubeModel):
    """Bookkeeping of the rollout in progress (operator-owned)."""

    stable_version: Annotated[str, StringConstraints(max_length=63)] | None = None
    """The model version the stable revision serves: the spec's version once it is rolled
    out, an older one while a rollout runs, after a rollback or a `rollback-to`
    (`kubectl get` prints it as VERSION)."""
    step: Annotated[str, StringConstraints(max_length=16)] | None = None
    """The canary step in progress as `step/steps`, counted from 1 (`2/5`; `5/5` once the
    last step is done and the canary is being promoted); absent when no canary steps run.
    `kubectl get` prints it as STEP; `currentStep` is the same step counted from 0."""

    stage: RolloutStage | None = None
    """The stage of the rollout in progress."""
    started_at: datetime | None = None
    """When the rollout of the canary revision started."""
    stage_started_at: datetime | None = None
    """When the current stage started (shadow duration, preview readiness)."""
    preview_ready_at: datetime | None = None
    """Blue-green: when the preview became fully available."""
    stable_short_since: datetime | None = None
    """When the stable revision, at its full size, was first seen short of available pods
    (cleared once it has them all): Degraded if that lasts (a scale-up whose pods never
    become ready gets no ProgressDeadlineExceeded from its Deployment)."""
    promoting: bool = False
    """A promotion was asked for and is under way (blue-green scaling the preview up)."""
    held_revision: RevisionName | None = None
    """A revision that is not rolled out again until the spec changes or a retry."""
    held_reason: Annotated[str, StringConstraints(max_length=1024)] = ""
    """Why the held revision stopped."""
    held_dropped: bool = False
    """The held revision finished a shadow-only evaluation (not a failure)."""
    scale_downs: list[ScaleDown] = Field(default_factory=list, max_length=20)
    """Revisions that stopped serving but keep their pods for a while."""
    rollback: RollbackTarget | None = None
    """A rollback to a revision from history, while it is in force."""
    window: OpenWindow | None = None
    """The rollback window after the last promotion, while it is open."""
    returned_from: RevisionName | None = None
    """After a rollback in the window (router replicas): the failed revision, whose pods the
    main Service must not reach; they are scaled down once it selects the previous revision
    alone."""
    service_revision: RevisionName | None = None
    """The revision the main Service selects (none: every revision's pods)."""
    switch_until: datetime | None = None
    """While the main Service moves to another revision it selects both until then, so its
    endpoints never pass through zero."""
    handled: HandledControls = Field(default_factory=HandledControls)
    """Control annotations already acted on."""
