"""Method registry and threshold semantics shared by the DriftMonitor and analysis.

Two kinds of method:
- distances (psi, jensenShannon, kullbackLeibler, wasserstein): higher means more drift; a
  score at or above a threshold crosses it.
- tests (kolmogorovSmirnov, chi2): the score is a p-value; lower means more drift; a p-value
  at or below a threshold crosses it.
Names and semantics are the DriftMonitor API's (modelship.api.driftmonitor).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelship.stats import binned


class Direction(enum.StrEnum):
    HIGHER_IS_DRIFT = "higherIsDrift"  # distances and divergences
    LOWER_IS_DRIFT = "lowerIsDrift"  # p-values


class Severity(enum.StrEnum):
    NONE = "none"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class BinnedInput:
    """What every method may use; each method reads only what it needs."""

    reference_counts: Sequence[float]
    current_counts: Sequence[float]
    centres: Sequence[float] | None = None  # numeric bins only (wasserstein)
    reference_std: float | None = None  # wasserstein normalisation


@dataclass(frozen=True)
class DriftMethod:
    name: str
    direction: Direction
    compute: Callable[[BinnedInput], float]
    default_threshold: float


@dataclass(frozen=True)
class DriftScore:
    method: str
    value: float
    severity: Severity


def _wasserstein(data: BinnedInput) -> float:
    if data.centres is None:
        raise ValueError("wasserstein needs bin centres (numeric features only)")
    return binned.wasserstein_binned(
        data.reference_counts, data.current_counts, data.centres, scale=data.reference_std
    )


METHODS: dict[str, DriftMethod] = {
    method.name: method
    for method in (
        DriftMethod(
            "psi",
            Direction.HIGHER_IS_DRIFT,
            lambda d: binned.psi(d.reference_counts, d.current_counts),
            0.1,
        ),
        DriftMethod(
            "jensenShannon",
            Direction.HIGHER_IS_DRIFT,
            lambda d: binned.jensen_shannon(d.reference_counts, d.current_counts),
            0.1,
        ),
        DriftMethod(
            "kullbackLeibler",
            Direction.HIGHER_IS_DRIFT,
            lambda d: binned.kl_divergence(d.reference_counts, d.current_counts),
            0.1,
        ),
        DriftMethod("wasserstein", Direction.HIGHER_IS_DRIFT, _wasserstein, 0.1),
        DriftMethod(
            "kolmogorovSmirnov",
            Direction.LOWER_IS_DRIFT,
            lambda d: binned.ks_binned(d.reference_counts, d.current_counts).p_value,
            0.05,
        ),
        DriftMethod(
            "chi2",
            Direction.LOWER_IS_DRIFT,
            lambda d: binned.chi_square(d.reference_counts, d.current_counts).p_value,
            0.05,
        ),
    )
}


def crosses(direction: Direction, value: float, threshold: float) -> bool:
    """Whether `value` is on the drift side of `threshold` for a method of this direction."""
    if direction is Direction.HIGHER_IS_DRIFT:
        return value >= threshold
    return value <= threshold


def classify(
    direction: Direction, value: float, warning: float | None, critical: float | None
) -> Severity:
    """Severity of one score: critical wins over warning; an absent threshold never fires."""
    if critical is not None and crosses(direction, value, critical):
        return Severity.CRITICAL
    if warning is not None and crosses(direction, value, warning):
        return Severity.WARNING
    return Severity.NONE


def score(
    method: str, data: BinnedInput, warning: float | None = None, critical: float | None = None
) -> DriftScore:
    """Compute `method` on `data` and classify it; unknown methods raise KeyError."""
    spec = METHODS[method]
    value = spec.compute(data)
    if warning is None and critical is None:
        critical = spec.default_threshold
    return DriftScore(
        method=method, value=value, severity=classify(spec.direction, value, warning, critical)
    )
