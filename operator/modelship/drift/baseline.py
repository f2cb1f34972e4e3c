"""The baseline window as the reference (spec.reference): the live counts of an earlier
window, on the profile's bins, when there are enough of them. Pure.

Too few predictions in the baseline, or counts that cannot be on the profile's bins (another
profile served then): the profile is the reference, and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.bins import counts_of, feature_pieces, prediction_pieces
from modelship.drift.observed import LiveCounts
from modelship.profile.schema import Profile
from modelship.stats.buckets import BucketMismatchError


@dataclass(frozen=True)
class Baseline:
    counts: LiveCounts | None
    """The baseline's counts when they are the reference; None: the profile is."""
    samples: float
    """Predictions in the baseline window."""
    window: str
    offset: str
    reason: str = ""
    """Why the profile is the reference after all."""

    @property
    def source(self) -> str:
        return "profile" if self.counts is None else "window"


def baseline_of(spec: DriftMonitorSpec, profile: Profile, live: LiveCounts) -> Baseline | None:
    """The reference the spec asks for, or None when it asks for the profile."""
    ref = spec.reference
    if ref is None:
        return None
    base = live.reference
    samples = base.rows if base is not None else 0.0
    minimum = ref.min_samples or spec.min_samples
    if base is None or samples < minimum:
        return Baseline(None, samples, ref.window, ref.offset,
                        f"only {samples:g} predictions in the baseline window "
                        f"(minSamples {minimum}): the profile is the reference")  # fmt: skip
    ignored = set(spec.features.ignore or [])
    checks = [(f.name, f.distribution, feature_pieces(base, f.name))
              for f in profile.features if f.name not in ignored]  # fmt: skip
    if spec.prediction is not None:
        checks.append(("prediction", profile.prediction.distribution, prediction_pieces(base)))
    for name, dist, pieces in checks:
        try:
            counts_of(dist, pieces)
        except BucketMismatchError as err:
            return Baseline(None, samples, ref.window, ref.offset,
                            f"baseline {name}: {err}: the profile is the reference")  # fmt: skip
    return Baseline(base, samples, ref.window, ref.offset)
