"""Method registry and threshold semantics shared by the DriftMonitor and analysis.

Two kinds of method:
- distances (psi, jensenShannon, kullbackLeibler, wasserstein): higher means more drift; a
  score at or above a threshold crosses it.
- tests (kolmogorovSmirnov, chi2): the score is a p-value; lower means more drift; a p-value
  at or below a threshold crosses it.
The method names, the severities and the default thresholds are the DriftMonitor API's
(modelship.api.common); this module computes and classifies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from modelship.api.common import (
    DEFAULT_MULTIPLE_TESTING,
    DEFAULT_THRESHOLDS,
    P_VALUE_METHODS,
    DefaultThresholds,
    DriftMethod,
    MultipleTesting,
    Severity,
)
from modelship.stats import binned
from modelship.stats.multiple import multiple_testing


class Direction(enum.StrEnum):
    HIGHER_IS_DRIFT = "higherIsDrift"  # distances and divergences
    LOWER_IS_DRIFT = "lowerIsDrift"  # p-values


@dataclass(frozen=True)
class BinnedInput:
    """What every method may use; each method reads only what it needs.

    Counts, not proportions: the p-value tests need the sample sizes on both sides (the
    profile's `counts` for the reference, the live bin counts for the current side).
    """

    reference_counts: Sequence[float]
    current_counts: Sequence[float]
    centres: Sequence[float] | None = None  # numeric bins only (wasserstein)
    reference_std: float | None = None  # wasserstein normalisation


@dataclass(frozen=True)
class MethodSpec:
    """How one DriftMonitor method is computed, which way it drifts, and its defaults."""

    method: DriftMethod
    compute: Callable[[BinnedInput], float]

    @property
    def name(self) -> str:
        return self.method.value

    @property
    def direction(self) -> Direction:
        if self.method in P_VALUE_METHODS:
            return Direction.LOWER_IS_DRIFT
        return Direction.HIGHER_IS_DRIFT

    @property
    def is_p_value(self) -> bool:
        return self.method in P_VALUE_METHODS

    @property
    def defaults(self) -> DefaultThresholds:
        return DEFAULT_THRESHOLDS[self.method]


@dataclass(frozen=True)
class DriftScore:
    """One classified score. `value` is what the thresholds were compared with: the adjusted
    p-value for a test under a multiple-testing correction; `raw_value` is before adjustment.
    Without a value (`value is None`) `reason` says why, e.g. for an Inconclusive status."""

    method: DriftMethod
    value: float | None
    severity: Severity
    raw_value: float | None = None
    reason: str = ""


def _wasserstein(data: BinnedInput) -> float:
    if data.centres is None:
        raise ValueError("wasserstein needs bin centres (numeric features only)")
    return binned.wasserstein_binned(
        data.reference_counts, data.current_counts, data.centres, scale=data.reference_std
    )


_COMPUTE: dict[DriftMethod, Callable[[BinnedInput], float]] = {
    DriftMethod.PSI: lambda d: binned.psi(d.reference_counts, d.current_counts),
    DriftMethod.JENSEN_SHANNON: lambda d: binned.jensen_shannon(
        d.reference_counts, d.current_counts
    ),
    DriftMethod.KULLBACK_LEIBLER: lambda d: binned.kl_divergence(
        d.reference_counts, d.current_counts
    ),
    DriftMethod.WASSERSTEIN: _wasserstein,
    DriftMethod.KOLMOGOROV_SMIRNOV: lambda d: (
        binned.ks_binned(d.reference_counts, d.current_counts).p_value
    ),
    DriftMethod.CHI2: lambda d: binned.chi_square(d.reference_counts, d.current_counts).p_value,
}

# Keyed by the API's DriftMethod (a str enum, so plain names such as "psi" look up too).
METHODS: Mapping[str, MethodSpec] = MappingProxyType(
    {method: MethodSpec(method, _COMPUTE[method]) for method in DriftMethod}
)


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


def _spec(method: DriftMethod | str) -> MethodSpec:
    return METHODS[method]  # unknown methods raise KeyError


def _thresholds(
    spec: MethodSpec, warning: float | None, critical: float | None
) -> tuple[float | None, float | None]:
    if warning is None and critical is None:
        return spec.defaults.warning, spec.defaults.critical
    return warning, critical


def score(
    method: DriftMethod | str,
    data: BinnedInput,
    warning: float | None = None,
    critical: float | None = None,
) -> DriftScore:
    """Compute `method` on `data` and classify it; with neither threshold given, the method's
    defaults apply. Unknown methods raise KeyError, unusable data (no live counts, no
    centres for wasserstein) ValueError."""
    spec = _spec(method)
    value = spec.compute(data)
    warning, critical = _thresholds(spec, warning, critical)
    return DriftScore(
        method=spec.method,
        value=value,
        severity=classify(spec.direction, value, warning, critical),
        raw_value=value,
    )


@dataclass(frozen=True)
class ScoreRequest:
    """One feature (or the prediction) of an evaluation: its method, data and thresholds."""

    method: DriftMethod | str
    data: BinnedInput
    warning: float | None = None
    critical: float | None = None


def score_many(
    requests: Sequence[ScoreRequest],
    correction: MultipleTesting | str = DEFAULT_MULTIPLE_TESTING,
) -> list[DriftScore]:
    """Score one evaluation's features together, in order.

    The p-values of the p-value tests among them form one family and are adjusted with
    `correction` before they are classified; distances are classified as they are. A request
    whose data cannot be scored (ValueError, e.g. all live bins empty, mismatched bins, or
    wasserstein without centres) gets `value=None`, severity none and the error as `reason`,
    and is not part of the family. Unknown methods raise KeyError.
    """
    specs = [_spec(r.method) for r in requests]
    raw: list[float | None] = []
    reasons: list[str] = []
    for request, spec in zip(requests, specs, strict=True):
        try:
            raw.append(spec.compute(request.data))
            reasons.append("")
        except ValueError as err:
            raw.append(None)
            reasons.append(str(err))
    tested = [
        (i, p)
        for i, (spec, p) in enumerate(zip(specs, raw, strict=True))
        if spec.is_p_value and p is not None
    ]
    corrected = multiple_testing([p for _, p in tested], correction)
    adjusted = {i: p for (i, _), p in zip(tested, corrected, strict=True)}
    out = []
    for i, (request, spec) in enumerate(zip(requests, specs, strict=True)):
        value = adjusted.get(i, raw[i])
        if value is None:
            out.append(DriftScore(spec.method, None, Severity.NONE, None, reasons[i]))
            continue
        warning, critical = _thresholds(spec, request.warning, request.critical)
        severity = classify(spec.direction, value, warning, critical)
        out.append(DriftScore(spec.method, value, severity, raw[i]))
    return out
