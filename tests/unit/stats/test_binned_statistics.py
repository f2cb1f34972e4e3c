"""Drift statistics on binned counts, table-tested against scipy on the same bins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from modelship.stats import (
    EPSILON,
    chi_square,
    jensen_shannon,
    kl_divergence,
    ks_binned,
    proportions,
    psi,
    wasserstein_binned,
)
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

# (reference counts, current counts): equal, shifted, with empty bins on either side.
CASES = [
    ([10, 20, 30, 40], [10, 20, 30, 40]),
    ([25, 25, 25, 25], [10, 20, 30, 40]),
    ([100, 0, 50, 5], [20, 30, 0, 1]),
    ([1, 1], [1000, 1]),
    ([5, 10, 15, 20, 25, 30, 35], [35, 30, 25, 20, 15, 10, 5]),
]


def filled(counts: list[int]) -> np.ndarray:
    p = np.asarray(counts, dtype=float) / sum(counts)
    return np.where(p == 0, EPSILON, p)


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_psi_is_the_symmetrised_kl_of_scipy(ref: list[int], cur: list[int]) -> None:
    r, c = filled(ref), filled(cur)
    expected = float(np.sum(rel_entr(c, r) + rel_entr(r, c)))
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_kl_matches_scipy_entropy_reference_to_current(ref: list[int], cur: list[int]) -> None:
    assert kl_divergence(ref, cur) == pytest.approx(
        sps.entropy(filled(ref), filled(cur)), rel=1e-12, abs=1e-15
    )


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


@pytest.mark.parametrize(("ref", "cur"), CASES)
def test_chi_square_matches_scipy_chisquare(ref: list[int], cur: list[int]) -> None:
    expected_props = filled(ref) / filled(ref).sum()
    expected = sps.chisquare(cur, expected_props * sum(cur))
    result = chi_square(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_identical_distributions_score_no_drift() -> None:
    ref = [3, 5, 8, 13]
    assert psi(ref, ref) == 0
    assert kl_divergence(ref, [6, 10, 16, 26]) == pytest.approx(0, abs=1e-15)
    assert jensen_shannon(ref, ref) == 0
    assert wasserstein_binned(ref, ref, [0, 1, 2, 3]) == 0
    assert ks_binned(ref, ref).statistic == 0
    assert chi_square(ref, ref).p_value == pytest.approx(1.0)


def test_an_empty_current_bin_gives_a_large_finite_psi() -> None:
    value = psi([50, 50], [100, 0])
    assert math.isfinite(value)
    assert value == pytest.approx(
        (1 - 0.5) * math.log(1 / 0.5) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    )


@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [
        ([1, 2], [1, 2, 3], "3"),
        ([1, -2], [1, 2], "non-negative"),
        ([0, 0], [1, 2], "empty"),
        ([], [], "non-empty"),
        ([1, float("nan")], [1, 2], "finite"),
    ],
)
def test_invalid_counts_are_rejected(ref: list[float], cur: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        psi(ref, cur)


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
    assert kl_divergence(ref, cur) >= -1e-12
    js = jensen_shannon(ref, cur)
    assert 0 <= js <= math.sqrt(math.log(2)) + 1e-12
    assert js == pytest.approx(jensen_shannon(cur, ref))
    assert 0 <= ks_binned(ref, cur).p_value <= 1
    assert 0 <= chi_square(ref, cur).p_value <= 1
