"""The validation gate a retrained candidate must pass before promotion (docs/validation.md).

Pure: metrics in, a verdict out. Absolute bounds (`minMetrics`, `maxMetrics`) on the
candidate's metrics, and champion/challenger comparisons (`compare`) with the baseline: the
serving model, measured by the Job on the same held-out data.

One semantics for every comparison, whatever the sign of the metric:

    regression = baseline - candidate   (higherIsBetter)
                 candidate - baseline   (lowerIsBetter)
    allowed    = maxRegression          (absolute: the metric's own units)
                 maxRegression * |baseline|   (relative: a fraction of the magnitude)
    passes when regression <= allowed

Dividing by the baseline's magnitude rather than by the signed baseline keeps the direction
of the check on a negative baseline (r2, a log-likelihood); a relative margin of a zero
baseline is zero, so the candidate must not be worse at all. A metric that is missing from
the candidate, or not a finite number on either side, fails its check: never a silent pass.
A baseline that lacks a compared metric (or slice) is decided by `onMissingBaseline`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from modelship.api.retrainpolicy import (
    Comparison,
    Direction,
    OnMissingBaseline,
    Validation,
)

Metrics = Mapping[str, float]
SliceMetrics = Mapping[str, Mapping[str, float]]
"""Per-slice metrics: slice name -> metric name -> value."""

REASON_LIMIT = 1024
"""The reason is recorded in the run's status and Events: at most this many characters."""

# A compared threshold is computed (baseline - margin), so a candidate exactly on it may miss
# it by a rounding error: 0.9 - 0.01 is 0.8900000000000001. This much is counted as on it.
_REL_TOLERANCE = 1e-9
_ABS_TOLERANCE = 1e-12


class CheckKind(StrEnum):
    MIN = "min"
    """A minMetrics bound."""
    MAX = "max"
    """A maxMetrics bound."""
    COMPARE = "compare"
    """A comparison with the baseline."""


class CheckOutcome(StrEnum):
    PASSED = "passed"
    """Within its bound."""
    FAILED = "failed"
    """Outside its bound."""
    MISSING = "missing"
    """The candidate did not report the metric (or slice): fails."""
    NOT_FINITE = "notFinite"
    """NaN or infinite, on the candidate's or the baseline's side: fails."""
    NO_BASELINE = "noBaseline"
    """The baseline did not report the metric (or slice): passes or fails by onMissingBaseline,
    and is never counted as compared."""


@dataclass(frozen=True)
class CheckResult:
    """One check of one metric (of one slice)."""

    metric: str
    kind: CheckKind
    outcome: CheckOutcome
    passed: bool
    message: str
    """For people, e.g. "accuracy 0.87 < 0.89 (baseline 0.9 - maxRegression 0.01)"."""
    candidate: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    """The bound the candidate was held to, in the metric's units: the min or max, or for a
    comparison the baseline moved by the allowed regression."""
    relative_change: float | None = None
    """(candidate - baseline) / |baseline|: positive when the candidate's value is higher.
    None without a baseline, or when the baseline is 0."""
    slice: str | None = None
    """The slice, for a per-slice comparison; None for the overall metric."""

    @property
    def label(self) -> str:
        return self.metric if self.slice is None else f"{self.metric}[{self.slice}]"


@dataclass(frozen=True)
class ValidationVerdict:
    """Whether the candidate may be promoted, each check, and one line saying why."""

    passed: bool
    reason: str
    """One line for the run's status and Events: the failing checks when rejected; what
    was not compared (no baseline) when it passed anyway."""
    checks: tuple[CheckResult, ...]

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def failing_metrics(self) -> tuple[str, ...]:
        """The failing checks' metrics, each once, in check order."""
        return tuple(dict.fromkeys(c.metric for c in self.failures))

    @property
    def not_compared(self) -> tuple[CheckResult, ...]:
        """Comparisons that passed without a baseline (onMissingBaseline: pass)."""
        return tuple(c for c in self.checks if c.outcome == CheckOutcome.NO_BASELINE and c.passed)


