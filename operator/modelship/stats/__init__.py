"""Pure drift statistics on binned counts: the monitor's cost never grows with traffic.

Drift functions take the reference (the profile's counts) and the live counts (from
Prometheus) over the *same* bins. Severity and MultipleTesting are the API's enums
(modelship.api.common), re-exported. See docs/statistics.md for the log base, the empty-bin
epsilon, the two-sample tests, the multiple-testing correction and the threshold semantics.
"""

from modelship.api.common import MultipleTesting, Severity
from modelship.stats.binned import (
    EPSILON,
    StatTestResult,
    chi_square,
    fill_empty,
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
    DriftScore,
    MethodSpec,
    ScoreRequest,
    classify,
    crosses,
    score,
    score_many,
)
from modelship.stats.multiple import multiple_testing

__all__ = [
    "EPSILON",
    "METHODS",
    "BinnedInput",
    "BucketMismatchError",
    "Direction",
    "DriftScore",
    "MethodSpec",
    "MultipleTesting",
    "ScoreRequest",
    "Severity",
    "StatTestResult",
    "binned_counts",
    "chi_square",
    "classify",
    "crosses",
    "fill_empty",
    "jensen_shannon",
    "kl_divergence",
    "ks_binned",
    "multiple_testing",
    "parse_le",
    "proportions",
    "psi",
    "score",
    "score_many",
    "wasserstein_binned",
]
