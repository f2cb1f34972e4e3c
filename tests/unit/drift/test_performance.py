"""Performance of a window: realised precision, recall and f1 from the confusion counts, the
estimate from the score histogram, and which of the two is judged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.evaluate import evaluate
from modelship.drift.observed import LiveCounts
from modelship.drift.performance import performance, positive_class, score_counts
from modelship.drift.plan import status_fields
from modelship.drift.queries import Target, evaluation_query
from modelship.profile.build import ProfileOptions, build_profile
from modelship.server.metrics import SCORE_EDGES
from modelship.stats.performance import estimated_performance
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

RNG = np.random.default_rng(5)


def profile_of(labels: list[str]) -> Any:
    data = pd.DataFrame({"x": RNG.normal(size=400), "label": RNG.choice(labels, 400)})
    return build_profile(data, ProfileOptions(target="label", bins=4))


BINARY = profile_of(["0", "1"])
THREE = profile_of(["a", "b", "c"])


def spec(**performance_fields: Any) -> DriftMonitorSpec:
    return DriftMonitorSpec.model_validate(
        {"modelDeploymentRef": "m", "performance": {"min": 0.5, "minSamples": 10,
                                                     **performance_fields}}
    )  # fmt: skip


def confusion_of(predicted: list[str], actual: list[str]) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for p, a in zip(predicted, actual, strict=True):
        counts[(p, a)] = counts.get((p, a), 0.0) + 1.0
    return counts


def labelled(predicted: list[str], actual: list[str]) -> LiveCounts:
    live = LiveCounts(rows=float(len(predicted)))
    live.confusion = confusion_of(predicted, actual)
    live.feedback = {"matched": float(len(predicted))}
    live.correct = float(sum(p == a for p, a in zip(predicted, actual, strict=True)))
    return live


def buckets(scores: np.ndarray) -> list[tuple[str, float]]:
    """The server's cumulative score buckets (le = the fixed edges, +Inf)."""
    counts = np.bincount(np.searchsorted(SCORE_EDGES, scores, side="left"), minlength=20)
    les = [repr(e) for e in SCORE_EDGES] + ["+Inf"]
    return list(zip(les, np.cumsum(counts).astype(float).tolist(), strict=True))


PREDICTED = list(RNG.choice(["0", "1"], 300, p=[0.6, 0.4]))
ACTUAL = [p if RNG.random() < 0.8 else ("1" if p == "0" else "0") for p in PREDICTED]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", accuracy_score(ACTUAL, PREDICTED)),
        ("precision", precision_score(ACTUAL, PREDICTED, pos_label="1")),
        ("recall", recall_score(ACTUAL, PREDICTED, pos_label="1")),
        ("f1", f1_score(ACTUAL, PREDICTED, pos_label="1")),
    ],
)
def test_realised_binary_metrics_are_scikit_learns(metric: str, expected: float) -> None:
    result = performance(spec(metric=metric), BINARY, labelled(PREDICTED, ACTUAL))
    assert result is not None
    assert result.realised.value == pytest.approx(expected)
    assert result.basis == "realised"
    assert result.positive_class == (None if metric == "accuracy" else "1")


def test_the_positive_class_can_be_the_other_one() -> None:
    result = performance(spec(metric="recall", positiveClass="0"), BINARY,
                         labelled(PREDICTED, ACTUAL))  # fmt: skip
    assert result is not None
    assert result.realised.value == pytest.approx(recall_score(ACTUAL, PREDICTED, pos_label="0"))


@pytest.mark.parametrize("metric", ["precision", "recall", "f1"])
def test_a_multi_class_model_is_macro_averaged_as_scikit_learn_does(metric: str) -> None:
    predicted = list(RNG.choice(["a", "b", "c"], 300))
    actual = [p if RNG.random() < 0.6 else str(RNG.choice(["a", "b", "c"])) for p in predicted]
    predicted[:5] = ["a"] * 5  # and one class is never predicted correctly: fine
    scorer = {"precision": precision_score, "recall": recall_score, "f1": f1_score}[metric]
    result = performance(spec(metric=metric), THREE, labelled(predicted, actual))
    assert result is not None
    assert result.positive_class is None
    assert result.realised.value == pytest.approx(scorer(actual, predicted, average="macro"))


def test_without_the_confusion_family_accuracy_still_comes_from_correct_rows() -> None:
    live = labelled(PREDICTED, ACTUAL)
    live.confusion = {}
    accuracy = performance(spec(metric="accuracy"), BINARY, live)
    assert accuracy is not None
    assert accuracy.realised.value == pytest.approx(accuracy_score(ACTUAL, PREDICTED))
    f1 = performance(spec(metric="f1"), BINARY, live)
    assert f1 is not None
    assert f1.value is None
    assert "needs modelship_feedback_confusion_total" in f1.reason


