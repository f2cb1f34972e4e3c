"""Group fairness from per-group outcome counts (AIF360's definitions and sign convention).

Every metric compares the unprivileged group (all groups not listed as privileged, pooled)
with the privileged one, unprivileged first: a negative difference, or a ratio below 1, means
the unprivileged group receives the favourable outcome less often. A metric whose denominator
is zero is *undefined* (MetricStatus.UNDEFINED), which is not the same as 0 (parity).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields

from modelship.api.driftmonitor import FairnessMetric
from modelship.stats.metric import MetricResult, check_count

# The API's names (spec.fairness[].metric).
FAIRNESS_METRICS = tuple(FairnessMetric)


@dataclass(frozen=True)
class GroupCounts:
    """Outcome counts of one group (or of several pooled).

    `predictions` and `favourable` come from every prediction; the ground-truth counts from
    labelled predictions only (the feedback endpoint), and are needed by the error-rate metrics:
    `positives` labelled favourable, of which `true_positives` were predicted favourable;
    `negatives` labelled unfavourable, of which `false_positives` were predicted favourable.
    """

    predictions: float
    favourable: float
    positives: float | None = None
    true_positives: float | None = None
    negatives: float | None = None
    false_positives: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                check_count(value, f.name)
        if self.favourable > self.predictions:
            raise ValueError("favourable predictions exceed the group's predictions")
        for part, whole in (("true_positives", "positives"), ("false_positives", "negatives")):
            a, b = getattr(self, part), getattr(self, whole)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{part} exceed {whole}")

    def __add__(self, other: GroupCounts) -> GroupCounts:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return GroupCounts(
            predictions=self.predictions + other.predictions,
            favourable=self.favourable + other.favourable,
            positives=add(self.positives, other.positives),
            true_positives=add(self.true_positives, other.true_positives),
            negatives=add(self.negatives, other.negatives),
            false_positives=add(self.false_positives, other.false_positives),
        )


EMPTY_GROUP = GroupCounts(0, 0, 0, 0, 0, 0)


def group_counts(
    predictions: Mapping[str, float],
    favourable: Collection[str],
    feedback: Mapping[tuple[str, str], float] | None = None,
) -> GroupCounts:
    """One group's counts from the server's series: predictions per class
    (`modelship_fairness_predictions_total` by class) and, when ground truth is available,
    labelled predictions per (predicted class, actual class)
    (`modelship_fairness_feedback_total` by class, actual)."""
    total = sum(check_count(c, f"predictions of {k!r}") for k, c in predictions.items())
    fav = sum(c for k, c in predictions.items() if k in favourable)
    if feedback is None:
        return GroupCounts(predictions=total, favourable=fav)
    positives = negatives = true_positives = false_positives = 0.0
    for (predicted, actual), count in feedback.items():
        check_count(count, f"feedback of ({predicted!r}, {actual!r})")
        if actual in favourable:
            positives += count
            true_positives += count if predicted in favourable else 0.0
        else:
            negatives += count
            false_positives += count if predicted in favourable else 0.0
    return GroupCounts(total, fav, positives, true_positives, negatives, false_positives)


def split_groups(
    groups: Mapping[str, GroupCounts], privileged: Collection[str]
) -> tuple[GroupCounts, GroupCounts]:
    """(unprivileged, privileged): the attribute's groups pooled on either side."""
    unprivileged, favoured = EMPTY_GROUP, EMPTY_GROUP
    for name, counts in groups.items():
        if name in privileged:
            favoured = favoured + counts
        else:
            unprivileged = unprivileged + counts
    return unprivileged, favoured


