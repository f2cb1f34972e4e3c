"""Performance of one window: realised from ground truth, estimated from scores, and which one
is judged against min/max. Pure.

Realised: accuracy, precision, recall, f1 from the confusion counts of matched ground truth
(`modelship_feedback_confusion_total`), over the performance window; mae, rmse from the error
sums. Estimated: the metric of the expected confusion of the window's score histogram
(confidence-based performance estimation, modelship.stats.estimated_performance), for a binary
classifier whose server exports its scores. The realised value is judged when it has one; the
estimate only with `judgeEstimated`, while there are too few labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelship.api.driftmonitor import DriftMonitorSpec, Performance, PerformanceMetric
from modelship.drift.observed import Buckets, LiveCounts
from modelship.profile.schema import CategoricalDistribution, Profile
from modelship.stats.buckets import parse_le
from modelship.stats.metric import MetricResult
from modelship.stats.performance import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Confusion,
    ErrorSums,
    accuracy_from_counts,
    binary_confusion,
    classification_metric,
    estimated_performance,
    expected_confusion,
    macro_average,
    regression_metric,
)

THRESHOLD = 0.5
"""A score above it predicts the positive class (scikit-learn's predict for two classes)."""


@dataclass(frozen=True)
class PerformanceResult:
    metric: str
    realised: MetricResult
    estimated: MetricResult | None
    """None for metrics that cannot be estimated (mae, rmse)."""
    basis: str
    """realised, or estimated when the estimate is judged."""
    in_range: bool | None
    positive_class: str | None = None
    """The class precision, recall and f1 are about; None when macro-averaged or not needed."""

    @property
    def judged(self) -> MetricResult:
        return self.estimated if self.basis == "estimated" and self.estimated else self.realised

    # What evaluate's degraded list and the status read of every judged metric.
    @property
    def name(self) -> str:
        return self.metric

    @property
    def value(self) -> float | None:
        return self.judged.value

    @property
    def samples(self) -> float:
        return self.judged.samples

    @property
    def reason(self) -> str:
        if self.basis == "estimated":
            return f"judged on the estimate: {self.realised.reason}"
        return self.realised.reason

    attribute = ""


def sklearn_order(label: str) -> tuple[int, float, str]:
    """scikit-learn sorts its classes: numbers by value, then text."""
    try:
        number = float(label)
    except ValueError:
        return (1, 0.0, label)
    return (0, number if math.isfinite(number) else 0.0, label)


def positive_class(perf: Performance, profile: Profile, live: LiveCounts) -> str | None:
    """The class precision, recall and f1 are about; None: macro-average (multi-class)."""
    if perf.positive_class is not None:
        return perf.positive_class
    dist = profile.prediction.distribution
    classes = dist.categories if isinstance(dist, CategoricalDistribution) else []
    if len(classes) != 2:
        return None
    if len(live.scores) == 1:
        return next(iter(live.scores))
    return sorted(classes, key=sklearn_order)[1]


def _realised_classification(
    perf: Performance, live: LiveCounts, positive: str | None
) -> MetricResult:
    metric = perf.metric
    if not live.confusion:
        if metric is PerformanceMetric.ACCURACY:  # a server without the confusion family
            matched = live.feedback.get("matched", 0.0)
            return accuracy_from_counts(min(live.correct, matched), matched, perf.min_samples)
        return MetricResult.undefined(
            f"{metric} needs modelship_feedback_confusion_total, which the server does not export",
            live.feedback.get("matched", 0.0),
        )
    if metric is PerformanceMetric.ACCURACY:
        correct = sum(n for (p, a), n in live.confusion.items() if p == a)
        return accuracy_from_counts(correct, sum(live.confusion.values()), perf.min_samples)
    if positive is None:
        return macro_average(metric, live.confusion, perf.min_samples)
    return classification_metric(metric, binary_confusion(live.confusion, {positive}),
                                 perf.min_samples)  # fmt: skip


def score_counts(buckets: Buckets) -> tuple[list[float], list[float]]:
    """(edges from 0 to 1, counts) of a score histogram from its cumulative buckets: the
    server's finite `le` values inside (0, 1) are the interior edges, the open outer bins are
    closed at 0 and 1 (scores are probabilities)."""
    points = sorted((parse_le(le), count) for le, count in buckets)
    interior = [le for le, _ in points if 0 < le < 1]
    cumulative = {le: count for le, count in points}
    total = max(count for _, count in points) if points else 0.0
    counts, previous = [], 0.0
    for le in [*interior, math.inf]:
        current = cumulative.get(le, total)
        counts.append(max(current - previous, 0.0))
        previous = max(previous, current)
    return [0.0, *interior, 1.0], counts


def _swap(c: Confusion) -> Confusion:
    """The same confusion seen from the other class."""
    return Confusion(tp=c.tn, fp=c.fn, tn=c.tp, fn=c.fp)


def _estimated(perf: Performance, live: LiveCounts, positive: str | None) -> MetricResult:
    metric = perf.metric
    if len(live.scores) != 1:
        return MetricResult.undefined(
            "needs the score histogram (modelship_prediction_score) of a binary classifier "
            "with predict_proba",
            0.0,
        )
    scored, buckets = next(iter(live.scores.items()))
    try:
        edges, counts = score_counts(buckets)
        if positive is None or positive == scored:
            return estimated_performance(metric, edges, counts, THRESHOLD, perf.min_samples)
        confusion = _swap(expected_confusion(edges, counts, THRESHOLD))
    except ValueError as err:
        return MetricResult.undefined(f"the score histogram cannot be read: {err}", 0.0)
    return classification_metric(metric, confusion, perf.min_samples)


def _in_range(value: float | None, perf: Performance) -> bool | None:
    if value is None:
        return None
    return (perf.min is None or value >= perf.min) and (perf.max is None or value <= perf.max)


def performance(
    spec: DriftMonitorSpec, profile: Profile, live: LiveCounts
) -> PerformanceResult | None:
    """Realised and estimated performance, and the verdict on the one judged."""
    perf = spec.performance
    if perf is None:
        return None
    metric = perf.metric
    matched = live.feedback.get("matched", 0.0)
    classifier = isinstance(profile.prediction.distribution, CategoricalDistribution)
    positive: str | None = None
    estimated: MetricResult | None = None
    if metric in REGRESSION_METRICS:
        if classifier:
            realised = MetricResult.undefined(
                f"{metric} needs a regressor; this model classifies", matched
            )
        else:
            sums = ErrorSums(matched, live.abs_error, live.squared_error)
            realised = regression_metric(metric, sums, perf.min_samples)
    elif not classifier:
        realised = MetricResult.undefined(
            f"{metric} needs a classifier; this model regresses", matched
        )
    else:
        assert metric in CLASSIFICATION_METRICS
        positive = positive_class(perf, profile, live)
        realised = _realised_classification(perf, live, positive)
        estimated = _estimated(perf, live, positive)
    basis = "realised"
    if (
        realised.value is None
        and perf.judge_estimated
        and estimated
        and estimated.value is not None
    ):
        basis = "estimated"
    judged = estimated if basis == "estimated" and estimated else realised
    shown = positive if metric is not PerformanceMetric.ACCURACY else None
    return PerformanceResult(
        str(metric), realised, estimated, basis, _in_range(judged.value, perf), shown
    )
