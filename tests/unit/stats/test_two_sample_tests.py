"""The p-value tests are two-sample tests: without drift they flag at most alpha of the time.

Seeded simulations, a few hundred evaluations each. The binomial standard deviation of a rate
of 0.05 over 400 runs is 0.011, so "at most alpha" is checked as alpha + 2.5 sd.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from modelship.stats import chi_square, ks_binned
from scipy import stats as sps

ALPHA = 0.05
RUNS = 400
SLACK = 2.5 * np.sqrt(ALPHA * (1 - ALPHA) / RUNS)
CATEGORIES = np.array([0.5, 0.2, 0.15, 0.1, 0.04, 0.01])  # a categorical feature
DECILES = np.full(10, 0.1)  # a numeric feature on the profile's quantile bins

Test = Callable[[np.ndarray, np.ndarray], float]


def chi2_p(ref: np.ndarray, cur: np.ndarray) -> float:
    return chi_square(ref, cur).p_value


def ks_p(ref: np.ndarray, cur: np.ndarray) -> float:
    return ks_binned(ref, cur).p_value


def one_sample_chi2_p(ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently's `chisquare` stat test: the reference taken as the exact distribution."""
    expected = ref * cur.sum() / ref.sum()
    keep = expected > 0
    return float(sps.chisquare(cur[keep], expected[keep] * cur[keep].sum() / cur.sum()).pvalue)


def flag_rate(test: Test, population: np.ndarray, n: int, m: int, from_reference: bool) -> float:
    """Share of runs flagged at ALPHA; live drawn from the population, or from the reference's
    own proportions."""
    rng = np.random.default_rng(20240611)
    flagged = 0
    for _ in range(RUNS):
        ref = rng.multinomial(n, population).astype(float)
        live_from = ref / ref.sum() if from_reference else population
        cur = rng.multinomial(m, live_from).astype(float)
        flagged += test(ref, cur) <= ALPHA
    return flagged / RUNS


@pytest.mark.parametrize(
    ("test", "population"), [(chi2_p, CATEGORIES), (ks_p, DECILES), (chi2_p, DECILES)]
)
@pytest.mark.parametrize(("n", "m"), [(20_000, 1_000), (1_000, 1_000), (500, 2_000)])
def test_no_drift_flags_at_most_alpha(test: Test, population: np.ndarray, n: int, m: int) -> None:
    # Reference and live traffic drawn from one population: the null of a two-sample test.
    assert flag_rate(test, population, n, m, from_reference=False) <= ALPHA + SLACK


@pytest.mark.parametrize(("test", "population"), [(chi2_p, CATEGORIES), (ks_p, DECILES)])
def test_live_drawn_from_the_reference_proportions_flags_at_most_alpha(
    test: Test, population: np.ndarray
) -> None:
    assert flag_rate(test, population, 5_000, 1_000, from_reference=True) <= ALPHA + SLACK


def test_a_one_sample_test_flags_samples_of_the_same_population() -> None:
    # What modelship deliberately does not do: Evidently's one-sample chi-square ignores the
    # reference's own sampling noise, so equal-sized samples of one population are "drifted"
    # far more often than alpha; the two-sample test of homogeneity is not.
    one_sample = flag_rate(one_sample_chi2_p, CATEGORIES, 1_000, 1_000, from_reference=False)
    two_sample = flag_rate(chi2_p, CATEGORIES, 1_000, 1_000, from_reference=False)
    assert one_sample > 4 * ALPHA
    assert two_sample <= ALPHA + SLACK


def test_the_two_sample_tests_detect_a_real_change() -> None:
    rng = np.random.default_rng(7)
    shifted = np.array([0.42, 0.28, 0.15, 0.1, 0.04, 0.01])  # 8 points moved between two
    detected = 0
    for _ in range(100):
        ref = rng.multinomial(20_000, CATEGORIES).astype(float)
        cur = rng.multinomial(1_000, shifted).astype(float)
        detected += chi2_p(ref, cur) <= 0.01
    assert detected >= 95  # power ~0.999 at 1,000 live samples (0.93 for 6 points)
