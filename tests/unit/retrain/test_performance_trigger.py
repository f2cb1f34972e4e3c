"""The RetrainPolicy performance trigger reads the DriftMonitor's performance verdict: the
value it judged (realised, or estimated with judgeEstimated) and `degraded`."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.retrainpolicy import TriggerKind, Triggers
from modelship.retrain.triggers import monitor_signals, performance_seen


@pytest.mark.parametrize(
    ("performance", "seen", "evidence"),
    [
        (None, None, ""),
        ({"metric": "f1", "samples": 3, "degraded": False, "reason": "only 3"}, None, ""),
        ({"metric": "f1", "value": 0.9, "degraded": False}, False, ""),
        ({"metric": "f1", "value": 0.4, "degraded": True}, True, "f1 0.4 out of range"),
        ({"metric": "accuracy", "value": 0.6, "basis": "estimated", "degraded": True}, True,
         "accuracy 0.6 out of range (estimated from scores)"),
    ],
)  # fmt: skip
def test_what_the_trigger_reads_of_the_monitors_performance(
    performance: dict[str, Any] | None, seen: bool | None, evidence: str
) -> None:
    assert performance_seen({"performance": performance} if performance else {}) == (seen, evidence)


def test_an_estimated_verdict_held_for_two_evaluations_asks_for_a_run() -> None:
    triggers = Triggers.model_validate({"performance": {"driftMonitorRef": "fraud-drift"}})
    previous: tuple[Any, ...] = ()
    for stamp in ("2026-01-01T00:00:00+00:00", "2026-01-01T00:05:00+00:00"):
        status = {
            "lastEvaluationTime": stamp,
            "performance": {
                "metric": "accuracy",
                "value": 0.6,
                "basis": "estimated",
                "degraded": True,
            },
        }
        signals = monitor_signals(triggers, {"fraud-drift": {"status": status}}, previous)
        previous = signals.signals
    (request,) = signals.requests
    assert request.kind is TriggerKind.PERFORMANCE
    assert request.evidence == "accuracy 0.6 out of range (estimated from scores)"
