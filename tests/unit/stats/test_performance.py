"""Performance from counts: realised metrics, and estimated ones (CBPE) before labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from modelship.stats import (
    Confusion,
    ErrorSums,
    MetricStatus,
    accuracy_from_counts,
    binary_confusion,
    classification_metric,
    estimated_performance,
    expected_confusion,
    realised_performance,
    regression_metric,
)
from sklearn import metrics as skm


@pytest.mark.parametrize(
    ("confusion", "expected"),
    [
        # accuracy, precision, recall, f1 by hand
        (Confusion(tp=40, fp=10, tn=45, fn=5), (0.85, 0.8, 40 / 45, 80 / 95)),
        (Confusion(tp=1, fp=0, tn=0, fn=0), (1.0, 1.0, 1.0, 1.0)),
        (Confusion(tp=0, fp=5, tn=0, fn=5), (0.0, 0.0, 0.0, 0.0)),  # defined, and 0
        # fractional counts, as Prometheus' increase() returns them
        (Confusion(tp=2.5, fp=2.5, tn=4.0, fn=1.0), (0.65, 0.5, 2.5 / 3.5, 5 / 8.5)),
    ],
)
def test_classification_metrics(
    confusion: Confusion, expected: tuple[float, float, float, float]
) -> None:
    for metric, value in zip(("accuracy", "precision", "recall", "f1"), expected, strict=True):
        result = classification_metric(metric, confusion)
        assert result.status is MetricStatus.DEFINED
        assert result.value == pytest.approx(value, rel=1e-12)
        assert result.samples == confusion.total


def test_classification_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    truth, predicted = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    tn, fp, fn, tp = skm.confusion_matrix(truth, predicted).ravel()
    c = Confusion(tp=tp, fp=fp, tn=tn, fn=fn)
    for metric, function in [
        ("accuracy", skm.accuracy_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ]:
        assert classification_metric(metric, c).value == pytest.approx(function(truth, predicted))


@pytest.mark.parametrize(
    ("metric", "confusion", "reason"),
    [
        ("precision", Confusion(tp=0, fp=0, tn=90, fn=10), "no positive predictions"),
        ("recall", Confusion(tp=0, fp=10, tn=90, fn=0), "no positive labels"),
        ("f1", Confusion(tp=0, fp=0, tn=100, fn=0), "no positive predictions or labels"),
    ],
)
def test_zero_denominators_are_undefined_not_zero(
    metric: str, confusion: Confusion, reason: str
) -> None:
    result = classification_metric(metric, confusion)
    assert result.status is MetricStatus.UNDEFINED
    assert result.value is None
    assert not result.defined
    assert reason in result.reason
    assert classification_metric("accuracy", confusion).defined  # accuracy always is


@pytest.mark.parametrize(
    ("data", "metric", "min_samples", "message"),
    [
        (Confusion(tp=10, fp=20, tn=30, fn=39), "accuracy", 100, "only 99 labelled predictions"),
        (Confusion(tp=0, fp=0, tn=0, fn=0), "f1", 1, "only 0 labelled predictions"),
        (ErrorSums(count=0, abs_error=0, squared_error=0), "mae", 1, "only 0 labelled"),
        (ErrorSums(count=49.5, abs_error=3, squared_error=9), "rmse", 50, "minSamples 50"),
    ],
)
def test_not_enough_samples(
    data: Confusion | ErrorSums, metric: str, min_samples: int, message: str
) -> None:
    result = realised_performance(metric, data, min_samples)
    assert result.status is MetricStatus.NOT_ENOUGH_SAMPLES
    assert result.value is None
    assert message in result.reason


@pytest.mark.parametrize(
    ("sums", "mae", "rmse"),
    [
        (ErrorSums(count=4, abs_error=6, squared_error=10), 1.5, math.sqrt(2.5)),
        (ErrorSums(count=1, abs_error=0, squared_error=0), 0.0, 0.0),
    ],
)
def test_regression_metrics(sums: ErrorSums, mae: float, rmse: float) -> None:
    assert regression_metric("mae", sums).value == pytest.approx(mae)
    assert regression_metric("rmse", sums).value == pytest.approx(rmse)


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(6)
    truth = rng.normal(size=300)
    predicted = truth + rng.normal(0, 0.5, 300)
    errors = predicted - truth
    sums = ErrorSums(len(errors), float(np.abs(errors).sum()), float((errors**2).sum()))
    assert regression_metric("mae", sums).value == pytest.approx(
        skm.mean_absolute_error(truth, predicted)
    )
    assert regression_metric("rmse", sums).value == pytest.approx(
        math.sqrt(skm.mean_squared_error(truth, predicted))
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Confusion(tp=-1, fp=0, tn=0, fn=0), "tp must be"),
        (lambda: ErrorSums(count=1, abs_error=float("nan"), squared_error=0), "abs_error"),
        (lambda: realised_performance("mae", Confusion(1, 1, 1, 1)), "error sums"),
        (lambda: realised_performance("f1", ErrorSums(1, 1, 1)), "confusion counts"),
        (lambda: realised_performance("auc", Confusion(1, 1, 1, 1)), "unknown"),
        (lambda: estimated_performance("mae", [0, 1], [1], 0), "cannot be estimated"),
    ],
)
def test_invalid_input(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# Estimated performance (CBPE) ------------------------------------------------------------


def test_expected_confusion_by_hand() -> None:
    # scores in (0, 0.5] stand for p = 0.25, in (0.5, 1] for p = 0.75; threshold 0.5
    c = expected_confusion([0, 0.5, 1], [100, 100], threshold=0.5)
    assert (c.tp, c.fp, c.tn, c.fn) == (75, 25, 75, 25)
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert estimated_performance(metric, [0, 0.5, 1], [100, 100], 0.5).value == 0.75


# bins (0, 0.2], (0.2, 0.8], (0.8, 1] stand for p = 0.1, 0.5, 0.9 and hold 10, 30, 60 scores
POSITIVES = (0.1 * 10, 0.5 * 30, 0.9 * 60)
NEGATIVES = (0.9 * 10, 0.5 * 30, 0.1 * 60)


@pytest.mark.parametrize(
    ("threshold", "predicted_positive"),
    [(0.0, [0, 1, 2]), (0.2, [1, 2]), (0.8, [2]), (1.0, [])],
)
def test_the_threshold_splits_the_bins(threshold: float, predicted_positive: list[int]) -> None:
    c = expected_confusion([0, 0.2, 0.8, 1], [10, 30, 60], threshold)
    bins = range(3)
    assert c.tp == pytest.approx(sum(POSITIVES[i] for i in bins if i in predicted_positive))
    assert c.fp == pytest.approx(sum(NEGATIVES[i] for i in bins if i in predicted_positive))
    assert c.fn == pytest.approx(sum(POSITIVES[i] for i in bins if i not in predicted_positive))
    assert c.tn == pytest.approx(sum(NEGATIVES[i] for i in bins if i not in predicted_positive))


def exact_expectations(scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Expected metrics of a calibrated classifier given its raw scores (label ~ Bernoulli)."""
    positive = scores > threshold
    tp, fp = scores[positive].sum(), (1 - scores[positive]).sum()
    fn, tn = scores[~positive].sum(), (1 - scores[~positive]).sum()
    return {
        "accuracy": (tp + tn) / scores.size,
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
    }


