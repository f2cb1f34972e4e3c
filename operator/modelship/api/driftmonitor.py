"""DriftMonitor: compare live traffic with the model's reference profile, and act on drift."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from modelship.api.base import KubeModel, Rule, ordered, unique
from modelship.api.common import (
    DEFAULT_MULTIPLE_TESTING,
    DEFAULT_THRESHOLDS,
    P_VALUE_METHODS,
    Conditions,
    DriftMethod,
    MultipleTesting,
    PrometheusConnection,
    RejectReason,
    Severity,
)
from modelship.api.notifications import NotificationList, notifications_rules
from modelship.api.types import Duration, ObjectName, cel_duration_at_least, parse_duration

FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=253)]
Text = Annotated[str, StringConstraints(max_length=1024)]

_P_VALUE_CEL = "['kolmogorovSmirnov', 'chi2']"


def _severity_ordered(method: DriftMethod, warning: float | None, critical: float) -> bool:
    if warning is None:
        return True
    return warning > critical if method in P_VALUE_METHODS else warning < critical


def _p_values_bounded(method: DriftMethod, warning: float | None, critical: float) -> bool:
    return method not in P_VALUE_METHODS or (critical <= 1 and (warning is None or warning <= 1))


# Shared by every threshold block; `method` may be defaulted, so CEL reads an unset method as
# a distance (every default method is one).
THRESHOLD_RULES = (
    Rule(
        # Negative thresholds are reported by their own bounds alone.
        cel="!has(self.warning) || self.warning < 0.0 || self.critical < 0.0 || "
        f"((has(self.method) && self.method in {_P_VALUE_CEL})"
        " ? self.warning > self.critical : self.warning < self.critical)",
        message="warning must be less severe than critical: below it for distances, above it "
        "for the p-value tests chi2 and kolmogorovSmirnov",
        check=lambda t: _severity_ordered(t.method, t.warning, t.critical),
    ),
    Rule(
        cel=f"!(has(self.method) && self.method in {_P_VALUE_CEL}) || "
        "(self.critical <= 1.0 && (!has(self.warning) || self.warning <= 1.0))",
        message="thresholds of chi2 and kolmogorovSmirnov are p-values and must not exceed 1",
        check=lambda t: _p_values_bounded(t.method, t.warning, t.critical),
    ),
)


class FeatureThresholds(KubeModel):
    """A statistic and its thresholds. Distances drift when the score reaches a threshold;
    p-value tests (chi2, kolmogorovSmirnov) drift when the p-value falls to it."""

    rules = THRESHOLD_RULES

    method: DriftMethod = DriftMethod.PSI
    """psi, jensenShannon, kullbackLeibler, wasserstein, kolmogorovSmirnov or chi2."""
    warning: float | None = Field(default=None, ge=0)
    """Severity warning from this score on (or p-value down)."""
    critical: float = Field(ge=0)
    """Severity critical from this score on (or p-value down)."""


class FeatureOverride(KubeModel):
    """Thresholds for one feature, replacing the default ones."""

    rules = THRESHOLD_RULES

    name: FeatureName
    """The feature, as named in the reference profile."""
    method: DriftMethod
    """The statistic for this feature."""
    warning: float | None = Field(default=None, ge=0)
    """Severity warning from this score on (or p-value down)."""
    critical: float = Field(ge=0)
    """Severity critical from this score on (or p-value down)."""


def _default_thresholds() -> FeatureThresholds:
    warning, critical = DEFAULT_THRESHOLDS[DriftMethod.PSI]
    return FeatureThresholds(method=DriftMethod.PSI, warning=warning, critical=critical)


class Features(KubeModel):
    """Per-feature drift: one statistic per feature against its reference distribution."""

    rules = (
        Rule(
            cel=None,
            message="overrides must name each feature once",
            check=lambda f: unique(o.name for o in f.overrides or []),
        ),
        Rule(cel=None, message="ignore must not repeat", check=lambda f: unique(f.ignore)),
    )

    default: FeatureThresholds = Field(default_factory=_default_thresholds)
    """Thresholds for every feature without an override. Defaults to psi, warning 0.1,
    critical 0.2."""
    overrides: list[FeatureOverride] | None = Field(
        default=None,
        max_length=200,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Per-feature thresholds; feature names are unique."""
    ignore: list[FeatureName] | None = Field(
        default=None, max_length=200, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Features not monitored."""
    multiple_testing: MultipleTesting = DEFAULT_MULTIPLE_TESTING
    """How the p-values of the chi2 and kolmogorovSmirnov features are adjusted together:
    none, bonferroni or benjaminiHochberg (the default: as strict as bonferroni when nothing
    drifts, and it finds more of the features that do)."""

    def thresholds_for(self, name: str) -> FeatureThresholds | FeatureOverride:
        """The statistic and thresholds that judge feature `name`: its override, else the
        default."""
        for override in self.overrides or []:
            if override.name == name:
                return override
        return self.default


class PredictionDrift(KubeModel):
    """Drift of the model's prediction distribution against the reference profile's."""

    rules = THRESHOLD_RULES

    method: DriftMethod = DriftMethod.JENSEN_SHANNON
    """The statistic."""
    warning: float | None = Field(default=None, ge=0)
    """Severity warning from this score on."""
    critical: float = Field(ge=0)
    """Severity critical from this score on."""


class DatasetDrift(KubeModel):
    """The dataset as a whole drifts when enough of its features do."""

    share: float = Field(default=0.5, gt=0, le=1)
    """Fraction of monitored features that must drift (at `severity`) for dataset drift."""
    severity: Literal["warning", "critical"] = "critical"
    """The feature severity that counts as drifted."""


Share = Annotated[float, Field(ge=0, le=1)]


class QualityThresholds(KubeModel):
    """The largest acceptable share of each data-quality problem of a feature in the window;
    a share above it fails the check. 0 tolerates none."""

    missing: Share = 0.05
    """Values missing: the feature's input absent, null or NaN (the server rejects such
    requests; counted over every row received, served or rejected)."""
    out_of_range: Share = 0.05
    """Served values of a numeric feature outside the profile's [min, max]."""
    unseen: Share = 0.05
    """Served values of a categorical feature that are not among the profile's categories."""


