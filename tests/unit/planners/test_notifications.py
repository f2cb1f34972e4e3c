"""Which Events make notifications, what their bodies say, and when delivery retries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from modelship.api.notifications import NotificationEvent as E
from modelship.api.notifications import ReceiverType
from modelship.planners.notifications import (
    BY_REASON,
    backoff_seconds,
    body_for,
    classify,
    describe_status,
    next_step,
    notice,
    notification_event,
    url_problem,
    wanted,
)
from modelship.planners.status import Transition

NOW = datetime(2026, 12, 4, 12, 30, 5, tzinfo=UTC)


def _status(drifted: str | None) -> dict[str, Any]:
    if drifted is None:
        return {}
    status, _, after = drifted.partition("-after-")
    kept = {
        "drift": {"datasetDrift": {"drifted": True}},
        "prediction-drift": {"datasetDrift": {"drifted": False},
                             "prediction": {"severity": "critical"}},
    }.get(after, {})  # fmt: skip
    return {"conditions": [{"type": "Ready", "status": "True"},
                           {"type": "Drifted", "status": status}], **kept}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "reason", "drifted_before", "expected"),
    [
        ("ModelDeployment", "RolloutStarted", None, E.ROLLOUT_STARTED),
        ("ModelDeployment", "Paused", None, E.ROLLOUT_PAUSED),
        ("ModelDeployment", "Promoted", None, E.ROLLOUT_PROMOTED),
        ("ModelDeployment", "RolledBack", None, E.ROLLOUT_ROLLED_BACK),
        ("ModelDeployment", "RolledBackAfterPromotion", None, E.ROLLOUT_ROLLED_BACK),
        ("ModelDeployment", "Aborted", None, E.ROLLOUT_ABORTED),
        ("ModelDeployment", "StepCompleted", None, None),
        ("ModelDeployment", "Healthy", None, None),
        ("ModelDeployment", "RunStarted", None, None),  # a reason of another kind
        ("RetrainPolicy", "RunStarted", None, E.RETRAIN_STARTED),
        ("RetrainPolicy", "RunRejected", None, E.RETRAIN_REJECTED),
        ("RetrainPolicy", "RunFailed", None, E.RETRAIN_FAILED),
        ("RetrainPolicy", "RunAwaitingApproval", None, E.RETRAIN_AWAITING_APPROVAL),
        ("RetrainPolicy", "RunPromoted", None, E.RETRAIN_PROMOTED),
        ("RetrainPolicy", "RunRolledBack", None, E.RETRAIN_ROLLED_BACK),
        ("RetrainPolicy", "TriggerSuppressed", None, None),
        # drift: news only when the verdict changes
        ("DriftMonitor", "DatasetDrift", "False", E.DRIFT_RAISED),
        ("DriftMonitor", "PredictionDrift", "Unknown", E.DRIFT_RAISED),
        ("DriftMonitor", "DatasetDrift", None, E.DRIFT_RAISED),
        ("DriftMonitor", "DatasetDrift", "True", None),
        ("DriftMonitor", "NoDrift", "True", E.DRIFT_CLEARED),
        ("DriftMonitor", "NoDrift", "False", None),
        ("DriftMonitor", "NoDrift", None, None),  # the first evaluation: nothing cleared
        ("DriftMonitor", "NotEnoughSamples", "True", None),  # Unknown is not news
        # Unknown before: the last measurements say what the verdict was
        ("DriftMonitor", "NoDrift", "Unknown-after-drift", E.DRIFT_CLEARED),
        ("DriftMonitor", "DatasetDrift", "Unknown-after-drift", None),
        ("DriftMonitor", "NoDrift", "Unknown-after-prediction-drift", E.DRIFT_CLEARED),
        ("DriftMonitor", "FeatureDrift", "False", None),
        ("DriftMonitor", "Promoted", None, None),
    ],
)
def test_which_events_notify(
    kind: str, reason: str, drifted_before: str | None, expected: E | None
) -> None:
    event = Transition("Normal", reason, "m")
    assert notification_event(kind, event, _status(drifted_before)) == expected


def test_every_mapped_event_belongs_to_its_kinds_family() -> None:
    family = {"ModelDeployment": "rollout", "RetrainPolicy": "retrain"}
    for (kind, _), event in BY_REASON.items():
        assert event.family == family[kind]
    assert {e.family for e in E} == {"rollout", "drift", "retrain"}


OBJ = {"kind": "ModelDeployment", "metadata": {"name": "fraud", "namespace": "ml", "uid": "u1"}}
PROMOTED = Transition(
    "Normal", "Promoted", "revision 4c38 (model version 8) is stable: all steps done", "4c38", "8"
)


def test_webhook_body_carries_every_field() -> None:
    n = notice("ModelDeployment", OBJ, PROMOTED, {}, NOW)
    assert n is not None
    assert body_for(ReceiverType.WEBHOOK, n) == {
        "event": "rollout.promoted",
        "kind": "ModelDeployment",
        "namespace": "ml",
        "name": "fraud",
        "reason": "Promoted",
        "message": "revision 4c38 (model version 8) is stable: all steps done",
        "severity": "Normal",
        "revision": "4c38",
        "version": "8",
        "time": "2026-12-04T12:30:05Z",
    }


def test_webhook_body_says_null_where_nothing_is_known() -> None:
    obj = {"kind": "RetrainPolicy", "metadata": {"name": "r", "namespace": "ml"}}
    n = notice("RetrainPolicy", obj, Transition("Warning", "RunRejected", "run r-1: no"), {}, NOW)
    assert n is not None
    body = body_for(ReceiverType.WEBHOOK, n)
    assert (body["event"], body["severity"], body["revision"], body["version"]) == (
        "retrain.rejected", "Warning", None, None)  # fmt: skip


def test_slack_body_has_text_and_blocks_and_escapes_the_message() -> None:
    event = Transition("Warning", "RolledBack", "error-rate 0.3 > 0.01 <canary> & more", "9f", "3")
    n = notice("ModelDeployment", OBJ, event, {}, NOW)
    assert n is not None
    body = body_for(ReceiverType.SLACK, n)
    assert body["text"] == (
        ":rewind: *ModelDeployment ml/fraud*: rollout.rolledBack (RolledBack)\n"
        "error-rate 0.3 &gt; 0.01 &lt;canary&gt; &amp; more"
    )
    assert [b["type"] for b in body["blocks"]] == ["section", "section", "context"]
    context = body["blocks"][2]["elements"][0]["text"]
    assert context == "revision `9f` · version `3` · 2026-12-04 12:30:05 UTC"


def test_slack_message_is_cut_below_slacks_section_limit() -> None:
    n = notice("ModelDeployment", OBJ, Transition("Normal", "Paused", "x" * 5000), {}, NOW)
    assert n is not None
    assert len(body_for(ReceiverType.SLACK, n)["blocks"][1]["text"]["text"]) <= 3000


@pytest.mark.parametrize(
    ("events", "event", "expected"),
    [
        (None, E.ROLLOUT_PAUSED, True),
        ([E.ROLLOUT_PROMOTED], E.ROLLOUT_PAUSED, False),
        ([E.ROLLOUT_PROMOTED, E.ROLLOUT_PAUSED], E.ROLLOUT_PAUSED, True),
        ([], E.ROLLOUT_PAUSED, False),
    ],
)
def test_events_filter(events: list[E] | None, event: E, expected: bool) -> None:
    assert wanted(events, event) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "sent"), (204, "sent"), (None, "retry"), (408, "retry"), (425, "retry"),
        (429, "retry"), (500, "retry"), (503, "retry"), (301, "failed"), (400, "failed"),
        (401, "failed"), (403, "failed"), (404, "failed"), (410, "failed"),
    ],
)  # fmt: skip
def test_classify(status: int | None, expected: str) -> None:
    assert classify(status) == expected


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 30.0), (50, 30.0)]
)
def test_backoff_doubles_up_to_its_cap(attempt: int, expected: float) -> None:
    assert backoff_seconds(attempt, base=1.0, cap=30.0) == expected


@pytest.mark.parametrize(
    ("attempt", "status", "outcome", "delay"),
    [
        (1, 200, "sent", 0.0),
        (1, 503, "retry", 0.5),
        (2, None, "retry", 1.0),
        (4, None, "retry", 4.0),
        (5, None, "failed", 0.0),  # max attempts used
        (1, 404, "failed", 0.0),  # permanent: no retry
    ],
)
def test_next_step(attempt: int, status: int | None, outcome: str, delay: float) -> None:
    step = next_step(attempt, status, max_attempts=5, base=0.5, cap=10.0)
    assert (step.outcome, step.delay) == (outcome, delay)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", None),
        ("http://127.0.0.1:8080/hook", None),
        ("  https://example.com/hook\n", None),
        ("", "the URL is empty"),
        ("ftp://example.com/x", "the URL is not an http:// or https:// URL"),
        ("hooks.slack.com/services/T0", "the URL is not an http:// or https:// URL"),
        ("http:///path", "the URL names no host"),
        ("http://127.0.0.1:9/services/T0/SECRET x", "the URL holds a space or a control character"),
        ("http://127.0.0.1:9/a\x00b", "the URL holds a space or a control character"),
    ],
)
def test_url_problems_never_quote_the_url(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert found == problem
    if found is not None and url.strip():
        assert url.strip() not in found


def test_describe_status() -> None:
    assert describe_status(500, None) == "HTTP 500"
    assert describe_status(None, "no answer: timed out") == "no answer: timed out"
    assert describe_status(None, None) == "no answer"
