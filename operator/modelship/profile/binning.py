"""The binning rule, as pure functions.

Rule: edges at the i/k quantiles (i = 1..k-1) of the finite training values, taken as actual
data values (numpy's "inverted_cdf" method), deduplicated, without an edge at the maximum; the
outer bins are open. Why:
- quantile bins give each bin about 1/k of the reference mass, so PSI/KL never divide by a
  near-empty reference bin and every bin carries signal; equal-width bins waste bins on tails;
- deduplication keeps edges strictly increasing when a value repeats (zero-inflated or discrete
  features): such a value simply gets fewer, wider bins instead of empty ones;
- edges that are data values, with right-closed bins, make every reference bin non-empty: each
  bin holds at least the training value on its upper edge, and the top bin holds the maximum;
- open outer bins mean a live value below the training minimum or above the maximum still
  lands in a bin (the first or last), so drift to new ranges shows up as mass moving to the
  outer bins rather than being dropped;
- right-closed bins (a value equal to an edge belongs to the bin below) are what Prometheus
  histogram buckets (`le`) count, so server buckets and profile bins are the same thing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

DEFAULT_BINS = 10


def quantile_edges(values: NDArray[np.float64], bins: int = DEFAULT_BINS) -> list[float]:
    """Interior edges for up to `bins` right-closed bins with open ends; [] if constant."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    finite = values[np.isfinite(values)]
    if finite.size == 0 or bins == 1:
        return []
    quantiles = np.quantile(finite, np.arange(1, bins) / bins, method="inverted_cdf")
    edges = sorted({float(q) for q in quantiles})
    # An edge at the maximum would leave the last bin empty in the reference: drop it.
    top = float(finite.max())
    below_top = [e for e in edges if e < top]
    if below_top or float(finite.min()) == top:
        return below_top
    # Nearly all mass at the maximum: split just below it, so both bins hold reference mass.
    return [float(finite[finite < top].max())]


def bin_index(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.intp]:
    """Bin of each value: the number of edges strictly below it (right-closed bins)."""
    return np.searchsorted(edges, values, side="left")


def bin_counts(values: NDArray[np.float64], edges: list[float]) -> list[int]:
    finite = values[np.isfinite(values)]
    index = bin_index(finite, np.asarray(edges, dtype=np.float64))
    return [int(c) for c in np.bincount(index, minlength=len(edges) + 1)]
