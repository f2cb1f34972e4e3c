"""Notifications: where the operator sends word of rollouts, drift and retraining.

A receiver is a generic JSON webhook or a Slack-compatible incoming webhook. Its URL is a
credential (a Slack webhook URL lets anyone post), so a resource names it through a Secret,
never in its spec; the operator-wide receivers read theirs from a file (a mounted Secret).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from modelship.api.base import KubeModel, Rule, unique
from modelship.api.common import SecretKey
from modelship.api.types import LabelName, ObjectName


class NotificationEvent(StrEnum):
    """The stable names of what a receiver hears about (the `event` of the payload)."""

    ROLLOUT_STARTED = "rollout.started"
    ROLLOUT_PAUSED = "rollout.paused"
    ROLLOUT_PROMOTED = "rollout.promoted"
    ROLLOUT_ROLLED_BACK = "rollout.rolledBack"
    ROLLOUT_ABORTED = "rollout.aborted"
    DRIFT_RAISED = "drift.raised"
    DRIFT_CLEARED = "drift.cleared"
    RETRAIN_STARTED = "retrain.started"
    RETRAIN_REJECTED = "retrain.rejected"
    RETRAIN_FAILED = "retrain.failed"
    RETRAIN_AWAITING_APPROVAL = "retrain.awaitingApproval"
    RETRAIN_PROMOTED = "retrain.promoted"
    RETRAIN_ROLLED_BACK = "retrain.rolledBack"

    @property
    def family(self) -> str:
        """`rollout`, `drift` or `retrain`: the kind of resource the event comes from."""
        return self.value.split(".", 1)[0]


class ReceiverType(StrEnum):
    WEBHOOK = "webhook"
    """A JSON body with the event's fields (docs/operating.md#notifications)."""
    SLACK = "slack"
    """A Slack incoming-webhook body (`text` and `blocks`); Mattermost and others accept it."""


class UrlSecretKeyRef(KubeModel):
    """A key of a Secret in the resource's own namespace, holding the receiver's URL."""

    name: ObjectName
    """The Secret's name."""
    key: SecretKey = "url"
    """The key within the Secret."""


class UrlSource(KubeModel):
    """Where the receiver's URL comes from."""

    secret_key_ref: UrlSecretKeyRef
    """A key of a Secret in the resource's namespace (the operator reads it by name)."""


Events = Annotated[
    list[NotificationEvent],
    Field(max_length=20, json_schema_extra={"x-kubernetes-list-type": "set"}),
]


class Notification(KubeModel):
    """One receiver of this resource's notifications."""

    name: LabelName
    """The receiver's name (in logs, Events and the metric's `receiver` label)."""
    type: ReceiverType = ReceiverType.WEBHOOK
    """`webhook` (generic JSON) or `slack`."""
    url_from: UrlSource
    """The receiver's URL, from a Secret: it is a credential."""
    events: Events | None = None
    """The events to send (e.g. `rollout.promoted`); default: every event of this kind.
    (Not `on`: YAML 1.1, which kubectl and PyYAML read, takes an unquoted `on` for `true`.)"""


class OperatorReceiver(KubeModel):
    """An operator-wide receiver, from the file `--notifications-config` names: it hears about
    every resource the operator watches (or those of `namespaces`)."""

    name: LabelName
    """The receiver's name."""
    type: ReceiverType = ReceiverType.WEBHOOK
    """`webhook` or `slack`."""
    url_file: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    """A file holding the URL (a mounted Secret), read at each delivery, so rotating the
    Secret needs no restart."""
    events: Events | None = None
    """The events to send; default: every event."""
    namespaces: list[LabelName] | None = Field(default=None, max_length=200)
    """Only resources in these namespaces; default: all."""


class NotificationsConfig(KubeModel):
    """The file `--notifications-config` names (YAML or JSON)."""

    receivers: list[OperatorReceiver] = Field(default_factory=list, max_length=50)
    """Operator-wide receivers."""
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    """Per-request timeout."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per notification and receiver (the first included)."""
    backoff_seconds: float = Field(default=1.0, gt=0, le=60)
    """The delay before the first retry; it doubles per attempt..."""
    max_backoff_seconds: float = Field(default=60.0, gt=0, le=3600)
    """... up to this cap."""
    queue_size: int = Field(default=1000, ge=1, le=100_000)
    """Notifications waiting (or waiting to retry) at most; when full, the oldest is dropped."""
    senders: int = Field(default=4, ge=1, le=32)
    """Threads sending in parallel, so a slow receiver does not delay the others."""

    @field_validator("receivers")
    @classmethod
    def _unique_names(cls, receivers: list[OperatorReceiver]) -> list[OperatorReceiver]:
        names = [r.name for r in receivers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:  # a name is a receiver's queue, metric label and (in the chart) volume
            raise ValueError(f"receiver names must be unique: {', '.join(repeated)}")
        return receivers


def notifications_rules(family: str, kind: str) -> tuple[Rule, ...]:
    """The rules of a kind's `spec.notifications`: unique names, and only events that kind
    raises (an event it never raises would be a filter that never matches)."""
    prefix = f"{family}."
    return (
        Rule(
            cel=None,
            message="notifications names must be unique",
            check=lambda s: unique(n.name for n in s.notifications or []),
        ),
        Rule(
            cel=f"!has(self.notifications) || self.notifications.all(n, !has(n.events) || "
            f"n.events.all(e, e.startsWith('{prefix}')))",
            message=f"a {kind}'s notifications.events lists {family}.* events only",
            check=lambda s: all(
                e.family == family for n in s.notifications or [] for e in n.events or []
            ),
        ),
    )


NotificationList = Annotated[
    list[Notification],
    Field(
        max_length=8,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    ),
]