def validate(
    validation: Validation,
    candidate: Metrics,
    baseline: Metrics | None,
    *,
    candidate_slices: SliceMetrics | None = None,
    baseline_slices: SliceMetrics | None = None,
) -> ValidationVerdict:
    """The verdict on a candidate's metrics: `minMetrics`, `maxMetrics`, then each `compare`
    entry (overall, then per slice when it asks for slices). `baseline` is None when the Job
    reported no baselineMetrics."""
    checks: list[CheckResult] = []
    for name, low in (validation.min_metrics or {}).items():
        checks.append(_bound(CheckKind.MIN, name, low, candidate, baseline))
    for name, high in (validation.max_metrics or {}).items():
        checks.append(_bound(CheckKind.MAX, name, high, candidate, baseline))
    on_missing = validation.on_missing_baseline
    for comparison in validation.compare or []:
        checks.append(_compare(comparison, candidate, baseline, on_missing, None))
        if comparison.slices is not None:
            checks.extend(_per_slice(comparison, candidate_slices, baseline_slices, on_missing))
    return _verdict(tuple(checks), on_missing)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _reported(
    candidate: Metrics | None,
    name: str,
    kind: CheckKind,
    label: str,
    missing: str,
    **fields: Any,
) -> float | CheckResult:
    """The candidate's value of `name`, or the failed check that says why there is none."""
    if candidate is None or name not in candidate:
        return CheckResult(metric=name, kind=kind, outcome=CheckOutcome.MISSING, passed=False,
                           message=missing, **fields)  # fmt: skip
    value = candidate[name]
    if not _finite(value):
        message = f"{label} is {value!r}, not a finite number"
        return CheckResult(metric=name, kind=kind, outcome=CheckOutcome.NOT_FINITE, passed=False,
                           message=message, **fields)  # fmt: skip
    return float(value)


def _bound(
    kind: CheckKind, name: str, bound: float, candidate: Metrics, baseline: Metrics | None
) -> CheckResult:
    field = "minMetrics" if kind == CheckKind.MIN else "maxMetrics"
    missing = f"{name} not reported by the trainer ({field} names it)"
    value = _reported(candidate, name, kind, name, missing, threshold=bound)
    if isinstance(value, CheckResult):
        return value
    ok = value >= bound if kind == CheckKind.MIN else value <= bound
    if kind == CheckKind.MIN:
        op = ">=" if ok else "<"
        words = f"{name} {_fmt(value)} {op} min {_fmt(bound)}"
    else:
        op = "<=" if ok else ">"
        words = f"{name} {_fmt(value)} {op} max {_fmt(bound)}"
    reported = (baseline or {}).get(name)
    base = float(reported) if reported is not None and _finite(reported) else None
    if base is not None:  # the serving model's value on the same data, when the Job reported it
        words += f" (baseline {_fmt(base)})"
    outcome = CheckOutcome.PASSED if ok else CheckOutcome.FAILED
    return CheckResult(
        name, kind, outcome, ok, words, candidate=value, baseline=base, threshold=bound
    )


def compared_threshold(comparison: Comparison, baseline: float) -> float:
    """The value the candidate must reach (higherIsBetter) or stay within (lowerIsBetter):
    the baseline moved by the allowed regression, an amount or a fraction of |baseline|."""
    allowed = comparison.max_regression
    if comparison.relative:
        allowed *= abs(baseline)
    if comparison.direction == Direction.HIGHER_IS_BETTER:
        return baseline - allowed
    return baseline + allowed


def _within(comparison: Comparison, candidate: float, threshold: float) -> bool:
    if math.isclose(candidate, threshold, rel_tol=_REL_TOLERANCE, abs_tol=_ABS_TOLERANCE):
        return True
    if comparison.direction == Direction.HIGHER_IS_BETTER:
        return candidate >= threshold
    return candidate <= threshold


def _margin_words(comparison: Comparison, baseline: float) -> str:
    sign = "-" if comparison.direction == Direction.HIGHER_IS_BETTER else "+"
    if comparison.relative:
        percent = f"{comparison.max_regression * 100:.6g}%"
        words = f"baseline {_fmt(baseline)} {sign} {percent} of |{_fmt(baseline)}|"
        if baseline == 0:
            words += ": a relative margin of a zero baseline allows no regression"
        return words
    return f"baseline {_fmt(baseline)} {sign} maxRegression {_fmt(comparison.max_regression)}"


