"""Model performance from counts: realised (from ground truth) and estimated (before it).

Realised metrics come from what the server counts at its feedback endpoint: a binary confusion
(tp, fp, tn, fn) for classifiers, and (count, sum |error|, sum error^2) for regressors.

Estimated metrics follow NannyML's confidence-based performance estimation (CBPE): for a
*calibrated* binary classifier, P(label = 1 | score = s) = s, so the expected confusion of a
window follows from its score histogram alone, before any label arrives. See
docs/statistics.md for the assumption and its limits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from modelship.api.driftmonitor import PerformanceMetric
from modelship.stats.metric import MetricResult, check_count

# The API's names (spec.performance.metric), by the kind of model they need.
CLASSIFICATION_METRICS = (
    PerformanceMetric.ACCURACY,
    PerformanceMetric.PRECISION,
    PerformanceMetric.RECALL,
    PerformanceMetric.F1,
)
REGRESSION_METRICS = (PerformanceMetric.MAE, PerformanceMetric.RMSE)


@dataclass(frozen=True)
class Confusion:
    """Binary confusion counts; the positive class is label 1 (the score's class)."""

    tp: float
    fp: float
    tn: float
    fn: float

    def __post_init__(self) -> None:
        for name in ("tp", "fp", "tn", "fn"):
            check_count(getattr(self, name), name)

    @property
    def total(self) -> float:
        return self.tp + self.fp + self.tn + self.fn


@dataclass(frozen=True)
class ErrorSums:
    """Regression: labelled predictions, sum of |prediction - truth|, sum of squared errors."""

    count: float
    abs_error: float
    squared_error: float

    def __post_init__(self) -> None:
        for name in ("count", "abs_error", "squared_error"):
            check_count(getattr(self, name), name)


def binary_confusion(
    counts: Mapping[tuple[str, str], float], positive: Collection[str]
) -> Confusion:
    """A binary confusion from counts keyed by (predicted class, actual class), with the
    classes in `positive` as the positive class (e.g. the favourable outcomes), the rest
    negative. This is the shape of `modelship_fairness_feedback_total` by (class, actual)."""
    tp = fp = tn = fn = 0.0
    for (predicted, actual), count in counts.items():
        check_count(count, f"count of ({predicted!r}, {actual!r})")
        if predicted in positive:
            tp, fp = (tp + count, fp) if actual in positive else (tp, fp + count)
        else:
            fn, tn = (fn + count, tn) if actual in positive else (fn, tn + count)
    return Confusion(tp=tp, fp=fp, tn=tn, fn=fn)


def accuracy_from_counts(correct: float, labelled: float, min_samples: float = 1) -> MetricResult:
    """Accuracy of any classifier (binary or not) from correct and labelled predictions: the
    server's `modelship_feedback_correct_rows_total` over matched `modelship_feedback_rows_total`.
    """
    check_count(correct, "correct")
    check_count(labelled, "labelled")
    if correct > labelled:
        raise ValueError("correct predictions exceed labelled ones")
    if labelled < min_samples or labelled <= 0:
        return MetricResult.not_enough(labelled, min_samples, "labelled predictions")
    return MetricResult.of(correct / labelled, labelled)


def _ratio(numerator: float, denominator: float, what: str, samples: float) -> MetricResult:
    if denominator <= 0:
        return MetricResult.undefined(what, samples)
    return MetricResult.of(numerator / denominator, samples)


def classification_metric(
    metric: PerformanceMetric | str, confusion: Confusion, min_samples: float = 1
) -> MetricResult:
    """accuracy, precision, recall or f1 of `confusion`.

    Fewer than `min_samples` labelled predictions: not enough samples. A zero denominator is
    undefined, never 0: precision without positive predictions, recall without positive labels,
    f1 with neither (f1 = 2tp / (2tp + fp + fn)).
    """
    c, n = confusion, confusion.total
    if metric not in CLASSIFICATION_METRICS:
        raise ValueError(f"unknown classification metric {metric!r}")
    if n < min_samples or n <= 0:
        return MetricResult.not_enough(n, min_samples, "labelled predictions")
    if metric == "accuracy":
        return MetricResult.of((c.tp + c.tn) / n, n)
    if metric == "precision":
        return _ratio(c.tp, c.tp + c.fp, "precision is undefined: no positive predictions", n)
    if metric == "recall":
        return _ratio(c.tp, c.tp + c.fn, "recall is undefined: no positive labels", n)
    return _ratio(
        2 * c.tp, 2 * c.tp + c.fp + c.fn, "f1 is undefined: no positive predictions or labels", n
    )


def macro_average(
    metric: PerformanceMetric | str,
    counts: Mapping[tuple[str, str], float],
    min_samples: float = 1,
) -> MetricResult:
    """precision, recall or f1 of a multi-class classifier, one class against the rest and
    averaged over the classes found among the predictions or the labels (scikit-learn's
    average="macro"); a class whose value is undefined counts 0, as scikit-learn's default
    zero_division does. `counts` are keyed by (predicted class, actual class)."""
    if metric not in ("precision", "recall", "f1"):
        raise ValueError(f"macro averages are for precision, recall and f1, not {metric!r}")
    n = sum(check_count(c, "count") for c in counts.values())
    if n < min_samples or n <= 0:
        return MetricResult.not_enough(n, min_samples, "labelled predictions")
    classes = sorted({c for key, count in counts.items() if count > 0 for c in key})
    values = []
    for cls in classes:
        result = classification_metric(metric, binary_confusion(counts, {cls}))
        values.append(result.value if result.value is not None else 0.0)
    return MetricResult.of(sum(values) / len(values), n)


def regression_metric(
    metric: PerformanceMetric | str, sums: ErrorSums, min_samples: float = 1
) -> MetricResult:
    """mae = sum|e| / n, rmse = sqrt(sum e^2 / n); fewer than `min_samples`: not enough."""
    if metric not in REGRESSION_METRICS:
        raise ValueError(f"unknown regression metric {metric!r}")
    n = sums.count
    if n < min_samples or n <= 0:
        return MetricResult.not_enough(n, min_samples, "labelled predictions")
    if metric == "mae":
        return MetricResult.of(sums.abs_error / n, n)
    return MetricResult.of(math.sqrt(sums.squared_error / n), n)


def realised_performance(
    metric: PerformanceMetric | str, data: Confusion | ErrorSums, min_samples: float = 1
) -> MetricResult:
    """The DriftMonitor's `performance.metric` from ground-truth counts."""
    if metric in CLASSIFICATION_METRICS:
        if not isinstance(data, Confusion):
            raise ValueError(f"{metric} needs confusion counts (a classifier)")
        return classification_metric(metric, data, min_samples)
    if metric in REGRESSION_METRICS:
        if not isinstance(data, ErrorSums):
            raise ValueError(f"{metric} needs error sums (a regressor)")
        return regression_metric(metric, data, min_samples)
    raise ValueError(f"unknown performance metric {metric!r}")


def _score_bins(edges: Sequence[float], counts: Sequence[float], threshold: float) -> int:
    """Validate a score histogram; the index of the first bin predicted positive."""
    if len(edges) < 2 or len(counts) != len(edges) - 1:
        raise ValueError("a score histogram needs k + 1 edges and k counts")
    if not all(math.isfinite(e) for e in edges) or edges[0] != 0 or edges[-1] != 1:
        raise ValueError("score bin edges must run from 0 to 1")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError("score bin edges must be strictly increasing")
    for i, count in enumerate(counts):
        check_count(count, f"counts[{i}]")
    matches = [i for i, e in enumerate(edges) if math.isclose(e, threshold, abs_tol=1e-12)]
    if not matches:
        raise ValueError(
            f"threshold {threshold:g} is not a bin edge: a bin that straddles it has no "
            "predicted class"
        )
    return matches[0]


def expected_confusion(
    edges: Sequence[float], counts: Sequence[float], threshold: float
) -> Confusion:
    """Expected confusion of a calibrated binary classifier from its binned scores.

    Bins are right-closed, (edges[i], edges[i+1]], like Prometheus buckets; a score above
    `threshold` (which must be an edge) predicts the positive class. Each bin's mid-point m
    stands for its scores' calibrated probability: n scores there add n*m expected positives
    and n*(1-m) expected negatives to the predicted class of the bin.
    """
    first_positive = _score_bins(edges, counts, threshold)
    tp = fp = tn = fn = 0.0
    for i, count in enumerate(counts):
        mid = (edges[i] + edges[i + 1]) / 2
        if i >= first_positive:
            tp, fp = tp + count * mid, fp + count * (1 - mid)
        else:
            fn, tn = fn + count * mid, tn + count * (1 - mid)
    return Confusion(tp=tp, fp=fp, tn=tn, fn=fn)


def estimated_performance(
    metric: PerformanceMetric | str,
    edges: Sequence[float],
    counts: Sequence[float],
    threshold: float = 0.5,
    min_samples: float = 1,
) -> MetricResult:
    """accuracy, precision, recall or f1 estimated before labels (CBPE), for a calibrated
    binary classifier: the metric of `expected_confusion` (expected accuracy exactly; precision,
    recall and f1 as ratios of expected counts). `samples` is the number of scored predictions.
    """
    if metric not in CLASSIFICATION_METRICS:
        raise ValueError(
            f"{metric!r} cannot be estimated from scores; use accuracy, precision, recall or f1"
        )
    confusion = expected_confusion(edges, counts, threshold)
    n = confusion.total
    if n < min_samples or n <= 0:
        return MetricResult.not_enough(n, min_samples, "scored predictions")
    return classification_metric(metric, confusion, min_samples)