class QualityOverride(KubeModel):
    """Data-quality thresholds for one feature; unset ones are the default's."""

    name: FeatureName
    """The feature, as named in the reference profile."""
    missing: Share | None = None
    """Largest acceptable share of missing values."""
    out_of_range: Share | None = None
    """Largest acceptable share of values outside the profile's [min, max] (numeric)."""
    unseen: Share | None = None
    """Largest acceptable share of categories the profile does not list (categorical)."""


class RejectedOverride(KubeModel):
    """The threshold of one rejection reason."""

    reason: RejectReason
    """The reason, as the server's `modelship_requests_rejected_total` labels it."""
    max: Share
    """Largest acceptable share of inference requests rejected for this reason."""


class RejectedThresholds(KubeModel):
    """Requests the server rejected, by reason (HTTP 400/404 answers)."""

    rules = (
        Rule(cel=None, message="reasons must name each reason once",
             check=lambda r: unique(o.reason for o in r.reasons or [])),
    )  # fmt: skip

    max: Share = 0.05
    """Largest acceptable share of inference requests rejected for any one reason."""
    reasons: list[RejectedOverride] | None = Field(
        default=None,
        max_length=20,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["reason"],
        },
    )
    """Per-reason thresholds, replacing `max` for their reason."""


class DataQuality(KubeModel):
    """Missing values, values outside the profile's range, unseen categories and rejected
    requests, each as a share of the window's traffic with a threshold."""

    rules = (
        Rule(cel=None, message="overrides must name each feature once",
             check=lambda q: unique(o.name for o in q.overrides or [])),
    )  # fmt: skip

    default: QualityThresholds = Field(default_factory=QualityThresholds)
    """Thresholds of every feature without an override: 0.05 for each share."""
    overrides: list[QualityOverride] | None = Field(
        default=None,
        max_length=200,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Per-feature thresholds; feature names are unique."""
    rejected: RejectedThresholds = Field(default_factory=RejectedThresholds)
    """Rejected requests by reason."""
    min_samples: int = Field(default=100, ge=1, le=1_000_000_000)
    """Rows received (for the feature shares) and requests (for the rejected shares) needed
    in the window before the shares are judged."""


class PerformanceMetric(StrEnum):
    ACCURACY = "accuracy"
    PRECISION = "precision"
    RECALL = "recall"
    F1 = "f1"
    MAE = "mae"
    RMSE = "rmse"


class Performance(KubeModel):
    """Model quality from ground truth sent to the server's /feedback endpoint."""

    rules = (
        Rule(
            cel="has(self.min) || has(self.max)",
            message="set at least one of min or max",
            check=lambda p: p.min is not None or p.max is not None,
        ),
        Rule(
            cel="!has(self.min) || !has(self.max) || self.min <= self.max",
            message="min must not exceed max",
            check=lambda p: ordered(p.min, p.max),
        ),
    )

    metric: PerformanceMetric
    """accuracy, precision, recall, f1 (classification) or mae, rmse (regression)."""
    min: float | None = None
    """Degraded below this."""
    max: float | None = None
    """Degraded above this (for error metrics such as mae)."""
    min_samples: int = Field(default=100, ge=1, le=1_000_000_000)
    """Labelled predictions needed in the performance window before realised performance is
    judged (and scored predictions before an estimate has a value)."""
    window: Duration | None = None
    """The span of ground truth each evaluation reads: labels arrive late, so often longer
    than the monitor's window. Defaults to the monitor's window."""
    positive_class: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    """The class precision, recall and f1 are about. Default for a binary classifier: the
    class whose score the server exports (scikit-learn's classes_[1]), else the second of the
    profile's two classes in sorted order; a multi-class model without it is macro-averaged."""
    judge_estimated: bool = False
    """While fewer than minSamples labels are in the performance window, judge min/max on
    the estimate from the score histogram (binary classifiers whose server exports scores;
    accuracy, precision, recall, f1) instead of reporting no value."""


class FairnessMetric(StrEnum):
    STATISTICAL_PARITY_DIFFERENCE = "statisticalParityDifference"
    DISPARATE_IMPACT = "disparateImpact"
    EQUAL_OPPORTUNITY_DIFFERENCE = "equalOpportunityDifference"
    AVERAGE_ODDS_DIFFERENCE = "averageOddsDifference"


class FairnessRange(KubeModel):
    """The acceptable range of a fairness metric."""

    rules = (
        Rule(
            cel="has(self.min) || has(self.max)",
            message="set at least one of min or max",
            check=lambda r: r.min is not None or r.max is not None,
        ),
        Rule(
            cel="!has(self.min) || !has(self.max) || self.min <= self.max",
            message="min must not exceed max",
            check=lambda r: ordered(r.min, r.max),
        ),
    )

    min: float | None = None
    """Lowest acceptable value."""
    max: float | None = None
    """Highest acceptable value."""


Values = Annotated[
    list[Annotated[str, StringConstraints(max_length=253)]],
    Field(min_length=1, max_length=32, json_schema_extra={"x-kubernetes-list-type": "set"}),
]


class FairnessCheck(KubeModel):
    """Outcome parity between a privileged group and the others, for one attribute."""

    rules = (
        Rule(
            cel=None,
            message="privileged and favourable must not repeat values",
            check=lambda c: unique(c.privileged) and unique(c.favourable),
        ),
    )

    attribute: FeatureName
    """The protected attribute (a feature or a request field)."""
    privileged: Values
    """Values of the attribute that form the privileged group."""
    favourable: Values
    """Predictions that are favourable outcomes."""
    metric: FairnessMetric
    """statisticalParityDifference, disparateImpact, equalOpportunityDifference or
    averageOddsDifference."""
    range: FairnessRange
    """The acceptable range."""


class DriftAction(StrEnum):
    EVENT = "event"
    RETRAIN = "retrain"


class Actions(KubeModel):
    """What happens on drift."""

    rules = (Rule(cel=None, message="onDrift must not repeat", check=lambda a: unique(a.on_drift)),)

    on_drift: list[DriftAction] = Field(
        default_factory=lambda: [DriftAction.EVENT],
        max_length=4,
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    """event: record a Warning Event; retrain: let RetrainPolicies that watch this monitor
    trigger. Defaults to [event]."""


class BaselineReference(KubeModel):
    """Live traffic of an earlier window as the reference, instead of the profile's
    proportions: the same binned counts from Prometheus over [now - offset - window,
    now - offset]. The profile still gives the bins."""

    rules = (
        Rule(
            cel="!has(self.offset) || " + cel_duration_at_least("self.offset", "'1s'"),
            message="offset must be at least 1s",
            check=lambda r: parse_duration(r.offset).total_seconds() >= 1,
        ),
    )

    window: Duration
    """The span of the baseline, e.g. 168h."""
    offset: Duration
    """How long ago the baseline ends, e.g. 168h; at least the monitor's window, so the
    baseline never overlaps the traffic it is compared with."""
    min_samples: int | None = Field(default=None, ge=1, le=1_000_000_000)
    """Predictions the baseline needs (default: the monitor's minSamples). Fewer, or bins that
    are not the profile's: the profile is the reference, and status says why."""


class DriftMonitorSpec(KubeModel):
    """Which ModelDeployment to watch, how often, and what counts as drift."""

    rules = (
        Rule(
            cel=cel_duration_at_least(
                "(has(self.window) ? self.window : '1h')",
                "(has(self.interval) ? self.interval : '5m')",
            ),
            message="window must be at least as long as interval",
            check=lambda s: parse_duration(s.window) >= parse_duration(s.interval),
        ),
        Rule(
            cel="!has(self.interval) || " + cel_duration_at_least("self.interval", "'10s'"),
            message="interval must be at least 10s",
            check=lambda s: parse_duration(s.interval).total_seconds() >= 10,
        ),
        Rule(
            cel="!has(self.reference) || "
            + cel_duration_at_least(
                "self.reference.offset", "(has(self.window) ? self.window : '1h')"
            ),
            message="reference.offset must be at least window: the baseline must not overlap the "
            "traffic it is compared with",
            check=lambda s: (
                s.reference is None
                or parse_duration(s.reference.offset) >= parse_duration(s.window)
            ),
        ),
        *notifications_rules("drift", "DriftMonitor"),
    )

    model_deployment_ref: ObjectName
    """The ModelDeployment (in this namespace) whose live traffic is monitored."""
    interval: Duration = "5m"
    """Time between evaluations."""
    window: Duration = "1h"
    """The span of live traffic each evaluation compares with the reference."""
    min_samples: int = Field(default=500, ge=1, le=1_000_000_000)
    """Predictions needed in the window before drift is judged (fewer: no verdict). Below a
    few hundred, sampling noise alone reaches psi's default thresholds
    (docs/statistics.md)."""
    features: Features = Field(default_factory=Features)
    """Per-feature drift."""
    prediction: PredictionDrift | None = None
    """Prediction drift."""
    reference: BaselineReference | None = None
    """A baseline window of live traffic as the reference. Default: the profile of the model
    version that serves."""
    dataset_drift: DatasetDrift = Field(default_factory=DatasetDrift)
    """Dataset drift."""
    data_quality: DataQuality | None = None
    """Data-quality checks: missing values, values out of range, unseen categories, rejected
    requests."""
    performance: Performance | None = None
    """Performance from ground truth."""
    fairness: list[FairnessCheck] | None = Field(default=None, max_length=20)
    """Fairness checks."""
    actions: Actions = Field(default_factory=Actions)
    """What happens on drift."""
    prometheus: PrometheusConnection | None = None
    """Where and how to query Prometheus. Defaults to the operator's settings."""
    notifications: NotificationList | None = None
    """Webhook and Slack receivers of drift raised and cleared
    (docs/operating.md#notifications)."""


class DriftMonitorPhase(StrEnum):
    PENDING = "Pending"
    MONITORING = "Monitoring"
    DRIFTED = "Drifted"
    FAILED = "Failed"


class FeatureDriftStatus(KubeModel):
    """The last score of one feature."""

    name: FeatureName
    """The feature."""
    method: DriftMethod
    """The statistic."""
    score: float | None = None
    """The score; for chi2 and kolmogorovSmirnov the p-value after the multiple-testing
    correction. Absent when the feature could not be scored (see reason)."""
    severity: Severity = Severity.NONE
    """none, warning or critical."""
    samples: int | None = Field(default=None, ge=0)
    """Live values of the feature in the window."""
    p_value: float | None = Field(default=None, ge=0, le=1)
    """The p-value before the multiple-testing correction (chi2 and kolmogorovSmirnov)."""
    reason: Text | None = None
    """Why there is no score: too few samples, live bins that are not the profile's."""


class PredictionDriftStatus(KubeModel):
    """The last prediction drift score."""

    method: DriftMethod
    """The statistic."""
    score: float | None = None
    """The score."""
    severity: Severity = Severity.NONE
    """none, warning or critical."""
    reason: Text | None = None
    """Why there is no score."""


class DatasetDriftStatus(KubeModel):
    """The last dataset drift verdict."""

    drifted: bool
    """Whether the share of drifted features reached spec.datasetDrift.share."""
    share: float = Field(ge=0, le=1)
    """Fraction of monitored features that drifted."""
    drifted_features: int = Field(ge=0)
    """Features that drifted."""
    features: int = Field(ge=0)
    """Features monitored."""


class FeatureQualityStatus(KubeModel):
    """The data-quality shares of one feature in the last window."""

    name: FeatureName
    """The feature."""
    missing: Share | None = None
    """Share of the rows received whose value was missing."""
    out_of_range: Share | None = None
    """Share of the served values outside the profile's [min, max] (numeric features)."""
    unseen: Share | None = None
    """Share of the served values that are categories the profile does not list."""
    failed: list[Literal["missing", "outOfRange", "unseen"]] | None = Field(
        default=None, max_length=3
    )
    """The checks whose share is above its threshold."""


class RejectedStatus(KubeModel):
    """Requests rejected for one reason in the last window."""

    reason: Annotated[str, StringConstraints(max_length=63)]
    """The reason, as the server labels it (modelship's server: docs/metrics.md)."""
    share: Share
    """Share of the inference requests."""
    requests: int = Field(ge=0)
    """Requests rejected for it."""
    failed: bool = False
    """Whether the share is above its threshold."""


class DataQualityStatus(KubeModel):
    """The last data-quality measurement."""

    degraded: bool = False
    """Whether any share is above its threshold."""
    rows: int = Field(default=0, ge=0)
    """Rows received in the window: served and rejected."""
    requests: int = Field(default=0, ge=0)
    """Inference requests in the window."""
    features: list[FeatureQualityStatus] | None = Field(default=None, max_length=1000)
    """Features with anything missing, out of range or unseen, failed checks first; the
    others are left out."""
    rejected: list[RejectedStatus] | None = Field(default=None, max_length=20)
    """Reasons of the window's rejected requests, failed ones first."""
    reason: Text | None = None
    """Why some shares were not judged (too few rows or requests), or what the spec names
    that the profile lacks."""


class EstimatedPerformanceStatus(KubeModel):
    """Performance estimated from the window's score histogram (confidence-based performance
    estimation), before labels arrive."""

    value: float | None = None
    """The estimate; absent without a score histogram or enough scored predictions."""
    samples: int = Field(default=0, ge=0)
    """Scored predictions in the monitor's window."""
    reason: Text | None = None
    """Why there is no estimate."""


class PerformanceStatus(KubeModel):
    """The last performance measurement."""

    metric: PerformanceMetric
    """The metric."""
    value: float | None = None
    """The value judged against min/max: the realised one, or the estimate (basis
    estimated, with judgeEstimated); absent when there is neither."""
    basis: Literal["realised", "estimated"] = "realised"
    """Which value is judged."""
    samples: int = Field(default=0, ge=0)
    """Labelled predictions in the performance window (scored predictions when estimated)."""
    degraded: bool = False
    """Whether the value is outside min/max."""
    positive_class: Annotated[str, StringConstraints(max_length=253)] | None = None
    """The class precision, recall and f1 are about; absent when macro-averaged."""
    estimated: EstimatedPerformanceStatus | None = None
    """The estimate beside the realised value (classification metrics)."""
    reason: Text | None = None
    """Why there is no realised value: too few labels, or a metric this model cannot have."""


class FairnessStatus(KubeModel):
    """The last value of one fairness check."""

    attribute: FeatureName
    """The protected attribute."""
    metric: FairnessMetric
    """The metric."""
    value: float | None = None
    """Its value."""
    within_range: bool | None = None
    """Whether the value is within the range."""
    reason: Text | None = None
    """Why there is no value (an empty group, no labels, an attribute the profile lacks)."""


class ReferenceStatus(KubeModel):
    """The reference profile the last evaluation compared live traffic with."""

    config_map: ObjectName
    """The profile's ConfigMap: the one the stable revision's pods mount."""
    key: Annotated[str, StringConstraints(max_length=253)]
    """Its key."""
    revision: Annotated[str, StringConstraints(max_length=63)]
    """The stable revision whose traffic is evaluated."""
    model_version: Annotated[str, StringConstraints(max_length=253)] = ""
    """The model version that revision serves."""
    source: Literal["profile", "window"] = "profile"
    """What the live counts were compared with: the profile's proportions, or the baseline
    window's live counts (spec.reference)."""
    window: Duration | None = None
    """The baseline's span (spec.reference.window)."""
    offset: Duration | None = None
    """How long ago the baseline ends (spec.reference.offset)."""
    samples: int | None = Field(default=None, ge=0)
    """Predictions in the baseline window."""
    reason: Text | None = None
    """Why the profile is the reference although spec.reference asks for a window."""


class DriftMonitorStatus(KubeModel):
    """The monitor's last evaluation. Written only by the operator."""

    phase: DriftMonitorPhase = DriftMonitorPhase.PENDING
    """Pending, Monitoring, Drifted or Failed."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The .metadata.generation this status reflects."""
    conditions: Conditions | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling, Stalled and Drifted."""
    message: Text = ""
    """A summary for people."""
    last_evaluation_time: datetime | None = None
    """When the monitor last evaluated."""
    samples: int | None = Field(default=None, ge=0)
    """Predictions in the last window."""
    features: list[FeatureDriftStatus] | None = Field(default=None, max_length=1000)
    """Per-feature scores, most drifted first."""
    prediction: PredictionDriftStatus | None = None
    """Prediction drift."""
    dataset_drift: DatasetDriftStatus | None = None
    """Dataset drift."""
    data_quality: DataQualityStatus | None = None
    """Data quality."""
    performance: PerformanceStatus | None = None
    """Performance."""
    fairness: list[FairnessStatus] | None = Field(default=None, max_length=20)
    """Fairness checks."""
    reference: ReferenceStatus | None = None
    """The reference profile of the last evaluation."""