def _rate(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole


def _samples(unprivileged: GroupCounts, privileged: GroupCounts) -> float:
    return unprivileged.predictions + privileged.predictions


def statistical_parity_difference(
    *, unprivileged: GroupCounts, privileged: GroupCounts
) -> MetricResult:
    """P(favourable | unprivileged) - P(favourable | privileged); undefined when either group
    has no predictions."""
    u = _rate(unprivileged.favourable, unprivileged.predictions)
    p = _rate(privileged.favourable, privileged.predictions)
    n = _samples(unprivileged, privileged)
    if u is None or p is None:
        return MetricResult.undefined(
            _empty_group(unprivileged, privileged, "statisticalParityDifference"), n
        )
    return MetricResult.of(u - p, n)


def disparate_impact(*, unprivileged: GroupCounts, privileged: GroupCounts) -> MetricResult:
    """P(favourable | unprivileged) / P(favourable | privileged); undefined when either group
    has no predictions or the privileged group has no favourable one (x / 0). 0 when only the
    unprivileged group has none."""
    u = _rate(unprivileged.favourable, unprivileged.predictions)
    p = _rate(privileged.favourable, privileged.predictions)
    n = _samples(unprivileged, privileged)
    if u is None or p is None:
        return MetricResult.undefined(_empty_group(unprivileged, privileged, "disparateImpact"), n)
    if p == 0:
        return MetricResult.undefined(
            "disparateImpact is undefined: the privileged group has no favourable predictions", n
        )
    return MetricResult.of(u / p, n)


def _tpr(group: GroupCounts) -> float | None:
    return _rate(group.true_positives, group.positives)


def _fpr(group: GroupCounts) -> float | None:
    return _rate(group.false_positives, group.negatives)


def _labelled(group: GroupCounts) -> float:
    return (group.positives or 0) + (group.negatives or 0)


def equal_opportunity_difference(
    *, unprivileged: GroupCounts, privileged: GroupCounts
) -> MetricResult:
    """TPR(unprivileged) - TPR(privileged), TPR = true positives / labelled positives; undefined
    without ground truth or when a group has no labelled positives."""
    u, p = _tpr(unprivileged), _tpr(privileged)
    n = _labelled(unprivileged) + _labelled(privileged)
    if u is None or p is None:
        return MetricResult.undefined(
            _no_labels(unprivileged, privileged, "positives", "equalOpportunityDifference"), n
        )
    return MetricResult.of(u - p, n)


def average_odds_difference(*, unprivileged: GroupCounts, privileged: GroupCounts) -> MetricResult:
    """((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2; undefined without ground truth or when a group
    has no labelled positives or no labelled negatives."""
    n = _labelled(unprivileged) + _labelled(privileged)
    tpr_u, tpr_p = _tpr(unprivileged), _tpr(privileged)
    if tpr_u is None or tpr_p is None:
        return MetricResult.undefined(
            _no_labels(unprivileged, privileged, "positives", "averageOddsDifference"), n
        )
    fpr_u, fpr_p = _fpr(unprivileged), _fpr(privileged)
    if fpr_u is None or fpr_p is None:
        return MetricResult.undefined(
            _no_labels(unprivileged, privileged, "negatives", "averageOddsDifference"), n
        )
    return MetricResult.of(((fpr_u - fpr_p) + (tpr_u - tpr_p)) / 2, n)


_FUNCTIONS = {
    FairnessMetric.STATISTICAL_PARITY_DIFFERENCE: statistical_parity_difference,
    FairnessMetric.DISPARATE_IMPACT: disparate_impact,
    FairnessMetric.EQUAL_OPPORTUNITY_DIFFERENCE: equal_opportunity_difference,
    FairnessMetric.AVERAGE_ODDS_DIFFERENCE: average_odds_difference,
}


def fairness_metric(
    metric: FairnessMetric | str, *, unprivileged: GroupCounts, privileged: GroupCounts
) -> MetricResult:
    """The DriftMonitor's `fairness[].metric` by its API name."""
    if metric not in _FUNCTIONS:
        raise ValueError(f"unknown fairness metric {metric!r}")
    return _FUNCTIONS[FairnessMetric(metric)](unprivileged=unprivileged, privileged=privileged)


def _sides(unprivileged: GroupCounts, privileged: GroupCounts) -> list[tuple[str, GroupCounts]]:
    return [("unprivileged", unprivileged), ("privileged", privileged)]


def _groups(names: list[str]) -> str:
    return f"the {names[0]} group" if len(names) == 1 else "both groups"


def _have(names: list[str]) -> str:
    return f"{_groups(names)} {'has' if len(names) == 1 else 'have'}"


def _empty_group(unprivileged: GroupCounts, privileged: GroupCounts, metric: str) -> str:
    empty = [name for name, g in _sides(unprivileged, privileged) if g.predictions <= 0]
    return f"{metric} is undefined: {_have(empty)} no predictions"


_PART = {"positives": "true_positives", "negatives": "false_positives"}


def _no_labels(unprivileged: GroupCounts, privileged: GroupCounts, what: str, metric: str) -> str:
    sides = _sides(unprivileged, privileged)
    missing = [
        name for name, g in sides if getattr(g, what) is None or getattr(g, _PART[what]) is None
    ]
    if missing:
        return f"{metric} is undefined: no ground truth for {_groups(missing)}"
    empty = [name for name, g in sides if getattr(g, what) <= 0]
    return f"{metric} is undefined: {_have(empty)} no labelled {what}"
