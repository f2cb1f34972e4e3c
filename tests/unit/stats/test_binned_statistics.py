"""Drift statistics on binned counts, table-tested against scipy and Evidently on the same bins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from modelship.stats import (
    EPSILON,
    chi_square,
    fill_empty,
    jensen_shannon,
    kl_divergence,
    ks_binned,
    proportions,
    psi,
    wasserstein_binned,
)
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

# (reference counts, current counts): equal, shifted, with empty bins on either side or both.
CASES = [
    ([10, 20, 30, 40], [10, 20, 30, 40]),
    ([25, 25, 25, 25], [10, 20, 30, 40]),
    ([100, 0, 50, 5], [20, 30, 0, 1]),  # empty on both sides, in different bins
    ([1, 1], [1000, 1]),
    ([5, 10, 15, 20, 25, 30, 35], [35, 30, 25, 20, 15, 10, 5]),
    ([100, 200, 300, 0], [100, 200, 300, 0]),  # the same bin empty on both sides
    ([100, 200, 300, 400], [0, 0, 50, 950]),  # empty live bins only
    ([0, 200, 300, 400], [10, 20, 50, 950]),  # an empty reference bin only
    ([1, 10**6, 10**6], [0, 5, 5]),  # a reference proportion below 1e-4: Evidently's small fill
]
EMPTY = [case for case in CASES if 0 in case[0] or 0 in case[1]]


def evidently_percents(counts: list[int]) -> np.ndarray:
    """Evidently's `get_binned_data(..., feel_zeroes=True)` on binned counts (not renormalised)."""
    p = np.asarray(counts, dtype=float) / sum(counts)
    smallest = p[p != 0].min()
    np.place(p, p == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return p


def evidently_psi(ref: list[int], cur: list[int]) -> float:
    r, c = evidently_percents(ref), evidently_percents(cur)
    return float(np.sum((r - c) * np.log(r / c)))


def evidently_kl(ref: list[int], cur: list[int]) -> float:
    return float(sps.entropy(evidently_percents(ref), evidently_percents(cur)))


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([1, 1], [0.5, 0.5]),
        ([1, 0, 1], [0.5 / (1 + EPSILON), EPSILON / (1 + EPSILON), 0.5 / (1 + EPSILON)]),
        ([0, 0, 4], [EPSILON / (1 + 2 * EPSILON), EPSILON / (1 + 2 * EPSILON), 1 / (1 + 2e-4)]),
        # smallest non-empty proportion 1e-5 <= 1e-4: empty bins get 1e-5 / 1e6 = 1e-11
        ([1, 99_999, 0], [1e-5 / (1 + 1e-11), 0.99999 / (1 + 1e-11), 1e-11 / (1 + 1e-11)]),
    ],
)
def test_fill_empty_is_evidentlys_rule_renormalised(
    counts: list[int], expected: list[float]
) -> None:
    filled = fill_empty(counts)
    assert filled.tolist() == pytest.approx(expected, rel=1e-12)
    assert filled.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_psi_is_the_symmetrised_kl(ref: list[int], cur: list[int]) -> None:
    assert psi(ref, cur) == pytest.approx(
        kl_divergence(ref, cur) + kl_divergence(cur, ref), rel=1e-10, abs=1e-15
    )


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_kl_equals_evidentlys_kl_div_and_scipy_entropy(ref: list[int], cur: list[int]) -> None:
    # Evidently's kl_div is scipy.stats.entropy on its filled proportions, which renormalises.
    assert kl_divergence(ref, cur) == pytest.approx(evidently_kl(ref, cur), rel=1e-10, abs=1e-15)
    assert kl_divergence(ref, cur) == pytest.approx(
        sps.entropy(fill_empty(ref), fill_empty(cur)), rel=1e-12, abs=1e-15
    )


@pytest.mark.parametrize(("ref", "cur"), [c for c in CASES if c not in EMPTY])
def test_psi_equals_evidentlys_psi_without_empty_bins(ref: list[int], cur: list[int]) -> None:
    assert psi(ref, cur) == pytest.approx(evidently_psi(ref, cur), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("ref", "cur"), EMPTY)
