"""Pure drift statistics over two histograms that share the same bins.

Conventions (also in docs/statistics.md):
- Inputs are counts (the distances also accept proportions); each side is normalised to
  proportions before use.
- Logarithms are natural (nats), as in Evidently and scipy's defaults.
- PSI and KL divide by proportions, so both use one empty-bin rule (`fill_empty`): on each side
  an empty bin's proportion becomes EPSILON = 1e-4 (or, when that side's smallest non-empty
  proportion is at most 1e-4, that proportion / 1e6: Evidently's rule), and the side is then
  renormalised to sum to 1. Both sides stay probability distributions, so KL >= 0 and
  PSI = KL(ref || cur) + KL(cur || ref) exactly.
- Jensen-Shannon is the *distance* (square root of the divergence), like scipy's
  `jensenshannon` and Evidently; it needs no epsilon.
- The p-value tests (KS, chi-square) are *two-sample* tests: the reference is a sample of known
  size (the profile's counts), not an exact distribution, so they need counts on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Proportion that stands in for an empty bin in PSI and KL (Evidently's `get_binned_data`).
EPSILON = 1e-4
# When a side's smallest non-empty proportion is at most EPSILON, an empty bin gets that
# proportion divided by this, so an empty bin never weighs more than an observed one.
SMALL_BIN_DIVISOR = 1e6

ArrayLike = Sequence[float] | NDArray[np.floating] | NDArray[np.integer]


def _as_counts(values: ArrayLike, what: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{what}: expected a non-empty 1-D sequence of counts")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{what}: counts must be finite and non-negative")
    return array


def proportions(counts: ArrayLike) -> NDArray[np.float64]:
    """Counts -> proportions summing to 1; all-zero counts are an error (no data, no verdict)."""
    array = _as_counts(counts, "counts")
    total = array.sum()
    if total <= 0:
        raise ValueError("counts: all bins are empty")
    result: NDArray[np.float64] = array / total
    return result


def _pair(reference: ArrayLike, current: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    ref, cur = _as_counts(reference, "reference"), _as_counts(current, "current")
    if ref.shape != cur.shape:
        raise ValueError(f"reference has {ref.size} bins but current has {cur.size}")
    for array, what in ((ref, "reference"), (cur, "current")):
        if array.sum() <= 0:
            raise ValueError(f"{what}: all bins are empty")
    return ref / ref.sum(), cur / cur.sum()


def fill_empty(values: ArrayLike, epsilon: float = EPSILON) -> NDArray[np.float64]:
    """One side's proportions with empty bins filled, renormalised to sum to 1.

    An empty bin becomes `epsilon`, or the smallest non-empty proportion / 1e6 when that is at
    most `epsilon` (Evidently's rule); the result is then divided by its sum.
    """
    p = proportions(values)
    empty = p == 0
    if not np.any(empty):
        return p
    smallest = float(p[~empty].min())
    fill = smallest / SMALL_BIN_DIVISOR if smallest <= epsilon else epsilon
    filled = np.where(empty, fill, p)
    result: NDArray[np.float64] = filled / filled.sum()
    return result


def psi(reference: ArrayLike, current: ArrayLike, epsilon: float = EPSILON) -> float:
    """Population Stability Index: sum((cur - ref) * ln(cur / ref)) after `fill_empty`."""
    ref, cur = (fill_empty(p, epsilon) for p in _pair(reference, current))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def kl_divergence(reference: ArrayLike, current: ArrayLike, epsilon: float = EPSILON) -> float:
    """Kullback-Leibler divergence KL(reference || current) in nats, after `fill_empty`.

    Same direction as Evidently (`scipy.stats.entropy(reference, current)`), and equal to it on
    the filled proportions.
    """
    ref, cur = (fill_empty(p, epsilon) for p in _pair(reference, current))
    return max(float(np.sum(ref * np.log(ref / cur))), 0.0)


def jensen_shannon(reference: ArrayLike, current: ArrayLike, base: float | None = None) -> float:
    """Jensen-Shannon *distance* (sqrt of the divergence); natural log unless `base` is given.

    Bounded by sqrt(ln 2) ~ 0.833 in nats, by 1 in base 2 (NannyML's convention).
    """
    ref, cur = _pair(reference, current)
    mid = (ref + cur) / 2
    divergence = (_kl_terms(ref, mid) + _kl_terms(cur, mid)) / 2
    if base is not None:
        divergence /= np.log(base)
    return float(np.sqrt(max(divergence, 0.0)))


def _kl_terms(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    mask = p > 0  # 0 * log(0 / q) = 0 by convention
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def wasserstein_binned(
    reference: ArrayLike, current: ArrayLike, centres: ArrayLike, scale: float | None = None
) -> float:
    """Earth mover's distance between two histograms whose mass sits at the bins' `centres`.

    Equal to `scipy.stats.wasserstein_distance(centres, centres, reference, current)`. With
    `scale` (the reference standard deviation) it is Evidently's normed Wasserstein distance.
    """
    ref, cur = _pair(reference, current)
    points = np.asarray(centres, dtype=np.float64)
    if points.shape != ref.shape:
        raise ValueError(f"{ref.size} bins but {points.size} centres")
    if np.any(np.diff(points) < 0):
        raise ValueError("centres must be sorted ascending")
    cdf_gap = np.abs(np.cumsum(ref) - np.cumsum(cur))[:-1]
    distance = float(np.sum(cdf_gap * np.diff(points)))
    if scale is not None:
        if scale <= 0:
            return 0.0 if distance == 0 else float("inf")
        distance /= scale
    return distance


@dataclass(frozen=True)
class StatTestResult:
    statistic: float
    p_value: float
    dof: int | None = None  # chi-square's degrees of freedom; None for KS


def _test_samples(
    reference_counts: ArrayLike, current_counts: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ref = _as_counts(reference_counts, "reference")
    cur = _as_counts(current_counts, "current")
    if ref.shape != cur.shape:
        raise ValueError(f"reference has {ref.size} bins but current has {cur.size}")
    for array, what in ((ref, "reference"), (cur, "current")):
        if array.sum() <= 0:
            raise ValueError(f"{what}: all bins are empty")
    return ref, cur


def ks_binned(reference_counts: ArrayLike, current_counts: ArrayLike) -> StatTestResult:
    """Two-sample Kolmogorov-Smirnov on binned data: D = max |CDF_ref - CDF_cur| at the edges.

    The p-value is scipy's asymptotic two-sided one (`ks_2samp(..., method="asymp")`:
    `kstwo.sf(D, round(n*m/(n+m)))`) for the sample sizes n, m the counts imply, so counts (not
    proportions) must be passed on both sides: proportions sum to 1, a sample of one, and the
    test would never reject.
    """
    ref_counts, cur_counts = _test_samples(reference_counts, current_counts)
    ref, cur = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    statistic = float(np.max(np.abs(np.cumsum(ref) - np.cumsum(cur))))
    n, m = ref_counts.sum(), cur_counts.sum()
    effective = np.round(n * m / (n + m))
    if statistic == 0 or effective < 1:  # identical CDFs, or too few samples to reject anything
        return StatTestResult(statistic=statistic, p_value=1.0)
    from scipy import stats as scipy_stats  # lazily: ~40 MiB the operator rarely needs

    p_value = float(np.clip(scipy_stats.kstwo.sf(statistic, effective), 0.0, 1.0))
    return StatTestResult(statistic=statistic, p_value=p_value)


def chi_square(reference_counts: ArrayLike, current_counts: ArrayLike) -> StatTestResult:
    """Pearson chi-square test of homogeneity of two samples over the same categories or bins.

    The 2 x k contingency table (reference counts, current counts) without the bins that are
    empty in both samples; expected counts are row total x column total / grand total, degrees of
    freedom k - 1 for the k kept bins, and Yates' continuity correction when k = 2. Equal to
    `scipy.stats.chi2_contingency([reference, current])` on the kept bins. A category seen only
    live (or only in the reference) needs no epsilon: its expected count is positive.
    """
    ref, cur = _test_samples(reference_counts, current_counts)
    keep = (ref + cur) > 0
    observed = np.vstack([ref[keep], cur[keep]])
    dof = int(keep.sum()) - 1
    if dof == 0:  # one category holds everything, in both samples
        return StatTestResult(statistic=0.0, p_value=1.0, dof=0)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    if dof == 1:  # Yates: move each count towards its expectation by at most 0.5
        gap = expected - observed
        observed = observed + np.sign(gap) * np.minimum(0.5, np.abs(gap))
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    from scipy import stats as scipy_stats  # lazily: ~40 MiB the operator rarely needs

    p_value = float(scipy_stats.chi2.sf(statistic, dof))
    return StatTestResult(statistic=statistic, p_value=p_value, dof=dof)