def _compare(
    comparison: Comparison,
    candidate: Metrics | None,
    baseline: Metrics | None,
    on_missing: OnMissingBaseline,
    slice_name: str | None,
) -> CheckResult:
    name = comparison.metric
    label = name if slice_name is None else f"{name}[{slice_name}]"
    kind = CheckKind.COMPARE
    where = "" if slice_name is None else f" for slice {slice_name}"
    missing = f"{label} not reported by the trainer{where} (compare names it)"
    value = _reported(candidate, name, kind, label, missing, slice=slice_name)
    if isinstance(value, CheckResult):
        return value
    if baseline is None or name not in baseline:
        ok = on_missing == OnMissingBaseline.PASS
        verdict = "passed without comparison" if ok else "rejected"
        return CheckResult(
            metric=name,
            kind=kind,
            outcome=CheckOutcome.NO_BASELINE,
            passed=ok,
            message=f"{label}: no baseline reported, {verdict} "
            f"(onMissingBaseline: {on_missing.value})",
            candidate=value,
            slice=slice_name,
        )
    base = baseline[name]
    if not _finite(base):
        return CheckResult(
            metric=name,
            kind=kind,
            outcome=CheckOutcome.NOT_FINITE,
            passed=False,
            message=f"{label}: the baseline is {base!r}, not a finite number",
            candidate=value,
            slice=slice_name,
        )
    threshold = compared_threshold(comparison, base)
    ok = _within(comparison, value, threshold)
    if comparison.direction == Direction.HIGHER_IS_BETTER:
        op = ">=" if ok else "<"
    else:
        op = "<=" if ok else ">"
    change = (value - base) / abs(base) if base != 0 else None
    return CheckResult(
        metric=name,
        kind=kind,
        outcome=CheckOutcome.PASSED if ok else CheckOutcome.FAILED,
        passed=ok,
        message=f"{label} {_fmt(value)} {op} {_fmt(threshold)} ({_margin_words(comparison, base)})",
        candidate=value,
        baseline=base,
        threshold=threshold,
        relative_change=change,
        slice=slice_name,
    )


def _per_slice(
    comparison: Comparison,
    candidate_slices: SliceMetrics | None,
    baseline_slices: SliceMetrics | None,
    on_missing: OnMissingBaseline,
) -> list[CheckResult]:
    assert comparison.slices is not None
    cand, base = candidate_slices or {}, baseline_slices or {}
    names: Iterable[str]
    if comparison.slices.names is not None:
        names = dict.fromkeys(comparison.slices.names)
    else:
        names = sorted({*cand, *base})
    checks = []
    for name in names:
        if name not in cand:
            checks.append(
                CheckResult(
                    metric=comparison.metric,
                    kind=CheckKind.COMPARE,
                    outcome=CheckOutcome.MISSING,
                    passed=False,
                    message=f"{comparison.metric}[{name}]: slice {name} not reported "
                    "for the candidate",
                    slice=name,
                )
            )
            continue
        checks.append(_compare(comparison, cand[name], base.get(name), on_missing, name))
    if not checks:
        checks.append(
            CheckResult(
                metric=comparison.metric,
                kind=CheckKind.COMPARE,
                outcome=CheckOutcome.MISSING,
                passed=False,
                message=f"{comparison.metric}: compare asks for every slice, "
                "and no slice was reported",
            )
        )
    return checks


def _verdict(checks: tuple[CheckResult, ...], on_missing: OnMissingBaseline) -> ValidationVerdict:
    failures = [c for c in checks if not c.passed]
    if failures:
        return ValidationVerdict(
            False, _bounded("rejected: ", [c.message for c in failures]), checks
        )
    if not checks:
        return ValidationVerdict(True, "passed: no checks configured", checks)
    unchecked = [c.label for c in checks if c.outcome == CheckOutcome.NO_BASELINE]
    head = f"passed {len(checks) - len(unchecked)} of {len(checks)} checks"
    if not unchecked:
        return ValidationVerdict(True, f"passed all {len(checks)} checks", checks)
    return ValidationVerdict(
        True,
        _bounded(
            f"{head}; not compared, no baseline (onMissingBaseline: {on_missing.value}): ",
            unchecked,
            separator=", ",
        ),
        checks,
    )


def _bounded(head: str, parts: list[str], separator: str = "; ") -> str:
    """head + parts joined, within REASON_LIMIT: the parts that do not fit are counted."""
    text = head
    for index, part in enumerate(parts):
        piece = (separator if index else "") + part
        rest = len(parts) - index - 1
        tail = f"{separator}and {rest} more" if rest else ""
        if len(text) + len(piece) + len(tail) > REASON_LIMIT:
            more = f"and {len(parts) - index} more"
            return (text + (separator if index else "") + more)[:REASON_LIMIT]
        text += piece
    return text
