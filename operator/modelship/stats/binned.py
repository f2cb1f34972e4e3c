"""Pure drift statistics over two histograms that share the same bins.

Conventions (also in docs/statistics.md):
- Inputs are counts or proportions; each is normalised to proportions before use.
- Logarithms are natural (nats), as in Evidently and scipy's defaults.
- Divergences that divide by a proportion (PSI, KL) replace empty bins with EPSILON = 1e-4
  (Evidently's value), so one empty bin gives a large but finite score instead of infinity.
- Jensen-Shannon is the *distance* (square root of the divergence), like scipy's
  `jensenshannon` and Evidently; it needs no epsilon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Proportion that stands in for an empty bin in PSI and KL (Evidently's `fill_zeroes` value).
EPSILON = 1e-4

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
    ref, cur = proportions(reference), proportions(current)
    if ref.shape != cur.shape:
        raise ValueError(f"reference has {ref.size} bins but current has {cur.size}")
    return ref, cur


def _fill_empty(values: NDArray[np.float64], epsilon: float) -> NDArray[np.float64]:
    return np.where(values == 0, epsilon, values)


def psi(reference: ArrayLike, current: ArrayLike, epsilon: float = EPSILON) -> float:
    """Population Stability Index: sum((cur - ref) * ln(cur / ref)); empty bins -> epsilon."""
    ref, cur = (_fill_empty(p, epsilon) for p in _pair(reference, current))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def kl_divergence(reference: ArrayLike, current: ArrayLike, epsilon: float = EPSILON) -> float:
    """Kullback-Leibler divergence KL(reference || current) in nats; empty bins -> epsilon.

    Same direction as Evidently (`scipy.stats.entropy(reference, current)`).
    """
    ref, cur = (_fill_empty(p, epsilon) for p in _pair(reference, current))
    from scipy import stats as scipy_stats  # lazily: ~40 MiB the operator rarely needs

    return float(scipy_stats.entropy(ref, cur))


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


def ks_binned(reference_counts: ArrayLike, current_counts: ArrayLike) -> StatTestResult:
    """Two-sample Kolmogorov-Smirnov on binned data: D = max |CDF_ref - CDF_cur| at the edges.

    The p-value is scipy's asymptotic two-sided one (`ks_2samp(..., method="asymp")`) for the
    sample sizes the counts imply, so counts (not proportions) must be passed.
    """
    ref_counts = _as_counts(reference_counts, "reference")
    cur_counts = _as_counts(current_counts, "current")
    ref, cur = _pair(ref_counts, cur_counts)
    statistic = float(np.max(np.abs(np.cumsum(ref) - np.cumsum(cur))))
    n, m = ref_counts.sum(), cur_counts.sum()
    effective = np.round(n * m / (n + m))
    if statistic == 0 or effective < 1:  # identical CDFs, or too few samples to reject anything
        return StatTestResult(statistic=statistic, p_value=1.0)
    from scipy import stats as scipy_stats  # lazily: ~40 MiB the operator rarely needs

    p_value = float(np.clip(scipy_stats.kstwo.sf(statistic, effective), 0.0, 1.0))
    return StatTestResult(statistic=statistic, p_value=p_value)


def chi_square(
    reference: ArrayLike, current_counts: ArrayLike, epsilon: float = EPSILON
) -> StatTestResult:
    """Pearson goodness-of-fit of the live category counts to the reference proportions.

    Expected counts are reference proportions (empty ones -> epsilon, renormalised) times the
    live total; equal to `scipy.stats.chisquare(current, expected)`. Degrees of freedom: k - 1.
    """
    cur = _as_counts(current_counts, "current")
    ref = _fill_empty(proportions(reference), epsilon)
    ref = ref / ref.sum()
    if ref.shape != cur.shape:
        raise ValueError(f"reference has {ref.size} bins but current has {cur.size}")
    total = cur.sum()
    if total <= 0:
        raise ValueError("current: all bins are empty")
    expected = ref * total
    statistic = float(np.sum((cur - expected) ** 2 / expected))
    dof = ref.size - 1
    from scipy import stats as scipy_stats  # lazily: ~40 MiB the operator rarely needs

    p_value = float(scipy_stats.chi2.sf(statistic, dof)) if dof > 0 else 1.0
    return StatTestResult(statistic=statistic, p_value=p_value)