EDGES = np.linspace(0, 1, 21)


def histogram(scores: np.ndarray) -> list[float]:
    index = np.searchsorted(EDGES[1:-1], scores, side="left")  # right-closed, like `le`
    return np.bincount(index, minlength=EDGES.size - 1).astype(float).tolist()


def test_estimate_is_exact_when_scores_sit_at_bin_mid_points() -> None:
    rng = np.random.default_rng(11)
    mids = (EDGES[:-1] + EDGES[1:]) / 2
    scores = rng.choice(mids, size=5_000, p=rng.dirichlet(np.ones(mids.size)))
    expected = exact_expectations(scores, 0.5)
    for metric, value in expected.items():
        estimate = estimated_performance(metric, EDGES.tolist(), histogram(scores), 0.5)
        assert estimate.value == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_estimate_agrees_with_the_exact_expectation_on_synthetic_scores(threshold: float) -> None:
    rng = np.random.default_rng(12)
    scores = rng.beta(2, 3, size=100_000)  # continuous scores: mid-points are approximations
    counts = histogram(scores)
    expected = exact_expectations(scores, threshold)
    for metric, value in expected.items():
        estimate = estimated_performance(metric, EDGES.tolist(), counts, threshold)
        assert estimate.value == pytest.approx(value, abs=0.01), metric
    # and the realised accuracy once labels arrive, drawn as a calibrated model's are
    labels = rng.uniform(size=scores.size) < scores
    realised = np.mean(labels == (scores > threshold))
    estimated = estimated_performance("accuracy", EDGES.tolist(), counts, threshold).value
    assert estimated == pytest.approx(realised, abs=0.01)


