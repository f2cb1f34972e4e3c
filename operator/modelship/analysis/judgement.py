"""The statistical judge: is the canary worse than stable beyond noise, by an effect that
matters? Pure; the tests are in `modelship.stats.comparison`.

Failed when the one-sided p-value is below `significance` and the effect reaches
`minEffect`; Inconclusive when either side has fewer than minSamples requests, or the effect
reaches `minEffect` without being significant yet (too few samples to tell); Successful
otherwise: no worse, or worse by less than matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from modelship.analysis.queries import CANARY, ERRORS, MEAN, STABLE
from modelship.api.analysis import BuiltinMetric, Judge, MeasurementResult, Metric
from modelship.stats.comparison import OneSidedTest, mann_whitney_binned, two_proportions


@dataclass(frozen=True)
class Judgement:
    result: MeasurementResult
    message: str
    p_value: float | None = None
    effect: float | None = None
    stable_samples: float | None = None


def judge_against_stable(metric: Metric, data: RoundDataLike, min_samples: int) -> Judgement | None:
    """The judge's verdict for `metric`, or None when it has no judge."""
    judge = metric.judge
    if judge is None or metric.builtin is None:
        return None
    canary_n, stable_n = data.samples(CANARY), data.samples(STABLE)
    if stable_n is None:
        return Judgement(MeasurementResult.INCONCLUSIVE, "judge: no stable traffic to compare with")
    if (
        canary_n is None
        or not math.isfinite(canary_n)
        or not math.isfinite(stable_n)
        or min(canary_n, stable_n) < max(min_samples, 1)
    ):
        return Judgement(
            MeasurementResult.INCONCLUSIVE,
            f"judge: {_count(canary_n)} canary and {_count(stable_n)} stable requests in the "
            f"window (minSamples {min_samples} each)",
            stable_samples=stable_n,
        )
    if metric.builtin is BuiltinMetric.ERROR_RATE:
        return _error_rate(metric.name, judge, data, canary_n, stable_n)
    return _latency(metric.name, judge, data, stable_n)


def _count(value: float | None) -> int:
    return int(value) if value is not None and math.isfinite(value) else 0


class RoundDataLike(Protocol):
    """The part of `measure.RoundData` the judge reads."""

    judged: dict[tuple[str, str, str], float]
    buckets: dict[tuple[str, str], dict[float, float]]

    def samples(self, side: str) -> float | None: ...


def _error_rate(
    name: str, judge: Judge, data: RoundDataLike, canary_n: float, stable_n: float
) -> Judgement:
    canary_errors = min(max(data.judged.get((name, CANARY, ERRORS), 0.0), 0.0), canary_n)
    stable_errors = min(max(data.judged.get((name, STABLE, ERRORS), 0.0), 0.0), stable_n)
    test = two_proportions(canary_errors, canary_n, stable_errors, stable_n)
    canary_rate, stable_rate = canary_errors / canary_n, stable_errors / stable_n
    effect = canary_rate - stable_rate
    floor = judge.effect_floor(BuiltinMetric.ERROR_RATE)
    what = (
        f"error rate {canary_rate:.4g} vs stable {stable_rate:.4g} "
        f"({effect:+.4g}, min effect {floor:g})"
    )
    return _verdict(judge, floor, test, effect, what, stable_n)


def _latency(name: str, judge: Judge, data: RoundDataLike, stable_n: float) -> Judgement:
    canary_mean = data.judged.get((name, CANARY, MEAN))
    stable_mean = data.judged.get((name, STABLE, MEAN))
    canary_bins, stable_bins = _per_bin(data, name)
    if (
        not canary_bins
        or canary_mean is None
        or stable_mean is None
        or not math.isfinite(canary_mean)
        or not math.isfinite(stable_mean)
        or stable_mean <= 0
    ):
        return Judgement(
            MeasurementResult.INCONCLUSIVE,
            "judge: no latency histogram for both revisions",
            stable_samples=stable_n,
        )
    test = mann_whitney_binned(canary_bins, stable_bins)
    effect = canary_mean / stable_mean - 1
    floor = judge.effect_floor(BuiltinMetric.LATENCY_P50)
    what = (
        f"mean latency {canary_mean:.4g}s vs stable {stable_mean:.4g}s "
        f"({effect:+.1%}, min effect {floor:.0%})"
    )
    return _verdict(judge, floor, test, effect, what, stable_n)


def _per_bin(data: RoundDataLike, name: str) -> tuple[list[float], list[float]]:
    """Both sides' cumulative buckets as counts per bucket, on the union of their edges."""
    canary = data.buckets.get((name, CANARY), {})
    stable = data.buckets.get((name, STABLE), {})
    edges = sorted(set(canary) | set(stable))

    def counts(cumulative: dict[float, float]) -> list[float]:
        out, previous = [], 0.0
        for edge in edges:
            total = cumulative.get(edge, previous)
            out.append(max(total - previous, 0.0))
            previous = max(total, previous)
        return out

    return counts(canary), counts(stable)


def _verdict(
    judge: Judge, floor: float, test: OneSidedTest, effect: float, what: str, stable_n: float
) -> Judgement:
    p = test.p_value
    significant = p < judge.significance
    if significant and effect >= floor:
        result, verdict = MeasurementResult.FAILED, "worse than stable"
    elif effect >= floor:
        result, verdict = MeasurementResult.INCONCLUSIVE, "maybe worse, not yet significant"
    elif significant:
        result, verdict = MeasurementResult.SUCCESSFUL, "worse by less than the min effect"
    else:
        result, verdict = MeasurementResult.SUCCESSFUL, "no worse than stable"
    message = f"judge: {what}, p={p:.2g} (significance {judge.significance:g}): {verdict}"
    return Judgement(result, message, p, effect, stable_n)
