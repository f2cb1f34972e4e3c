"""From Prometheus' answer to one Measurement per metric: Successful, Failed or Inconclusive.

Pure. Inconclusive means "no basis to decide": no data, fewer requests than minSamples, or
Prometheus unreachable. Only a real value beyond a threshold fails.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelship.analysis.judgement import Judgement, judge_against_stable
from modelship.analysis.queries import CANARY, ERRORS, MEAN, SAMPLES, STABLE
from modelship.api.analysis import BuiltinMetric, Measurement, MeasurementResult, Metric
from modelship.api.common import DriftMethod
from modelship.stats.drift import METHODS, BinnedInput


@dataclass
class RoundData:
    """Prometheus' answer to a batched round, sorted by metric and side."""

    values: dict[tuple[str, str], float] = field(default_factory=dict)
    classes: dict[tuple[str, str], dict[str, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    buckets: dict[tuple[str, str], dict[float, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    judged: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """(metric, side, errors|mean): what a judge compares besides the buckets."""

    def samples(self, side: str) -> float | None:
        return self.values.get((SAMPLES, side))


def parse_batch(result: Sequence[Mapping[str, Any]]) -> RoundData:
    """Sort an instant query's vector by the ms_metric/ms_side/ms_kind tags."""
    data = RoundData()
    for series in result:
        labels = series.get("metric", {})
        key = (labels.get("ms_metric", ""), labels.get("ms_side", ""))
        value = float(series["value"][1])
        kind = labels.get("ms_kind")
        if kind == "value":
            data.values[key] = value
        elif kind == "class" and "class" in labels:
            data.classes[key][labels["class"]] = value
        elif kind == "bucket" and "le" in labels:
            data.buckets[key][float(labels["le"])] = value
        elif kind in (ERRORS, MEAN):
            data.judged[(*key, kind)] = value
    return data


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def judge(
    metric: Metric,
    value: float | None,
    stable_value: float | None,
    samples: float | None,
    min_samples: int,
    now: datetime,
) -> Measurement:
    """Compare one value with the metric's thresholds."""
    value, stable_value = _finite(value), _finite(stable_value)

    def result(outcome: MeasurementResult, message: str) -> Measurement:
        return Measurement(
            metric=metric.name,
            result=outcome,
            value=value,
            stable_value=stable_value,
            samples=int(samples) if samples is not None and math.isfinite(samples) else None,
            measured_at=now,
            message=message[:1024],
        )

    if samples is None or samples < min_samples:
        seen = 0 if samples is None else int(samples)
        return result(MeasurementResult.INCONCLUSIVE,
                      f"only {seen} requests in the window (minSamples {min_samples})")  # fmt: skip
    if value is None:
        return result(MeasurementResult.INCONCLUSIVE, "no data")
    failures = []
    if metric.max is not None and value > metric.max:
        failures.append(f"{value:.4g} > max {metric.max:g}")
    if metric.min is not None and value < metric.min:
        failures.append(f"{value:.4g} < min {metric.min:g}")
    if metric.max_increase is not None:
        if stable_value is None:
            if not failures:
                return result(MeasurementResult.INCONCLUSIVE, "no stable value to compare with")
        elif value > stable_value * (1 + metric.max_increase) and value > stable_value:
            failures.append(
                f"{value:.4g} exceeds stable {stable_value:.4g} by more than "
                f"{metric.max_increase:.0%}"
            )
    if failures:
        return result(MeasurementResult.FAILED, "; ".join(failures))
    return result(MeasurementResult.SUCCESSFUL, f"{value:.4g} within thresholds")


def distribution(data: RoundData, metric: str, side: str) -> dict[str, float]:
    """A side's prediction distribution as counts per bin (classes, or bucket ranges)."""
    classes = data.classes.get((metric, side))
    if classes:
        return dict(classes)
    cumulative = sorted(data.buckets.get((metric, side), {}).items())
    counts, previous = {}, 0.0
    for le, total in cumulative:
        counts[f"le={le:g}"] = max(total - previous, 0.0)
        previous = total
    return counts


def _bin_order(name: str) -> tuple[int, float, str]:
    """Histogram bins by their upper edge (KS needs the real order); classes by name."""
    if name.startswith("le="):
        return (0, float(name[3:]), "")
    return (1, 0.0, name)


def prediction_drift(metric: Metric, data: RoundData) -> float | None:
    """The canary's prediction distribution scored against the stable revision's."""
    canary = distribution(data, metric.name, CANARY)
    stable = distribution(data, metric.name, STABLE)
    bins = sorted(set(canary) | set(stable), key=_bin_order)
    if not bins or sum(canary.values()) <= 0 or sum(stable.values()) <= 0:
        return None
    method = str(metric.method or DriftMethod.JENSEN_SHANNON)
    reference = [stable.get(b, 0.0) for b in bins]
    current = [canary.get(b, 0.0) for b in bins]
    if method == DriftMethod.WASSERSTEIN:
        centres = bucket_centres(bins)
        if centres is None:
            raise NotOrderedError("wasserstein needs ordered predictions (a regressor's buckets)")
        spread = _binned_std(reference, centres)
        if spread <= 0:
            raise NotOrderedError(
                "wasserstein is scaled by stable's spread, and stable's predictions all fall in "
                "one bucket: use another method"
            )
        return METHODS[method].compute(BinnedInput(reference, current, centres, spread))
    return METHODS[method].compute(BinnedInput(reference, current))


class NotOrderedError(ValueError):
    """Wasserstein cannot be computed on these predictions (classes, or no spread)."""


def bucket_centres(bins: Sequence[str]) -> list[float] | None:
    """A point per histogram bucket (`le=` names, ascending): the middle of each closed
    bucket; the open outer ones sit at their finite edge. None for classes."""
    if not bins or not all(b.startswith("le=") for b in bins):
        return None
    uppers = [float(b[3:]) for b in bins]
    finite = [u for u in uppers if math.isfinite(u)]
    if not finite:
        return None
    centres, lower = [], None
    for upper in uppers:
        if not math.isfinite(upper):
            centres.append(finite[-1])
        elif lower is None:
            centres.append(upper)
        else:
            centres.append((lower + upper) / 2)
        lower = upper if math.isfinite(upper) else lower
    return centres


def _binned_std(counts: Sequence[float], centres: Sequence[float]) -> float:
    """The stable side's standard deviation, read from its buckets (the Wasserstein scale)."""
    total = sum(counts)
    mean = sum(c * x for c, x in zip(counts, centres, strict=True)) / total
    return math.sqrt(sum(c * (x - mean) ** 2 for c, x in zip(counts, centres, strict=True)) / total)


def measure_round(
    metrics: Sequence[Metric],
    data: RoundData,
    custom: Mapping[str, float | None],
    min_samples: int,
    now: datetime,
) -> list[Measurement]:
    """One Measurement per metric from a round's data (`custom`: values of PromQL metrics)."""
    samples = data.samples(CANARY)
    out = []
    for metric in metrics:
        stable_value = None
        if metric.builtin is BuiltinMetric.PREDICTION_DRIFT:
            try:
                value = prediction_drift(metric, data)
            except NotOrderedError as err:
                out.append(_inconclusive(metric, str(err), samples, now))
                continue
        elif metric.builtin is not None:
            value = data.values.get((metric.name, CANARY))
            stable_value = data.values.get((metric.name, STABLE))
        else:
            value = custom.get(metric.name)
        measurement = judge(metric, value, stable_value, samples, min_samples, now)
        judgement = judge_against_stable(metric, data, min_samples)
        out.append(measurement if judgement is None else _with(metric, measurement, judgement))
    return out


SEVERITY = {
    MeasurementResult.SUCCESSFUL: 0,
    MeasurementResult.INCONCLUSIVE: 1,
    MeasurementResult.FAILED: 2,
}


def _with(metric: Metric, measurement: Measurement, judgement: Judgement) -> Measurement:
    """The thresholds' measurement and the judge's, as one: the worse result wins, and both
    say why. A metric with a judge and no thresholds is the judge's alone."""
    if (metric.min, metric.max, metric.max_increase) == (None, None, None):
        result, thresholds = judgement.result, ""  # the judge alone decides
    else:
        result = max(measurement.result, judgement.result, key=SEVERITY.__getitem__)
        thresholds = measurement.message
    message = "; ".join(part for part in (thresholds, judgement.message) if part)
    stable = judgement.stable_samples
    return measurement.model_copy(
        update={
            "result": result,
            "message": message[:1024],
            "p_value": judgement.p_value,
            "effect": judgement.effect,
            "stable_samples": int(stable) if stable is not None and math.isfinite(stable) else None,
        }
    )


def _inconclusive(
    metric: Metric, message: str, samples: float | None, now: datetime
) -> Measurement:
    return Measurement(
        metric=metric.name,
        result=MeasurementResult.INCONCLUSIVE,
        samples=int(samples) if samples is not None and math.isfinite(samples) else None,
        measured_at=now,
        message=message[:1024],
    )


def unreachable(metrics: Sequence[Metric], reason: str, now: datetime) -> list[Measurement]:
    """Every metric Inconclusive: Prometheus could not answer."""
    return [
        Measurement(
            metric=m.name,
            result=MeasurementResult.INCONCLUSIVE,
            measured_at=now,
            message=f"Prometheus unreachable: {reason}"[:1024],
        )
        for m in metrics
    ]