def test_an_uncalibrated_model_is_mis_estimated() -> None:
    # The assumption matters: scores that are twice as confident as the truth overstate
    # accuracy. (Documented in docs/statistics.md.)
    rng = np.random.default_rng(13)
    scores = rng.uniform(size=50_000)
    truth = rng.uniform(size=scores.size) < 0.5 + (scores - 0.5) / 2
    realised = np.mean(truth == (scores > 0.5))
    estimated = estimated_performance("accuracy", EDGES.tolist(), histogram(scores), 0.5).value
    assert estimated is not None
    assert estimated - realised > 0.1


@pytest.mark.parametrize(
    ("edges", "counts", "threshold", "message"),
    [
        ([0, 0.5, 1], [1, 1], 0.4, "not a bin edge"),
        ([0.1, 0.5, 1], [1, 1], 0.5, "from 0 to 1"),
        ([0, 0.5, 2], [1, 1], 0.5, "from 0 to 1"),
        ([0, 0.5, 0.5, 1], [1, 1, 1], 0.5, "strictly increasing"),
        ([0, 1], [1, 1], 0, "k \\+ 1 edges"),
        ([0, 0.5, 1], [1, -1], 0.5, "counts\\[1\\]"),
    ],
)
def test_invalid_score_histograms(
    edges: list[float], counts: list[float], threshold: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        expected_confusion(edges, counts, threshold)


def test_estimate_needs_enough_scored_predictions() -> None:
    result = estimated_performance("accuracy", [0, 0.5, 1], [10, 20], 0.5, min_samples=100)
    assert result.status is MetricStatus.NOT_ENOUGH_SAMPLES
    assert "only 30 scored predictions (minSamples 100)" in result.reason


def test_binary_confusion_from_predicted_and_actual_classes() -> None:
    counts = {
        ("approve", "approve"): 40,
        ("approve", "deny"): 10,
        ("deny", "deny"): 45,
        ("deny", "approve"): 5,
        ("review", "approve"): 2,  # a third class counts as negative
    }
    c = binary_confusion(counts, positive={"approve"})
    assert (c.tp, c.fp, c.tn, c.fn) == (40, 10, 45, 7)


@pytest.mark.parametrize(
    ("correct", "labelled", "min_samples", "status", "value"),
    [
        (90, 100, 100, MetricStatus.DEFINED, 0.9),
        (0, 100, 1, MetricStatus.DEFINED, 0.0),
        (9, 10, 100, MetricStatus.NOT_ENOUGH_SAMPLES, None),
        (0, 0, 1, MetricStatus.NOT_ENOUGH_SAMPLES, None),
    ],
)
def test_accuracy_from_correct_and_labelled_counts(
    correct: float, labelled: float, min_samples: float, status: MetricStatus, value: float | None
) -> None:
    result = accuracy_from_counts(correct, labelled, min_samples)
    assert (result.status, result.value) == (status, value)


def test_accuracy_from_counts_rejects_more_correct_than_labelled() -> None:
    with pytest.raises(ValueError, match="exceed"):
        accuracy_from_counts(11, 10)
