"""Drift statistics on binned counts: the monitor's cost never grows with traffic.

Every function takes the reference distribution (from the profile) and the live counts (from
Prometheus) over the *same* bins. See docs/statistics.md for the log base, the empty-bin epsilon
and the threshold semantics of each method.
"""

from modelship.stats.binned import (
    EPSILON,
    StatTestResult,
    chi_square,
    jensen_shannon,
    kl_divergence,
    ks_binned,
    proportions,
    psi,
    wasserstein_binned,
)
from modelship.stats.buckets import BucketMismatchError, binned_counts, parse_le
from modelship.stats.drift import (
    METHODS,
    BinnedInput,
    Direction,
    DriftMethod,
    DriftScore,
    Severity,
    classify,
    score,
)

__all__ = [
    "EPSILON",
    "METHODS",
    "BinnedInput",
    "BucketMismatchError",
    "Direction",
    "DriftMethod",
    "DriftScore",
    "Severity",
    "StatTestResult",
    "binned_counts",
    "chi_square",
    "classify",
    "jensen_shannon",
    "kl_divergence",
    "ks_binned",
    "parse_le",
    "proportions",
    "psi",
    "score",
    "wasserstein_binned",
]
