"""Pure statistics for drift, performance and fairness on counts: the monitor's cost never
grows with traffic.

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
from modelship.stats.fairness import (
    FAIRNESS_METRICS,
    GroupCounts,
    average_odds_difference,
    disparate_impact,
    equal_opportunity_difference,
    fairness_metric,
    group_counts,
    split_groups,
    statistical_parity_difference,
)
from modelship.stats.metric import MetricResult, MetricStatus
from modelship.stats.multiple import multiple_testing
from modelship.stats.performance import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Confusion,
    ErrorSums,
    accuracy_from_counts,
    binary_confusion,
    classification_metric,
    estimated_performance,
    expected_confusion,
    macro_average,
    realised_performance,
    regression_metric,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "EPSILON",
    "FAIRNESS_METRICS",
    "METHODS",
    "REGRESSION_METRICS",
    "BinnedInput",
    "BucketMismatchError",
    "Confusion",
    "Direction",
    "DriftScore",
    "ErrorSums",
    "GroupCounts",
    "MethodSpec",
    "MetricResult",
    "MetricStatus",
    "MultipleTesting",
    "ScoreRequest",
    "Severity",
    "StatTestResult",
    "accuracy_from_counts",
    "average_odds_difference",
    "binary_confusion",
    "binned_counts",
    "chi_square",
    "classification_metric",
    "classify",
    "crosses",
    "disparate_impact",
    "equal_opportunity_difference",
    "estimated_performance",
    "expected_confusion",
    "fairness_metric",
    "fill_empty",
    "group_counts",
    "jensen_shannon",
    "kl_divergence",
    "ks_binned",
    "macro_average",
    "multiple_testing",
    "parse_le",
    "proportions",
    "psi",
    "realised_performance",
    "regression_metric",
    "score",
    "score_many",
    "split_groups",
    "statistical_parity_difference",
    "wasserstein_binned",
]
