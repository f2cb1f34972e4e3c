"""plan_status: the minimal patch, stable transition times, and Events only on transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.api.common import ConditionStatus
from modelship.planners.status import (
    MAX_CONDITION_MESSAGE,
    MAX_MESSAGE,
    Assessment,
    DesiredCondition,
    plan_conditions,
    plan_status,
    ready,
    reconciling,
    stalled,
)

T0 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=7)
READY = Assessment("Healthy", "Reconciled", "fine", ready("Reconciled", "fine"))
STALLED = Assessment("Failed", "InvalidSpec", "bad", stalled("InvalidSpec", "bad"), warning=True)
PROGRESSING = Assessment("Progressing", "Rolling", "step 1", reconciling("Rolling", "step 1"))


def applied(status: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any]:
    """What the API server stores after a JSON merge patch of .status."""
    return {**(status or {}), **patch}


def by_type(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_first_pass_writes_everything_and_records_one_event() -> None:
    plan = plan_status(None, READY, generation=1, now=T0)
    assert plan.patch["phase"] == "Healthy"
    assert plan.patch["observedGeneration"] == 1
    conditions = by_type(plan.patch)
    assert {t: c["status"] for t, c in conditions.items()} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert all(c["lastTransitionTime"] == "2026-11-24T05:00:00Z" for c in conditions.values())
    assert all(c["observedGeneration"] == 1 for c in conditions.values())
    assert [(t.type, t.reason) for t in plan.transitions] == [("Normal", "Reconciled")]


@pytest.mark.parametrize("assessment", [READY, STALLED, PROGRESSING], ids=lambda a: a.phase)
def test_converged_object_needs_no_write_and_no_event(assessment: Assessment) -> None:
    status = applied(None, plan_status(None, assessment, 3, T0).patch)
    again = plan_status(status, assessment, 3, T1)
    assert again.patch == {}
    assert again.transitions == ()
    assert not again.changes


# (before, after, fields written, event type or None)
TRANSITIONS = [
    (READY, STALLED, {"phase", "message", "conditions"}, "Warning"),
    (STALLED, READY, {"phase", "message", "conditions"}, "Normal"),
    (READY, PROGRESSING, {"phase", "message", "conditions"}, "Normal"),
    (PROGRESSING, READY, {"phase", "message", "conditions"}, "Normal"),
    (READY, Assessment("Healthy", "Reconciled", "other words", ready("Reconciled", "other words")),
     {"message", "conditions"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after", "fields", "event"), TRANSITIONS)
def test_transition(
    before: Assessment, after: Assessment, fields: set[str], event: str | None
) -> None:
    status = applied(None, plan_status(None, before, 1, T0).patch)
    plan = plan_status(status, after, 1, T1)
    assert set(plan.patch) == fields
    assert [t.type for t in plan.transitions] == ([event] if event else [])


def test_last_transition_time_moves_only_when_status_changes() -> None:
    status = applied(None, plan_status(None, READY, 1, T0).patch)
    reworded = Assessment("Healthy", "Reconciled", "new", ready("Reconciled", "new"))
    status = applied(status, plan_status(status, reworded, 1, T1).patch)
    assert by_type(status)["Ready"]["lastTransitionTime"] == "2026-11-24T05:00:00Z"
    assert by_type(status)["Ready"]["message"] == "new"
    status = applied(status, plan_status(status, STALLED, 1, T1).patch)
    assert by_type(status)["Ready"]["lastTransitionTime"] == "2026-11-24T05:07:00Z"
    assert by_type(status)["Stalled"]["lastTransitionTime"] == "2026-11-24T05:07:00Z"


def test_new_generation_is_observed_without_a_transition() -> None:
    status = applied(None, plan_status(None, READY, 1, T0).patch)
    plan = plan_status(status, READY, 2, T1)
    assert set(plan.patch) == {"observedGeneration", "conditions"}
    assert plan.patch["observedGeneration"] == 2
    assert all(c["observedGeneration"] == 2 for c in plan.patch["conditions"])
    assert all(c["lastTransitionTime"] == "2026-11-24T05:00:00Z" for c in plan.patch["conditions"])
    assert plan.transitions == ()


def test_conditions_owned_by_others_are_kept() -> None:
    drifted = {
        "type": "Drifted",
        "status": "True",
        "reason": "FeatureDrift",
        "message": "age",
        "lastTransitionTime": "2026-11-20T00:00:00Z",
        "observedGeneration": 1,
    }
    status = {**applied(None, plan_status(None, READY, 1, T0).patch)}
    status["conditions"] = [*status["conditions"], drifted]
    assert plan_status(status, READY, 1, T1).patch == {}
    merged = plan_conditions(status["conditions"], stalled("X", "y"), 1, T1)
    assert merged[-1] == drifted


def test_extra_fields_are_written_when_they_change() -> None:
    rollout = Assessment(
        "Progressing",
        "Step",
        "m",
        reconciling("Step", "m"),
        extra={"canaryWeight": 10, "currentStep": 0},
    )
    status = applied(None, plan_status(None, rollout, 1, T0).patch)
    assert status["canaryWeight"] == 10
    moved = Assessment(
        "Progressing",
        "Step",
        "m",
        reconciling("Step", "m"),
        extra={"canaryWeight": 50, "currentStep": 1},
    )
    assert set(plan_status(status, moved, 1, T1).patch) == {"canaryWeight", "currentStep"}


def test_unknown_status_is_written() -> None:
    unknown = Assessment(
        "Pending", "Waiting", "w", (DesiredCondition("Ready", ConditionStatus.UNKNOWN, "Waiting"),)
    )
    plan = plan_status(None, unknown, 1, T0)
    assert by_type(plan.patch)["Ready"]["status"] == "Unknown"


def test_a_message_past_the_crd_limit_is_cut_to_fit_not_refused_whole() -> None:
    # e.g. the API server's refusal of a child, quoting every invalid field
    long = "Deployment is invalid: " + "requests[µÁ]: must be a standard resource, " * 100
    plan = plan_status(None, Assessment("Failed", "Refused", long, stalled("Refused", long)), 1, T0)
    assert len(plan.patch["message"].encode()) <= MAX_MESSAGE
    assert plan.patch["message"].startswith("Deployment is invalid: requests[µÁ]")
    assert plan.patch["message"].endswith(" [...]")
    assert by_type(plan.patch)["Stalled"]["message"] == long  # under a condition's 32768
    huge = "x" * 40_000
    cut = plan_status(None, Assessment("Failed", "R", "m", stalled("R", huge)), 1, T0)
    assert len(by_type(cut.patch)["Stalled"]["message"]) <= MAX_CONDITION_MESSAGE
    assert plan_status(None, READY, 1, T0).patch["message"] == "fine"
