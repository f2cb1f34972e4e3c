"""Prometheus histogram buckets -> per-bin counts on the profile's bins.

The server's `modelship_feature_value_bucket` (and prediction/ground-truth) buckets are the
profile's right-closed bins, cumulative, with `le` upper bounds plus `+Inf` (docs/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


class BucketMismatchError(ValueError):
    """The scraped buckets are not the profile's bins (stale profile, other runtime)."""


def parse_le(value: str | float) -> float:
    """`le` label text ("30", "30.0", "+Inf") as a float."""
    return float(value) if not isinstance(value, str) else float(value.replace("Inf", "inf"))


def binned_counts(
    buckets: Iterable[tuple[str | float, float]], edges: Sequence[float], rel_tol: float = 1e-9
) -> list[float]:
    """De-cumulate (le, cumulative count) pairs into len(edges) + 1 bin counts.

    The `le` values must be the profile's edges plus +Inf, in any order. Negative differences
    (from `increase()` extrapolating counters scraped at slightly different times) are clamped
    to zero.
    """
    points = sorted((parse_le(le), float(count)) for le, count in buckets)
    bounds = [le for le, _ in points]
    expected = [*edges, math.inf]
    if len(bounds) != len(expected) or not all(
        math.isclose(a, b, rel_tol=rel_tol) or a == b for a, b in zip(bounds, expected, strict=True)
    ):
        raise BucketMismatchError(f"buckets {bounds} do not match the profile's edges {edges}")
    counts: list[float] = []
    previous = 0.0
    for _, cumulative in points:
        counts.append(max(cumulative - previous, 0.0))
        previous = max(previous, cumulative)
    return counts