def test_default_positive_class_is_the_scores_else_the_second_in_sklearn_order() -> None:
    perf = spec(metric="f1").performance
    assert perf is not None
    assert positive_class(perf, BINARY, LiveCounts()) == "1"
    assert positive_class(perf, profile_of(["10", "9"]), LiveCounts()) == "10"  # by value
    scored = LiveCounts(scores={"0": buckets(np.array([0.2]))})
    assert positive_class(perf, BINARY, scored) == "0"
    assert positive_class(perf, THREE, LiveCounts()) is None


SCORES = RNG.beta(2, 5, 2_000)


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1"])
def test_the_estimate_is_cbpe_on_the_servers_score_buckets(metric: str) -> None:
    live = LiveCounts(rows=2_000.0, scores={"1": buckets(SCORES)})
    result = performance(spec(metric=metric), BINARY, live)
    assert result is not None
    edges, counts = score_counts(live.scores["1"])
    assert edges == [0.0, *SCORE_EDGES, 1.0]
    assert sum(counts) == 2_000
    expected = estimated_performance(metric, edges, counts, 0.5, 10)
    assert result.estimated is not None
    assert result.estimated.value == pytest.approx(expected.value)
    assert result.estimated.samples == pytest.approx(2_000)
    assert result.realised.value is None  # no labels
    assert result.value is None
    assert result.in_range is None


def test_the_estimate_for_the_other_class_swaps_the_expected_confusion() -> None:
    live = LiveCounts(rows=2_000.0, scores={"1": buckets(SCORES)})
    of_zero = performance(spec(metric="precision", positiveClass="0"), BINARY, live)
    flipped = LiveCounts(rows=2_000.0, scores={"0": buckets(1 - SCORES)})
    direct = performance(spec(metric="precision", positiveClass="0"), BINARY, flipped)
    assert of_zero is not None
    assert direct is not None
    assert of_zero.estimated is not None
    assert direct.estimated is not None
    assert of_zero.estimated.value == pytest.approx(direct.estimated.value, abs=0.02)


@pytest.mark.parametrize(
    ("judge", "labels", "basis", "judged"),
    [
        (False, False, "realised", None),
        (True, False, "estimated", "estimate"),
        (True, True, "realised", "realised"),
        (False, True, "realised", "realised"),
    ],
)
def test_which_value_is_judged(judge: bool, labels: bool, basis: str, judged: str | None) -> None:
    live = labelled(PREDICTED, ACTUAL) if labels else LiveCounts(rows=300.0)
    live.scores = {"1": buckets(RNG.beta(2, 5, 300))}
    result = performance(spec(metric="accuracy", min=0.99, judgeEstimated=judge), BINARY, live)
    assert result is not None
    assert result.basis == basis
    assert result.estimated is not None
    value = {None: None, "estimate": result.estimated.value, "realised": result.realised.value}
    assert result.value == value[judged]
    assert result.in_range is (None if judged is None else False)  # both are below 0.99
    if basis == "estimated":
        assert result.reason.startswith("judged on the estimate: only 0 labelled predictions")


def test_a_regressor_has_no_estimate_and_a_classifier_no_mae() -> None:
    result = performance(spec(metric="mae", max=1.0), BINARY, LiveCounts())
    assert result is not None
    assert result.estimated is None
    assert result.reason == "mae needs a regressor; this model classifies"


def test_without_scores_the_estimate_says_why() -> None:
    result = performance(spec(metric="accuracy"), BINARY, labelled(PREDICTED, ACTUAL))
    assert result is not None
    assert result.estimated is not None
    assert "needs the score histogram (modelship_prediction_score)" in result.estimated.reason


def test_status_reports_the_basis_the_estimate_and_the_positive_class() -> None:
    live = LiveCounts(rows=300.0, scores={"1": buckets(RNG.beta(2, 5, 300))})
    monitor = spec(metric="f1", min=0.99, judgeEstimated=True)
    fields = status_fields(evaluate(monitor, BINARY, live), None)
    block = fields["performance"]
    assert block["basis"] == "estimated"
    assert block["degraded"] is True
    assert block["positiveClass"] == "1"
    assert block["value"] == block["estimated"]["value"]
    assert block["estimated"]["samples"] == 300
    assert block["reason"].startswith("judged on the estimate:")


def test_ground_truth_is_read_over_the_performance_window() -> None:
    query = evaluation_query(Target("ml", "r", "1h", performance_window="24h"))
    assert "increase(modelship_feedback_confusion_total" in query
    for family in ("confusion_total", "correct_rows_total", "rows_total",
                   "absolute_error_sum", "squared_error_sum"):  # fmt: skip
        assert f'modelship_feedback_{family}{{namespace="ml",revision="r"}}[86400s]' in query
    assert 'modelship_prediction_score_bucket{namespace="ml",revision="r"}[3600s]' in query
    assert 'modelship_feature_value_bucket{namespace="ml",revision="r"}[3600s]' in query
