"""Threshold semantics: distances drift at or above a threshold, p-values at or below."""

from __future__ import annotations

import pytest
from modelship.stats import METHODS, BinnedInput, Direction, Severity, classify, score


@pytest.mark.parametrize(
    ("direction", "value", "warning", "critical", "expected"),
    [
        (Direction.HIGHER_IS_DRIFT, 0.05, 0.1, 0.25, Severity.NONE),
        (Direction.HIGHER_IS_DRIFT, 0.1, 0.1, 0.25, Severity.WARNING),
        (Direction.HIGHER_IS_DRIFT, 0.25, 0.1, 0.25, Severity.CRITICAL),
        (Direction.HIGHER_IS_DRIFT, 0.3, None, 0.25, Severity.CRITICAL),
        (Direction.HIGHER_IS_DRIFT, 0.3, 0.1, None, Severity.WARNING),
        (Direction.HIGHER_IS_DRIFT, 9.0, None, None, Severity.NONE),
        (Direction.LOWER_IS_DRIFT, 0.5, 0.05, 0.01, Severity.NONE),
        (Direction.LOWER_IS_DRIFT, 0.05, 0.05, 0.01, Severity.WARNING),
        (Direction.LOWER_IS_DRIFT, 0.01, 0.05, 0.01, Severity.CRITICAL),
        (Direction.LOWER_IS_DRIFT, 0.0500001, 0.05, 0.01, Severity.NONE),
        (Direction.LOWER_IS_DRIFT, 0.02, 0.05, 0.01, Severity.WARNING),
        (Direction.LOWER_IS_DRIFT, 0.001, 0.05, 0.01, Severity.CRITICAL),
    ],
)
def test_classify(
    direction: Direction,
    value: float,
    warning: float | None,
    critical: float | None,
    expected: Severity,
) -> None:
    assert classify(direction, value, warning, critical) is expected


def test_every_method_scores_a_shift() -> None:
    data = BinnedInput(
        reference_counts=[250, 250, 250, 250],
        current_counts=[100, 150, 300, 450],
        centres=[-1.5, -0.5, 0.5, 1.5],
        reference_std=1.0,
    )
    for name in METHODS:
        result = score(name, data)
        assert result.severity is Severity.CRITICAL, (name, result)


def test_methods_without_thresholds_use_their_defaults() -> None:
    same = BinnedInput([10, 10], [10, 10], centres=[0, 1])
    assert all(score(name, same).severity is Severity.NONE for name in METHODS)


def test_wasserstein_needs_centres() -> None:
    with pytest.raises(ValueError, match="centres"):
        score("wasserstein", BinnedInput([1, 2], [2, 1]))


def test_method_names_are_the_drift_monitor_api_names() -> None:
    from modelship.api.common import DriftMethod as ApiDriftMethod

    assert set(METHODS) == {m.value for m in ApiDriftMethod}


def test_unknown_method() -> None:
    with pytest.raises(KeyError):
        score("nope", BinnedInput([1], [1]))