def test_psi_is_within_the_epsilon_of_evidentlys_psi_with_empty_bins(
    ref: list[int], cur: list[int]
) -> None:
    # Evidently does not renormalise after filling; the difference is the filled mass
    # (at most k * 1e-4 of each side) times the score.
    added = len(ref) * EPSILON
    assert psi(ref, cur) == pytest.approx(evidently_psi(ref, cur), rel=2 * added, abs=1e-15)


def by_hand(ref: list[float], cur: list[float]) -> float:
    return sum((c - r) * math.log(c / r) for r, c in zip(ref, cur, strict=True))


E = EPSILON


@pytest.mark.parametrize(
    ("ref", "cur", "expected"),
    [
        # one empty live bin of two: live proportions (1, 1e-4) / 1.0001
        ([50, 50], [100, 0], by_hand([0.5, 0.5], [1 / (1 + E), E / (1 + E)])),
        # the empty bin on the reference side instead: PSI is symmetric
        ([100, 0], [50, 50], by_hand([1 / (1 + E), E / (1 + E)], [0.5, 0.5])),
        # the same bin empty on both sides: both filled, it adds almost nothing
        (
            [50, 50, 0],
            [100, 0, 0],
            by_hand(
                [0.5 / (1 + E), 0.5 / (1 + E), E / (1 + E)],
                [1 / (1 + 2 * E), E / (1 + 2 * E), E / (1 + 2 * E)],
            ),
        ),
    ],
)
def test_psi_with_empty_bins_is_large_and_finite(
    ref: list[int], cur: list[int], expected: float
) -> None:
    value = psi(ref, cur)
    assert math.isfinite(value)
    assert 4 < value < 5
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_jensen_shannon_matches_scipy_in_nats_and_bits(ref: list[int], cur: list[int]) -> None:
    assert jensen_shannon(ref, cur) == pytest.approx(jensenshannon(ref, cur), abs=1e-7)
    assert jensen_shannon(ref, cur, base=2) == pytest.approx(
        jensenshannon(ref, cur, base=2), abs=1e-7
    )


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_wasserstein_matches_scipy_on_bin_centres(ref: list[int], cur: list[int]) -> None:
    centres = np.linspace(-3, 7, len(ref)) ** 3 / 10  # uneven spacing on purpose
    expected = sps.wasserstein_distance(centres, centres, ref, cur)
    assert wasserstein_binned(ref, cur, centres) == pytest.approx(expected, abs=1e-12)
    assert wasserstein_binned(ref, cur, centres, scale=2.0) == pytest.approx(expected / 2)


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_ks_matches_scipy_two_sample_asymptotic_on_binned_samples(
    ref: list[int], cur: list[int]
) -> None:
    centres = np.arange(len(ref), dtype=float)
    sample_ref, sample_cur = np.repeat(centres, ref), np.repeat(centres, cur)
    expected = sps.ks_2samp(sample_ref, sample_cur, method="asymp")
    result = ks_binned(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("ref", "cur", "n_m"),
    [
        ([500, 500], [10, 90], 1000 * 100 / 1100),
        ([10, 90], [500, 500], 1000 * 100 / 1100),
        ([5000, 5000], [5000, 5000], 5000.0),
    ],
)
def test_ks_p_value_uses_the_effective_sample_size(
    ref: list[int], cur: list[int], n_m: float
) -> None:
    result = ks_binned(ref, cur)
    expected = 1.0 if result.statistic == 0 else sps.kstwo.sf(result.statistic, round(n_m))
    assert result.p_value == pytest.approx(expected, rel=1e-12)


def kept(ref: list[float], cur: list[float]) -> np.ndarray:
    table = np.array([ref, cur], dtype=float)
    return table[:, table.sum(axis=0) > 0]


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_chi_square_is_scipys_chi2_contingency_on_the_kept_bins(
    ref: list[int], cur: list[int]
) -> None:
    table = kept(ref, cur)
    result = chi_square(ref, cur)
    if table.shape[1] < 2:
        assert (result.statistic, result.p_value, result.dof) == (0.0, 1.0, 0)
        return
    expected = sps.chi2_contingency(table)  # Yates' correction for 2 bins, as scipy's default
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-10, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-8, abs=1e-300)
    assert result.dof == expected.dof == table.shape[1] - 1


