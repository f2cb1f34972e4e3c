"""Fairness metrics from per-group counts: values by hand, and undefined distinct from 0."""

from __future__ import annotations

import pytest
from modelship.api.driftmonitor import FairnessMetric
from modelship.stats import (
    FAIRNESS_METRICS,
    GroupCounts,
    MetricStatus,
    fairness_metric,
    group_counts,
    split_groups,
)


def group(
    predictions: float,
    favourable: float,
    tp: float | None = None,
    positives: float | None = None,
    fp: float | None = None,
    negatives: float | None = None,
) -> GroupCounts:
    return GroupCounts(predictions, favourable, positives, tp, negatives, fp)


# Both groups with ground truth: TPR 30/50 vs 40/50, FPR 10/50 vs 5/50.
U = group(100, 30, tp=30, positives=50, fp=10, negatives=50)
P = group(100, 50, tp=40, positives=50, fp=5, negatives=50)


@pytest.mark.parametrize(
    ("metric", "unprivileged", "privileged", "expected"),
    [
        ("statisticalParityDifference", U, P, 0.3 - 0.5),
        ("disparateImpact", U, P, 0.3 / 0.5),
        ("equalOpportunityDifference", U, P, 0.6 - 0.8),
        ("averageOddsDifference", U, P, ((0.2 - 0.1) + (0.6 - 0.8)) / 2),
        ("statisticalParityDifference", P, U, 0.2),  # the sign says who is favoured
        ("disparateImpact", P, U, 0.5 / 0.3),
        # parity is 0 (or 1 for the ratio), a real value
        ("statisticalParityDifference", group(10, 4), group(1000, 400), 0.0),
        ("disparateImpact", group(10, 4), group(1000, 400), 1.0),
        # the unprivileged group never favoured: defined, 0 and -rate
        ("disparateImpact", group(100, 0), group(100, 50), 0.0),
        ("statisticalParityDifference", group(100, 0), group(100, 50), -0.5),
        # a privileged group never favoured still has a parity difference
        ("statisticalParityDifference", group(100, 20), group(100, 0), 0.2),
        # fractional counts from increase()
        ("equalOpportunityDifference", group(9.5, 3, 2.5, 5), group(8, 4, 3, 4), 0.5 - 0.75),
    ],
)
def test_values(
    metric: str, unprivileged: GroupCounts, privileged: GroupCounts, expected: float
) -> None:
    result = fairness_metric(metric, unprivileged=unprivileged, privileged=privileged)
    assert result.status is MetricStatus.DEFINED
    assert result.value == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("metric", "unprivileged", "privileged", "reason"),
    [
        (
            "statisticalParityDifference",
            group(0, 0),
            group(10, 5),
            "the unprivileged group has no predictions",
        ),
        ("disparateImpact", group(10, 5), group(0, 0), "the privileged group has no predictions"),
        (
            "disparateImpact",
            group(0, 0),
            group(0, 0),
            "both groups have no predictions",
        ),
        (
            "disparateImpact",
            group(100, 20),
            group(100, 0),
            "the privileged group has no favourable predictions",
        ),
        (
            "disparateImpact",
            group(100, 0),
            group(100, 0),
            "the privileged group has no favourable predictions",
        ),  # 0 / 0
        (
            "equalOpportunityDifference",
            group(100, 30),
            group(100, 50),
            "no ground truth for both groups",
        ),
        (
            "equalOpportunityDifference",
            U,
            group(100, 50, tp=0, positives=0),
            "the privileged group has no labelled positives",
        ),
        (
            "averageOddsDifference",
            group(100, 30, tp=30, positives=50),
            P,
            "no ground truth for the unprivileged group",
        ),
        (
            "averageOddsDifference",
            group(100, 30, tp=30, positives=50, fp=0, negatives=0),
            P,
            "the unprivileged group has no labelled negatives",
        ),
    ],
)
def test_zero_denominators_are_undefined_not_zero(
    metric: str, unprivileged: GroupCounts, privileged: GroupCounts, reason: str
) -> None:
    result = fairness_metric(metric, unprivileged=unprivileged, privileged=privileged)
    assert result.status is MetricStatus.UNDEFINED
    assert result.value is None
    assert result.reason == f"{metric} is undefined: {reason}"


def test_groups_pool_on_either_side_of_the_privileged_values() -> None:
    groups = {
        "M": group(100, 50, tp=40, positives=50, fp=5, negatives=50),
        "F": group(60, 20, tp=18, positives=30, fp=6, negatives=30),
        "X": group(40, 10, tp=12, positives=20, fp=4, negatives=20),
    }
    unprivileged, privileged = split_groups(groups, privileged=["M"])
    assert unprivileged == group(100, 30, tp=30, positives=50, fp=10, negatives=50)
    assert privileged == groups["M"]
    assert fairness_metric(
        "statisticalParityDifference", unprivileged=unprivileged, privileged=privileged
    ).value == pytest.approx(-0.2)
    # a group without ground truth leaves its side without ground truth
    partial = {**groups, "X": group(40, 10)}
    unprivileged, _ = split_groups(partial, privileged=["M"])
    assert unprivileged.positives is None
    assert unprivileged.predictions == 100
    # no group on a side: an empty side, undefined metrics
    unprivileged, privileged = split_groups({"M": groups["M"]}, privileged=["M"])
    assert unprivileged.predictions == 0
    assert not fairness_metric(
        "disparateImpact", unprivileged=unprivileged, privileged=privileged
    ).defined


def test_metric_names_are_the_api_names() -> None:
    assert set(FAIRNESS_METRICS) == {m.value for m in FairnessMetric}
    with pytest.raises(ValueError, match="unknown fairness metric"):
        fairness_metric("theilIndex", unprivileged=U, privileged=P)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"predictions": 10, "favourable": 11}, "favourable predictions exceed"),
        ({"predictions": -1, "favourable": 0}, "predictions must be"),
        ({"predictions": 10, "favourable": 1, "positives": 2, "true_positives": 3}, "exceed"),
        ({"predictions": 10, "favourable": 1, "negatives": 1, "false_positives": 2}, "exceed"),
    ],
)
def test_invalid_counts(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GroupCounts(**kwargs)


def test_group_counts_from_the_servers_series() -> None:
    predictions = {"approve": 30, "deny": 60, "review": 10}
    feedback = {
        ("approve", "approve"): 12,
        ("deny", "approve"): 8,
        ("approve", "deny"): 3,
        ("deny", "deny"): 27,
        ("review", "deny"): 5,
    }
    g = group_counts(predictions, favourable={"approve"}, feedback=feedback)
    assert g == GroupCounts(
        100, 30, positives=20, true_positives=12, negatives=35, false_positives=3
    )
    assert group_counts(predictions, favourable={"approve", "review"}) == GroupCounts(100, 40)
