"""DriftMonitors evaluate live traffic: the real operator, the local cluster, a real Prometheus
scraping a real reference-server process standing in for the stable revision's pods, and a
traffic generator that sends in-distribution, then drifted, requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client
from modelship.profile.schema import load_profile
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.loan import LoanRequests, train_loan_model
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import FEATURES, TrainedModel
from modelship_testing.stands import INTERVAL_SECONDS, MONITOR, SHIFT, DriftStand, stand_for
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.usefixtures("crds")]


@pytest.fixture(scope="module")
def loan_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    return train_loan_model(tmp_path_factory.mktemp("loan-model"))


@pytest.fixture
def loan_stand(k8s_api: client.ApiClient, namespace: str, loan_model: TrainedModel,
               prometheus: PrometheusHandle) -> Iterator[DriftStand]:  # fmt: skip
    """The biased loan model stood in for the fraud ModelDeployment's stable revision."""
    for stand in stand_for(k8s_api, namespace, loan_model, prometheus):
        stand.traffic.requests = LoanRequests(load_profile(loan_model.profile_path))
        yield stand


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


def test_unseen_categories_out_of_range_values_and_missing_features_show_in_data_quality(
    loan_stand: DriftStand, operator: OperatorFactory
) -> None:
    requests = loan_stand.traffic.requests
    assert isinstance(requests, LoanRequests)
    loan_stand.start(operator, dataQuality={"minSamples": 100})

    def quality() -> dict[str, Any] | None:
        found = loan_stand.status().get("dataQuality") or {}
        return found if found.get("rows", 0) >= 100 else None

    clean = wait_for(quality, timeout=6 * INTERVAL_SECONDS, describe="data quality measured")
    assert clean["degraded"] is False
    assert loan_stand.condition("Degraded")["status"] == "False"

    requests.unseen, requests.out_of_range, requests.missing = 0.3, 0.2, 0.1

    def failing() -> bool:
        degraded = loan_stand.condition("Degraded")
        return degraded.get("status") == "True" and degraded.get("reason") == "DataQuality"

    wait_for(failing, timeout=4 * INTERVAL_SECONDS + 20, describe="Degraded=True DataQuality")

    def spoiled_window() -> dict[str, Any] | None:
        """An evaluation whose whole window is spoiled traffic (20s, evaluated every 10s)."""
        found = loan_stand.status()["dataQuality"]
        shares = {f["name"]: f for f in found.get("features") or []}
        return found if shares.get("channel", {}).get("unseen", 0) > 0.2 else None

    status = wait_for(spoiled_window, timeout=6 * INTERVAL_SECONDS, describe="a spoiled window")
    features = {f["name"]: f for f in status["features"]}
    assert features["channel"]["unseen"] < 0.45
    assert "unseen" in features["channel"]["failed"]
    assert 0.08 < features["amount"]["outOfRange"] < 0.35
    assert 0.03 < features["amount"]["missing"] < 0.2
    assert {"outOfRange", "missing"} <= set(features["amount"]["failed"])
    rejected = {r["reason"]: r for r in status["rejected"]}
    assert rejected["missingFeature"]["failed"] is True
    assert rejected["missingFeature"]["requests"] > 0
    message = loan_stand.condition("Degraded")["message"]
    assert "channel unseen" in message
    assert "amount outOfRange" in message

    def warned() -> bool:
        return any(r == "DataQualityDegraded" and k == "Warning"
                   for k, r, _ in loan_stand.events())  # fmt: skip

    wait_for(warned, timeout=30, describe="a DataQualityDegraded Event")


def test_a_biased_model_trips_its_fairness_range(
    loan_stand: DriftStand, operator: OperatorFactory
) -> None:
    check = {
        "attribute": "gender", "privileged": ["M"], "favourable": ["1"],
        "metric": "statisticalParityDifference", "range": {"min": -0.1, "max": 0.1},
    }  # fmt: skip
    loan_stand.start(operator, fairness=[check])

    def tripped() -> bool:
        degraded = loan_stand.condition("Degraded")
        return degraded.get("status") == "True" and degraded.get("reason") == "OutOfRange"

    wait_for(tripped, timeout=6 * INTERVAL_SECONDS, describe="Degraded=True OutOfRange")
    (parity,) = loan_stand.status()["fairness"]
    assert parity["withinRange"] is False
    assert parity["value"] < -0.5  # approvals go to M far more than to F
    message = loan_stand.condition("Degraded")["message"]
    assert "gender statisticalParityDifference" in message
    assert "out of range" in message


def test_realised_precision_and_recall_move_with_the_labels_and_accuracy_is_estimated(
    stand: DriftStand, operator: OperatorFactory
) -> None:
    stand.traffic.feedback = "truth"
    performance = {"minSamples": 50, "window": "30s"}
    stand.start(operator, performance={"metric": "precision", "min": 0.5, **performance})
    stand.add_monitor("fraud-recall", performance={"metric": "recall", "min": 0.5, **performance})
    stand.add_monitor("fraud-accuracy", performance={"metric": "accuracy", "min": 0.5,
                                                     **performance})  # fmt: skip

    def measured(name: str) -> dict[str, Any] | None:
        found = stand.status(name).get("performance") or {}
        return found if found.get("value") is not None else None

    for name, metric in (("fraud-drift", "precision"), ("fraud-recall", "recall")):
        first = wait_for(lambda n=name: measured(n), timeout=6 * INTERVAL_SECONDS,
                         describe=f"realised {metric}")  # fmt: skip
        assert first["value"] > 0.6, first
        assert first["positiveClass"] == "1"  # the score's class, classes_[1]
        assert first["basis"] == "realised"
    accuracy = wait_for(lambda: measured("fraud-accuracy"), timeout=4 * INTERVAL_SECONDS,
                        describe="realised accuracy")  # fmt: skip
    estimated = accuracy["estimated"]  # from the score histogram, before any label
    assert estimated["samples"] >= 50
    assert abs(estimated["value"] - accuracy["value"]) < 0.15

    stand.traffic.feedback = "flipped"  # every label now says the model was wrong

    def fallen(name: str) -> bool:
        found = stand.status(name).get("performance") or {}
        return found.get("value") is not None and found["value"] < 0.3 and found["degraded"]

    for name in ("fraud-drift", "fraud-recall"):
        wait_for(lambda n=name: fallen(n), timeout=4 * INTERVAL_SECONDS + 20,
                 describe=f"{name}: performance down with flipped labels")  # fmt: skip
        assert stand.condition("Degraded", name)["status"] == "True"
