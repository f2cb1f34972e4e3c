"""One drift evaluation: (spec, reference profile, live counts) -> what drifted. Pure.

Every feature is scored with its method against the profile's counts for the same bins; the
p-value tests are two-sample and adjusted together for multiple testing; the dataset drifts
when a share of the scored features does; prediction drift, realised performance and
fairness are judged beside them. An evaluation without a sound basis (too few predictions,
live bins that are not the profile's) is Unknown and names why: Inconclusive is not drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from modelship.api.common import P_VALUE_METHODS, DriftMethod, Severity
from modelship.api.driftmonitor import (
    DriftMonitorSpec,
    FairnessCheck,
)
from modelship.drift.baseline import Baseline, baseline_of
from modelship.drift.bins import binned, feature_pieces, prediction_pieces
from modelship.drift.observed import LiveCounts
from modelship.drift.performance import PerformanceResult
from modelship.drift.performance import performance as judge_performance
from modelship.drift.quality import QualityResult, data_quality
from modelship.profile.schema import Profile
from modelship.stats.buckets import BucketMismatchError
from modelship.stats.drift import BinnedInput, DriftScore, ScoreRequest, score_many
from modelship.stats.fairness import GroupCounts, fairness_metric, split_groups
from modelship.stats.metric import MetricResult


class Verdict(StrEnum):
    """The `Drifted` condition's status."""

    DRIFTED = "True"
    NOT_DRIFTED = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class ScoreResult:
    """One feature's (or the prediction's) score, or why there is none."""

    name: str
    method: DriftMethod
    score: float | None
    severity: Severity
    samples: float
    p_value: float | None = None
    """The p-value before multiple-testing adjustment (p-value tests only)."""
    reason: str = ""
    mismatch: bool = False
    """The live bins are not the profile's: the whole evaluation cannot be trusted."""


@dataclass(frozen=True)
class DatasetResult:
    drifted: bool
    share: float
    drifted_features: int
    features: int


@dataclass(frozen=True)
class JudgedMetric:
    """A performance or fairness figure, whether it is in range, or why it has no value."""

    name: str
    value: float | None
    samples: float
    in_range: bool | None
    reason: str = ""
    attribute: str = ""


@dataclass(frozen=True)
class Evaluation:
    verdict: Verdict
    reason: str
    """The `Drifted` condition's reason (CamelCase)."""
    message: str
    samples: float
    features: tuple[ScoreResult, ...] = ()
    """Most drifted first."""
    prediction: ScoreResult | None = None
    dataset: DatasetResult | None = None
    performance: PerformanceResult | None = None
    fairness: tuple[JudgedMetric, ...] = ()
    quality: QualityResult | None = None
    baseline: Baseline | None = None
    """The baseline window (spec.reference) and whether it was the reference."""
    degraded: tuple[str, ...] = field(default=())
    """Why performance or fairness is out of range, or data quality fails; empty when none."""

    @property
    def critical_features(self) -> list[str]:
        return [f.name for f in self.features if f.severity is Severity.CRITICAL]


def unknown(reason: str, message: str, samples: float = 0.0) -> Evaluation:
    """No verdict: Prometheus did not answer, the profile is missing, ... Nothing fires."""
    return Evaluation(Verdict.UNKNOWN, reason, message, samples)


@dataclass(frozen=True)
class _Pending:
    name: str
    method: DriftMethod
    data: BinnedInput | None
    samples: float
    warning: float | None
    critical: float | None
    reason: str = ""
    mismatch: bool = False


def _score_all(pending: Sequence[_Pending], correction: str) -> list[ScoreResult]:
    scorable = [p for p in pending if p.data is not None]
    scores: list[DriftScore] = score_many(
        [ScoreRequest(p.method, p.data, p.warning, p.critical) for p in scorable if p.data],
        correction,
    )
    by_name = {p.name: s for p, s in zip(scorable, scores, strict=True)}
    out = []
    for p in pending:
        s = by_name.get(p.name)
        if s is None or s.value is None:
            reason = p.reason or (s.reason if s else "")
            out.append(ScoreResult(p.name, p.method, None, Severity.NONE, p.samples,
                                   reason=reason, mismatch=p.mismatch))  # fmt: skip
            continue
        p_value = (
            s.raw_value if p.method in (DriftMethod.CHI2, DriftMethod.KOLMOGOROV_SMIRNOV) else None
        )
        out.append(ScoreResult(p.name, p.method, s.value, s.severity, p.samples, p_value))
    return out


