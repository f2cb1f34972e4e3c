"""The judge's one-sided tests agree with scipy on the same samples."""

from __future__ import annotations

import numpy as np
import pytest
from modelship.stats.comparison import mann_whitney_binned, two_proportions
from scipy.stats import chi2_contingency, mannwhitneyu


def expand(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=float), counts)


@pytest.mark.parametrize(
    ("canary", "stable"),
    [
        ([5, 10, 30, 40, 15], [20, 30, 30, 15, 5]),  # canary slower
        ([20, 30, 30, 15, 5], [5, 10, 30, 40, 15]),  # canary faster
        ([0, 50, 50, 0], [10, 40, 40, 10]),
        ([1, 0, 0, 0, 200], [150, 0, 0, 0, 40]),
    ],
)
def test_binned_mann_whitney_is_scipys_on_the_expanded_samples(
    canary: list[int], stable: list[int]
) -> None:
    ours = mann_whitney_binned(canary, stable)
    theirs = mannwhitneyu(
        expand(canary), expand(stable), alternative="greater", method="asymptotic"
    )
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-15)


def test_mann_whitney_without_a_difference_to_see() -> None:
    assert mann_whitney_binned([10, 0], [5, 0]).p_value == 1.0  # every value in one bin
    assert mann_whitney_binned([0, 0], [5, 3]).p_value == 1.0  # no canary sample
    with pytest.raises(ValueError, match="bins"):
        mann_whitney_binned([1, 2], [1, 2, 3])


@pytest.mark.parametrize(
    ("canary", "stable"),
    [((30, 1000), (40, 4000)), ((5, 500), (20, 2000)), ((1, 300), (30, 3000))],
)
def test_two_proportions_is_the_uncorrected_chi_square_halved_on_its_side(
    canary: tuple[int, int], stable: tuple[int, int]
) -> None:
    (e1, n1), (e2, n2) = canary, stable
    test = two_proportions(e1, n1, e2, n2)
    table = [[e1, n1 - e1], [e2, n2 - e2]]
    _, two_sided, _, _ = chi2_contingency(table, correction=False)
    expected = two_sided / 2 if e1 / n1 > e2 / n2 else 1 - two_sided / 2
    assert test.p_value == pytest.approx(expected, rel=1e-9)


def test_two_proportions_without_events_or_traffic_sees_nothing() -> None:
    assert two_proportions(0, 100, 0, 400).p_value == 1.0
    assert two_proportions(0, 0, 3, 400).p_value == 1.0
    with pytest.raises(ValueError, match="not a proportion"):
        two_proportions(5, 3, 0, 10)
