"""Prometheus `le` buckets back into the profile's bin counts."""

from __future__ import annotations

import pytest
from modelship.stats import BucketMismatchError, binned_counts, parse_le


def test_decumulates_in_any_order_and_any_le_formatting() -> None:
    buckets = [("+Inf", 10.0), ("30", 2.0), ("50.0", 7.0)]
    assert binned_counts(buckets, [30.0, 50.0]) == [2.0, 5.0, 3.0]


def test_extrapolation_jitter_never_gives_negative_counts() -> None:
    assert binned_counts([("1.0", 5.2), ("+Inf", 5.1)], [1.0]) == [5.2, 0.0]


@pytest.mark.parametrize(
    "buckets",
    [
        [("30.0", 1.0), ("+Inf", 2.0)],
        [("30.0", 1.0), ("60.0", 1.0), ("+Inf", 2.0)],
        [("30.0", 1.0), ("50.0", 1.0)],
    ],
)
def test_buckets_that_are_not_the_profile_bins_are_rejected(
    buckets: list[tuple[str, float]],
) -> None:
    with pytest.raises(BucketMismatchError):
        binned_counts(buckets, [30.0, 50.0])


def test_parse_le() -> None:
    assert parse_le("+Inf") == float("inf")
    assert parse_le("0.25") == 0.25
    assert parse_le(3) == 3.0
