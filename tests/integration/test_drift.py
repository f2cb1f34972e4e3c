"""DriftMonitors evaluate live traffic: the real operator, the local cluster, a real Prometheus
scraping a real reference-server process standing in for the stable revision's pods, and a
traffic generator that sends in-distribution, then drifted, requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import FEATURES, TrainedModel
from modelship_testing.stands import INTERVAL_SECONDS, MONITOR, SHIFT, DriftStand, stand_for
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.usefixtures("crds")]


@pytest.fixture
def private_stand(k8s_api: client.ApiClient, namespace: str, model: TrainedModel,
                  private_prometheus: PrometheusHandle) -> Iterator[DriftStand]:  # fmt: skip
    yield from stand_for(k8s_api, namespace, model, private_prometheus)


def test_in_distribution_traffic_then_two_shifted_features(
    stand: DriftStand, operator: OperatorFactory
) -> None:
    stand.start(operator)

    def verdicts() -> list[str]:
        stand.status()
        return [
            next(c["status"] for c in status["conditions"] if c["type"] == "Drifted")
            for status in stand.seen.values()
        ]

    # The first evaluation may find fewer than minSamples predictions (Unknown); none drifts.
    wait_for(lambda: verdicts().count("False") >= 3, timeout=8 * INTERVAL_SECONDS,
             describe="three evaluations of in-distribution traffic")  # fmt: skip
    assert "True" not in verdicts()
    for status in stand.seen.values():
        assert status["phase"] == "Monitoring"
        assert {f["name"] for f in status.get("features") or []} <= set(FEATURES)
    status = stand.status()
    assert {f["name"] for f in status["features"]} == set(FEATURES)
    assert status["samples"] >= MONITOR["minSamples"]
    reference = stand.status()["reference"]
    assert (reference["configMap"], reference["modelVersion"]) == ("fraud-profile", "1")

    stand.traffic.shift = dict(SHIFT)
    shifted_at = datetime.now(UTC)
    # Two intervals for the window to fill with drifted traffic and the next evaluation.
    stand.wait_drifted("True", timeout=3 * INTERVAL_SECONDS + 20, reason="DatasetDrift")
    status = stand.status()
    detected = datetime.fromisoformat(status["lastEvaluationTime"])
    assert (detected - shifted_at).total_seconds() <= 3 * INTERVAL_SECONDS
    critical = {f["name"] for f in status["features"] if f["severity"] == "critical"}
    assert critical == set(SHIFT)
    assert status["phase"] == "Drifted"
    assert status["datasetDrift"]["drifted"] is True

    def warnings() -> set[str]:
        return {reason for kind, reason, _ in stand.events() if kind == "Warning"}

    wait_for(lambda: {"DatasetDrift", "FeatureDrift"} <= warnings(), timeout=15,
             describe="Warning Events for the drift")  # fmt: skip


def test_prometheus_stopped_is_unknown_never_drifted(
    private_stand: DriftStand, operator: OperatorFactory, private_prometheus: PrometheusHandle
) -> None:
    private_stand.start(operator)
    private_stand.wait_drifted("False", timeout=6 * INTERVAL_SECONDS)
    private_prometheus.stop()
    private_stand.wait_drifted("Unknown", timeout=4 * INTERVAL_SECONDS,
                               reason="PrometheusUnavailable")  # fmt: skip
    status = private_stand.status()
    assert status["phase"] == "Monitoring"
    assert "Prometheus did not answer" in status["message"]
    assert not [e for e in private_stand.events() if e[0] == "Warning"]


def test_labels_sent_to_feedback_move_realised_performance_and_a_wrong_model_is_degraded(
    stand: DriftStand, operator: OperatorFactory
) -> None:
    stand.traffic.feedback = "truth"
    performance = {"metric": "accuracy", "min": 0.6, "minSamples": 50}
    stand.start(operator, performance=performance)

    def measured() -> dict[str, Any] | None:
        found = stand.status().get("performance") or {}
        return found if found.get("value") is not None else None

    first = wait_for(measured, timeout=6 * INTERVAL_SECONDS, describe="realised accuracy")
    assert first["value"] >= 0.6
    assert first["degraded"] is False
    assert first["samples"] >= 50
    degraded = {c["type"]: c for c in stand.status()["conditions"]}["Degraded"]
    assert degraded["status"] == "False"

    stand.traffic.feedback = "flipped"  # every label now says the model was wrong

    def wrong() -> bool:
        found = stand.status()
        conditions = {c["type"]: c for c in found.get("conditions") or []}
        return conditions.get("Degraded", {}).get("status") == "True"

    wait_for(wrong, timeout=4 * INTERVAL_SECONDS + 20, describe="Degraded=True")
    status = stand.status()
    assert status["performance"]["value"] < 0.6
    assert status["performance"]["degraded"] is True
    reason = {c["type"]: c for c in status["conditions"]}["Degraded"]["message"]
    assert "accuracy" in reason
    assert "out of range" in reason
