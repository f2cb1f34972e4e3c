"""Status planning: from what a reconcile pass concluded to the minimal status patch.

Pure functions of (current status, assessment, generation, time). The operator writes status
only when `plan_status` returns a non-empty patch, so an idle, converged object costs no API
writes, and a condition's `lastTransitionTime` moves only when its `status` really changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from modelship.api.common import ConditionStatus

# The CRDs' limits: status.message (1024) and a condition's message (metav1.Condition's 32768).
# The API server refuses a whole status write with a longer one, so the object would report
# nothing at all; a message built from what others said (the API server quoting a refused
# child) is cut to fit instead.
MAX_MESSAGE = 1024
MAX_CONDITION_MESSAGE = 32768
CUT = " [...]"


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (the API server's measure is no stricter)."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - len(CUT)].decode(errors="ignore") + CUT


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    PROGRESSING = "Progressing"
    DRIFTED = "Drifted"


@dataclass(frozen=True)
class DesiredCondition:
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Assessment:
    """What one reconcile pass concluded about an object, before it becomes status.

    `conditions` are the ones this pass owns; conditions of other types (set by other
    components, e.g. a drift evaluation's `Drifted`) are left as they are.
    """

    phase: str
    reason: str
    message: str
    conditions: tuple[DesiredCondition, ...]
    warning: bool = False
    """Whether the state calls for a person (its Event is a Warning)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further status fields this pass owns (e.g. a rollout's weights), written when changed."""


@dataclass(frozen=True)
class Transition:
    """A change a user cares about, recorded as a Kubernetes Event."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    revision: str | None = None
    """The revision the Event is about, where there is one (for notifications)."""
    version: str | None = None
    """The model version the Event is about, where there is one."""


@dataclass(frozen=True)
class StatusPlan:
    patch: dict[str, Any]
    """Status fields to write (a JSON merge patch of .status); empty: write nothing."""
    transitions: tuple[Transition, ...]
    """Events to record."""

    @property
    def changes(self) -> bool:
        return bool(self.patch)


def kube_time(moment: datetime) -> str:
    """RFC 3339 in UTC at second precision, as metav1.Time serialises."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(
    desired: DesiredCondition, previous: Mapping[str, Any] | None, generation: int, now: str
) -> dict[str, Any]:
    unchanged = previous is not None and previous.get("status") == desired.status.value
    since = previous.get("lastTransitionTime") if previous and unchanged else None
    return {
        "type": str(desired.type),
        "status": desired.status.value,
        "reason": str(desired.reason),
        "message": clip(desired.message, MAX_CONDITION_MESSAGE),
        "lastTransitionTime": since or now,
        "observedGeneration": generation,
    }


def plan_conditions(
    current: Sequence[Mapping[str, Any]],
    desired: Sequence[DesiredCondition],
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """The full conditions list: desired ones merged over the others, in a stable order."""
    stamp = kube_time(now)
    by_type = {str(c.get("type")): c for c in current}
    owned = {d.type for d in desired}
    merged = [_condition(d, by_type.get(d.type), generation, stamp) for d in desired]
    others = [dict(c) for c in current if c.get("type") not in owned]
    return merged + others


def _primary(conditions: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """What makes a transition: readiness and stalling, with their reasons."""
    wanted = {ConditionType.READY.value, ConditionType.STALLED.value}
    return tuple(
        sorted(
            (str(c.get("type")), c.get("status"), c.get("reason"))
            for c in conditions
            if c.get("type") in wanted
        )
    )


def merge_patch(current: Any, desired: Any) -> Any:
    """A JSON merge patch from `current` to `desired`: nested keys that disappeared become
    null (a merge patch otherwise keeps them); lists are replaced whole."""
    if not isinstance(current, Mapping) or not isinstance(desired, Mapping):
        return desired
    patch = {key: merge_patch(current.get(key), value) for key, value in desired.items()}
    patch.update({key: None for key in current if key not in desired})
    return patch


def plan_status(
    current: Mapping[str, Any] | None,
    assessment: Assessment,
    generation: int,
    now: datetime,
) -> StatusPlan:
    """The status patch (only what differs) and the Events for what changed."""
    current = current or {}
    old_conditions = list(current.get("conditions") or [])
    conditions = plan_conditions(old_conditions, assessment.conditions, generation, now)
    phase = str(assessment.phase)
    desired: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": generation,
        "message": clip(assessment.message),
        "conditions": conditions,
        **assessment.extra,
    }
    patch = {
        key: merge_patch(current.get(key), value)
        for key, value in desired.items()
        if current.get(key) != value
    }

    transitions: list[Transition] = []
    if current.get("phase") != phase or _primary(old_conditions) != _primary(conditions):
        transitions.append(
            Transition(
                "Warning" if assessment.warning else "Normal", assessment.reason, assessment.message
            )
        )
    return StatusPlan(patch=patch, transitions=tuple(transitions))


def ready(reason: str, message: str) -> tuple[DesiredCondition, ...]:
    """kstatus Current: Ready, neither reconciling nor stalled."""
    return (
        DesiredCondition(ConditionType.READY, ConditionStatus.TRUE, reason, message),
        DesiredCondition(ConditionType.RECONCILING, ConditionStatus.FALSE, reason, ""),
        DesiredCondition(ConditionType.STALLED, ConditionStatus.FALSE, reason, ""),
    )


def reconciling(reason: str, message: str) -> tuple[DesiredCondition, ...]:
    """kstatus InProgress: working towards the spec."""
    return (
        DesiredCondition(ConditionType.READY, ConditionStatus.FALSE, reason, message),
        DesiredCondition(ConditionType.RECONCILING, ConditionStatus.TRUE, reason, message),
        DesiredCondition(ConditionType.STALLED, ConditionStatus.FALSE, reason, ""),
    )


def stalled(reason: str, message: str) -> tuple[DesiredCondition, ...]:
    """kstatus Failed: no progress without a change from a person."""
    return (
        DesiredCondition(ConditionType.READY, ConditionStatus.FALSE, reason, message),
        DesiredCondition(ConditionType.RECONCILING, ConditionStatus.FALSE, reason, ""),
        DesiredCondition(ConditionType.STALLED, ConditionStatus.TRUE, reason, message),
    )
