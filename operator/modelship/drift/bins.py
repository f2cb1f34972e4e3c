"""Live counts on the profile's bins, against the profile's counts or a baseline's. Pure."""

from __future__ import annotations

from modelship.drift.observed import Buckets, LiveCounts
from modelship.profile.schema import CategoricalDistribution, NumericDistribution
from modelship.stats.buckets import BucketMismatchError, binned_counts
from modelship.stats.drift import BinnedInput

OTHER = "__other__"
Pieces = tuple[Buckets | None, dict[str, float] | None]
"""One column's histogram buckets (numeric) or category counts (categorical)."""
NO_SERIES = "no live series: the serving model exports no such feature"


def counts_of(dist: NumericDistribution | CategoricalDistribution, pieces: Pieces) -> list[float]:
    """Per-bin counts on the profile's bins: numeric bins, or the categories plus __other__.
    Raises BucketMismatchError when the counts cannot be on these bins."""
    buckets, categories = pieces
    if isinstance(dist, NumericDistribution):
        if not buckets:
            raise BucketMismatchError(NO_SERIES)
        return binned_counts(buckets, dist.edges)
    if not categories:
        raise BucketMismatchError(NO_SERIES)
    unknown_categories = sorted(set(categories) - {*dist.categories, OTHER})
    if unknown_categories:
        raise BucketMismatchError(
            f"live categories {unknown_categories[:5]} are not the profile's: the server runs "
            "another profile"
        )
    return [*(categories.get(c, 0.0) for c in dist.categories), categories.get(OTHER, 0.0)]


def binned(
    dist: NumericDistribution | CategoricalDistribution, live: Pieces,
    reference: Pieces | None = None,
) -> BinnedInput:  # fmt: skip
    """The live counts against the reference: the profile's counts, or a baseline's."""
    current = counts_of(dist, live)
    if isinstance(dist, NumericDistribution):
        expected = counts_of(dist, reference) if reference else list(map(float, dist.counts))
        return BinnedInput(reference_counts=expected, current_counts=current,
                           centres=dist.centres(), reference_std=dist.std)  # fmt: skip
    expected = counts_of(dist, reference) if reference else [*map(float, dist.counts), 0.0]
    return BinnedInput(reference_counts=expected, current_counts=current)


def feature_pieces(live: LiveCounts, name: str) -> Pieces:
    return live.numeric.get(name), live.categorical.get(name)


def prediction_pieces(live: LiveCounts) -> Pieces:
    return live.prediction_buckets, live.prediction_classes