def test_chi_square_drops_categories_empty_in_both_samples() -> None:
    # The reported defect: an empty category used to add ~0.5 and a degree of freedom each,
    # and the one-sample test on these exact proportions scored p = 1.6e-21.
    result = chi_square([600_000, 300_000, 100_000, 0], [600, 300, 100, 0])
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)
    assert result.dof == 2


@pytest.mark.parametrize(
    ("ref", "cur", "statistic", "dof"),
    [
        # hand-computed: table [[50, 50], [70, 30]], expected [[60, 40], [60, 40]], |d| = 10,
        # Yates: (10 - 0.5)^2 * (2/60 + 2/40)
        ([50, 50], [70, 30], 9.5**2 * (2 / 60 + 2 / 40), 1),
        # 3 categories, no Yates: expected [[40, 30, 30], [40, 30, 30]], |d| = 10, 10, 0
        ([30, 40, 30], [50, 20, 30], 2 * (100 / 40 + 100 / 30), 2),
        # a category only seen live: no epsilon, its expected count is positive
        ([60, 40, 0], [30, 20, 50], None, 2),
    ],
)
def test_chi_square_by_hand(
    ref: list[int], cur: list[int], statistic: float | None, dof: int
) -> None:
    result = chi_square(ref, cur)
    assert result.dof == dof
    if statistic is not None:
        assert result.statistic == pytest.approx(statistic, rel=1e-12)
        assert result.p_value == pytest.approx(sps.chi2.sf(statistic, dof), rel=1e-12)
    else:
        assert math.isfinite(result.statistic)
        assert result.p_value < 1e-10


def test_chi_square_is_symmetric_in_its_samples() -> None:
    a, b = [120, 30, 50, 0, 7], [100, 50, 40, 3, 0]
    assert chi_square(a, b) == chi_square(b, a)


def test_identical_distributions_score_no_drift() -> None:
    ref = [3, 5, 8, 13]
    assert psi(ref, ref) == 0
    assert kl_divergence(ref, [6, 10, 16, 26]) == pytest.approx(0, abs=1e-15)
    assert jensen_shannon(ref, ref) == 0
    assert wasserstein_binned(ref, ref, [0, 1, 2, 3]) == 0
    assert ks_binned(ref, ref).statistic == 0
    assert chi_square(ref, ref).p_value == pytest.approx(1.0)
    assert chi_square([30, 50, 80, 130], ref).p_value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [
        ([1, 2], [1, 2, 3], "3"),
        ([1, -2], [1, 2], "non-negative"),
        ([0, 0], [1, 2], "empty"),
        ([1, 2], [0, 0], "empty"),
        ([], [], "non-empty"),
        ([1, float("nan")], [1, 2], "finite"),
    ],
)
@pytest.mark.parametrize("function", [psi, kl_divergence, jensen_shannon, ks_binned, chi_square])
def test_invalid_counts_are_rejected(
    function: object, ref: list[float], cur: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        function(ref, cur)  # type: ignore[operator]


def test_proportions_sum_to_one() -> None:
    assert proportions([1, 3]).tolist() == [0.25, 0.75]


counts = st.lists(st.integers(0, 10_000), min_size=2, max_size=12).filter(lambda c: sum(c) > 0)


@given(counts, st.data())
def test_distances_are_non_negative_and_bounded(ref: list[int], data: st.DataObject) -> None:
    cur = data.draw(
        st.lists(st.integers(0, 10_000), min_size=len(ref), max_size=len(ref)).filter(
            lambda c: sum(c) > 0
        )
    )
    assert psi(ref, cur) >= 0
    assert kl_divergence(ref, cur) >= 0
    assert psi(ref, cur) == pytest.approx(
        kl_divergence(ref, cur) + kl_divergence(cur, ref), rel=1e-9, abs=1e-12
    )
    js = jensen_shannon(ref, cur)
    assert 0 <= js <= math.sqrt(math.log(2)) + 1e-12
    assert js == pytest.approx(jensen_shannon(cur, ref))
    assert 0 <= ks_binned(ref, cur).p_value <= 1
    assert 0 <= chi_square(ref, cur).p_value <= 1