def _feature(spec: DriftMonitorSpec, profile: Profile, live: LiveCounts, name: str,
             reference: LiveCounts | None) -> _Pending:  # fmt: skip
    feature = profile.feature(name)
    limits = spec.features.thresholds_for(name)
    baseline = feature_pieces(reference, name) if reference is not None else None
    try:
        data = binned(feature.distribution, feature_pieces(live, name), baseline)
    except BucketMismatchError as err:
        return _Pending(name, limits.method, None, 0.0, limits.warning, limits.critical, str(err),
                        mismatch=True)  # fmt: skip
    samples = float(sum(data.current_counts))
    if samples < spec.min_samples:
        reason = f"only {samples:g} samples (minSamples {spec.min_samples})"
        return _Pending(name, limits.method, None, samples, limits.warning, limits.critical, reason)
    return _Pending(name, limits.method, data, samples, limits.warning, limits.critical)


def _prediction(spec: DriftMonitorSpec, profile: Profile, live: LiveCounts,
                reference: LiveCounts | None) -> ScoreResult | None:  # fmt: skip
    if spec.prediction is None:
        return None
    p = spec.prediction
    baseline = prediction_pieces(reference) if reference is not None else None
    try:
        data = binned(profile.prediction.distribution, prediction_pieces(live), baseline)
    except BucketMismatchError as err:
        return ScoreResult("prediction", p.method, None, Severity.NONE, 0.0, reason=str(err))
    pending = _Pending("prediction", p.method, data, float(sum(data.current_counts)), p.warning,
                       p.critical)  # fmt: skip
    return _score_all([pending], "none")[0]


def _dataset(spec: DriftMonitorSpec, features: Sequence[ScoreResult]) -> DatasetResult | None:
    scored = [f for f in features if f.score is not None]
    if not scored:
        return None
    at = Severity(spec.dataset_drift.severity).rank
    drifted = sum(1 for f in scored if f.severity.rank >= at)
    share = drifted / len(scored)
    return DatasetResult(share >= spec.dataset_drift.share, share, drifted, len(scored))


def _in_range(value: float | None, low: float | None, high: float | None) -> bool | None:
    if value is None:
        return None
    return (low is None or value >= low) and (high is None or value <= high)


def _judged(name: str, result: MetricResult, low: float | None, high: float | None,
            attribute: str = "") -> JudgedMetric:  # fmt: skip
    return JudgedMetric(name, result.value, result.samples,
                        _in_range(result.value, low, high), result.reason, attribute)  # fmt: skip


def _groups(check: FairnessCheck, live: LiveCounts) -> dict[str, GroupCounts]:
    favourable = set(check.favourable)
    predictions: dict[str, list[float]] = {}
    for (attribute, group, cls), count in live.fairness.items():
        if attribute == check.attribute:
            totals = predictions.setdefault(group, [0.0, 0.0])
            totals[0] += count
            totals[1] += count if cls in favourable else 0.0
    labelled: dict[str, list[float]] = {}
    for (attribute, group, cls, actual), count in live.fairness_feedback.items():
        if attribute == check.attribute:
            c = labelled.setdefault(group, [0.0, 0.0, 0.0, 0.0])  # pos, tp, neg, fp
            predicted = cls in favourable
            if actual in favourable:
                c[0] += count
                c[1] += count if predicted else 0.0
            else:
                c[2] += count
                c[3] += count if predicted else 0.0
    out = {}
    for group, (n, fav) in predictions.items():
        truth = labelled.get(group, [0.0, 0.0, 0.0, 0.0])
        out[group] = GroupCounts(n, min(fav, n), truth[0], min(truth[1], truth[0]),
                                 truth[2], min(truth[3], truth[2]))  # fmt: skip
    return out


