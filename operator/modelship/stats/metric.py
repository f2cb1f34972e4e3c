"""The result of a performance or fairness metric: a value, or why there is none."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class MetricStatus(enum.StrEnum):
    DEFINED = "defined"
    # Fewer samples than the caller's minimum: no basis to judge yet (Inconclusive).
    NOT_ENOUGH_SAMPLES = "notEnoughSamples"
    # A zero denominator: the metric does not exist for these counts. Never reported as 0.
    UNDEFINED = "undefined"


@dataclass(frozen=True)
class MetricResult:
    """`value` is set exactly when `status` is defined; otherwise `reason` says why not."""

    status: MetricStatus
    value: float | None = None
    samples: float = 0.0
    reason: str = ""

    @property
    def defined(self) -> bool:
        return self.status is MetricStatus.DEFINED

    @classmethod
    def of(cls, value: float, samples: float) -> MetricResult:
        return cls(MetricStatus.DEFINED, value, samples)

    @classmethod
    def undefined(cls, reason: str, samples: float) -> MetricResult:
        return cls(MetricStatus.UNDEFINED, None, samples, reason)

    @classmethod
    def not_enough(cls, samples: float, min_samples: float, what: str) -> MetricResult:
        return cls(
            MetricStatus.NOT_ENOUGH_SAMPLES,
            None,
            samples,
            f"only {samples:g} {what} (minSamples {min_samples:g})",
        )


def check_count(value: float, what: str) -> float:
    """A count (fractional counts from Prometheus' increase() are fine): finite, >= 0."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite, non-negative count, not {value!r}")
    return float(value)