def _fairness(spec: DriftMonitorSpec, live: LiveCounts) -> tuple[JudgedMetric, ...]:
    out = []
    for check in spec.fairness or []:
        groups = _groups(check, live)
        if not groups:
            result = MetricResult.undefined(
                f"no fairness counts for attribute {check.attribute}: the profile must list it "
                "(modelship profile --fairness)",
                0.0,
            )
        else:
            unprivileged, privileged = split_groups(groups, check.privileged)
            result = fairness_metric(check.metric, unprivileged=unprivileged, privileged=privileged)
        out.append(_judged(str(check.metric), result, check.range.min, check.range.max,
                           check.attribute))  # fmt: skip
    return tuple(out)


def _order(features: Sequence[ScoreResult]) -> tuple[ScoreResult, ...]:
    """Most drifted first: severity, then how far past the threshold's direction."""

    def key(f: ScoreResult) -> tuple[int, float, str]:
        if f.score is None:
            return (-1, 0.0, f.name)
        lower_is_drift = f.method in P_VALUE_METHODS
        return (f.severity.rank, -f.score if lower_is_drift else f.score, f.name)

    return tuple(sorted(features, key=key, reverse=True))


def _describe(f: ScoreResult) -> str:
    return f"{f.name} {f.method} {f.score:.4g}"


def evaluate(spec: DriftMonitorSpec, profile: Profile, live: LiveCounts) -> Evaluation:
    """The evaluation of one window of live traffic against the reference profile."""
    samples = live.rows
    performance = judge_performance(spec, profile, live)
    fairness = _fairness(spec, live)
    quality = data_quality(spec, profile, live)
    degraded = tuple(
        f"{m.attribute + ' ' if m.attribute else ''}{m.name} {m.value:.4g} out of range"
        for m in (performance, *fairness)
        if m is not None and m.in_range is False and m.value is not None
    )
    if quality is not None and quality.degraded:
        degraded += (f"data quality: {', '.join(quality.failures[:10])}",)
    baseline = baseline_of(spec, profile, live)
    reference = baseline.counts if baseline is not None else None
    base = Evaluation(Verdict.UNKNOWN, "", "", samples, performance=performance,
                      fairness=fairness, quality=quality, baseline=baseline,
                      degraded=degraded)  # fmt: skip
    if samples < spec.min_samples:
        return replace(
            base, reason="NotEnoughSamples",
            message=f"only {samples:g} predictions in the last {spec.window} (minSamples "
            f"{spec.min_samples}): no verdict",
        )  # fmt: skip
    ignored = set(spec.features.ignore or [])
    names = [f.name for f in profile.features if f.name not in ignored]
    correction = str(spec.features.multiple_testing)
    pending = [_feature(spec, profile, live, n, reference) for n in names]
    features = _order(_score_all(pending, correction))
    prediction = _prediction(spec, profile, live, reference)
    dataset = _dataset(spec, features)
    base = replace(base, features=features, prediction=prediction, dataset=dataset)
    mismatched = [f for f in features if f.mismatch]
    if mismatched:
        more = f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
        message = f"feature {mismatched[0].name}: {mismatched[0].reason}{more}"
        return replace(base, reason="ProfileMismatch", message=message)
    if dataset is None and (prediction is None or prediction.score is None):
        reason = features[0].reason if features else "the profile has no monitored features"
        return replace(base, reason="NoScores", message=f"nothing could be scored: {reason}")
    at = spec.dataset_drift.severity
    drifted = [f for f in features if f.severity.rank >= Severity(at).rank]
    listed = ", ".join(_describe(f) for f in drifted[:5])
    critical_prediction = (
        prediction if prediction is not None and prediction.severity is Severity.CRITICAL else None
    )
    if dataset is not None and dataset.drifted:
        message = (
            f"{dataset.drifted_features} of {dataset.features} features drifted ({at}): {listed}"
        )
        if critical_prediction is not None:
            message += f"; prediction {_describe(critical_prediction)}"
        return replace(base, verdict=Verdict.DRIFTED, reason="DatasetDrift", message=message)
    if critical_prediction is not None:
        message = f"prediction {_describe(critical_prediction)} (critical)"
        return replace(base, verdict=Verdict.DRIFTED, reason="PredictionDrift", message=message)
    message = "no dataset drift"
    if dataset is not None:
        message += f": {dataset.drifted_features} of {dataset.features} features at {at}"
        if drifted:
            message += f" ({listed})"
    return replace(base, verdict=Verdict.NOT_DRIFTED, reason="NoDrift", message=message)
