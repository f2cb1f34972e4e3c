"""The analysis block of a ModelDeployment: which metrics gate a rollout, and how often."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from modelship.api.base import KubeModel, Rule, ordered, unique
from modelship.api.common import DriftMethod, PrometheusConnection
from modelship.api.types import (
    URL,
    Duration,
    LabelName,
    cel_duration_at_least,
    parse_duration,
)


class BuiltinMetric(StrEnum):
    """Metrics derived from the serving pods' metrics contract, compared per revision."""

    ERROR_RATE = "errorRate"
    LATENCY_P50 = "latencyP50"
    LATENCY_P95 = "latencyP95"
    LATENCY_P99 = "latencyP99"
    PREDICTION_DRIFT = "predictionDrift"


class PrometheusQuery(KubeModel):
    """A custom PromQL query returning one number."""

    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    """PromQL returning a single sample. Placeholders: {{canary}}, {{stable}}, {{namespace}},
    {{model}}, {{interval}}."""
    address: URL | None = None
    """A different Prometheus for this query. Defaults to spec.analysis.prometheus.address."""


JUDGED = frozenset(
    {
        BuiltinMetric.ERROR_RATE,
        BuiltinMetric.LATENCY_P50,
        BuiltinMetric.LATENCY_P95,
        BuiltinMetric.LATENCY_P99,
    }
)
DEFAULT_SIGNIFICANCE = 0.01
DEFAULT_MIN_ERROR_RATE_INCREASE = 0.005
DEFAULT_MIN_LATENCY_INCREASE = 0.1


class Judge(KubeModel):
    """Fail only when the canary is worse than stable beyond noise, by an effect that matters.

    errorRate: a one-sided two-proportion test on the window's errors and requests; the
    effect is the absolute increase of the error rate. Latency: a one-sided Mann-Whitney test
    on the window's latency histograms; the effect is the relative increase of mean latency.
    Failed when p < significance and effect >= minEffect; Inconclusive when the effect is
    that large but not yet significant (too few samples to tell); otherwise Successful.
    """

    significance: float = Field(default=DEFAULT_SIGNIFICANCE, gt=0, le=0.2)
    """The chance, per measurement, of failing a canary that is no worse than stable."""
    min_effect: float | None = Field(default=None, ge=0)
    """The smallest effect worth failing for. Defaults to 0.005 for errorRate (half a
    percentage point more errors) and 0.1 for latency (10% slower on average)."""

    def effect_floor(self, builtin: BuiltinMetric) -> float:
        if self.min_effect is not None:
            return self.min_effect
        if builtin is BuiltinMetric.ERROR_RATE:
            return DEFAULT_MIN_ERROR_RATE_INCREASE
        return DEFAULT_MIN_LATENCY_INCREASE


class Metric(KubeModel):
    """One measured metric and the thresholds it must respect."""

    rules = (
        Rule(
            cel="has(self.builtin) != has(self.prometheus)",
            message="set exactly one of builtin or prometheus",
            check=lambda m: (m.builtin is None) != (m.prometheus is None),
        ),
        Rule(
            cel="has(self.min) || has(self.max) || has(self.maxIncrease) || has(self.judge)",
            message="set at least one of min, max, maxIncrease or judge",
            check=lambda m: (
                m.min is not None
                or m.max is not None
                or m.max_increase is not None
                or m.judge is not None
            ),
        ),
        Rule(
            cel="!has(self.judge) || (has(self.builtin) && self.builtin in "
            "['errorRate', 'latencyP50', 'latencyP95', 'latencyP99'])",
            message="judge applies only to builtin errorRate and latencyP50/P95/P99",
            check=lambda m: m.judge is None or m.builtin in JUDGED,
        ),
        Rule(
            cel="!has(self.min) || !has(self.max) || self.min <= self.max",
            message="min must not exceed max",
            check=lambda m: ordered(m.min, m.max),
        ),
        Rule(
            cel="!has(self.method) || (has(self.builtin) && self.builtin == 'predictionDrift')",
            message="method applies only to builtin predictionDrift",
            check=lambda m: m.method is None or m.builtin == BuiltinMetric.PREDICTION_DRIFT,
        ),
    )

    name: LabelName
    """A unique name for the metric; it appears in status, Events and the operator's metrics."""
    builtin: BuiltinMetric | None = None
    """A metric computed from the metrics contract: errorRate (a fraction, 0-1), latencyP50,
    latencyP95, latencyP99 (seconds) or predictionDrift (the canary's prediction distribution
    against the stable revision's, scored with `method`)."""
    prometheus: PrometheusQuery | None = None
    """A custom PromQL query."""
    min: float | None = None
    """The measurement fails when the value is below this."""
    max: float | None = None
    """The measurement fails when the value is above this."""
    max_increase: float | None = Field(default=None, ge=0)
    """The measurement fails when the canary's value exceeds the stable revision's by more than
    this fraction of it (0.2 = 20% worse)."""
    method: DriftMethod | None = None
    """The statistic for predictionDrift. Defaults to jensenShannon."""
    judge: Judge | None = None
    """Compare the canary with stable statistically (errorRate, latency builtins), besides or
    instead of fixed thresholds."""


def _names_unique(metrics: list[Metric]) -> bool:
    return unique(m.name for m in metrics)


class Analysis(KubeModel):
    """How rollouts are analysed: metrics measured every `interval` against Prometheus.

    A measurement is Successful, Failed or Inconclusive. Inconclusive (no data, fewer than
    `minSamples` requests, Prometheus unreachable) pauses progress and never causes a rollback.
    """

    rules = (
        Rule(
            cel="!has(self.interval) || " + cel_duration_at_least("self.interval", "'1s'"),
            message="interval must be at least 1s",
            check=lambda a: parse_duration(a.interval).total_seconds() >= 1,
        ),
        Rule(
            cel=None,
            message="metric names must be unique",
            check=lambda a: _names_unique(a.metrics),
        ),
    )

    interval: Duration = "1m"
    """Time between two measurements of each metric."""
    initial_delay: Duration = "0s"
    """Time to wait after the analysis of a new revision starts before measuring it."""
    failure_limit: int = Field(default=0, ge=0, le=100)
    """Failed measurements tolerated; one more aborts and (with rollback.automatic) rolls back."""
    inconclusive_limit: int = Field(default=3, ge=0, le=100)
    """Consecutive inconclusive measurements tolerated; one more leaves the rollout Paused. It
    keeps measuring and resumes by itself once usable data returns; a person may promote or
    abort meanwhile. Inconclusive never rolls back."""
    min_samples: int = Field(default=100, ge=0, le=1_000_000_000)
    """Requests a revision must have served in the window for a measurement to count."""
    background: bool = True
    """Measure continuously while a canary, preview or shadow runs (not only at gates)."""
    metrics: list[Metric] = Field(
        min_length=1,
        max_length=20,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The metrics; names are unique."""
    prometheus: PrometheusConnection | None = None
    """Where and how to query Prometheus. Defaults to the operator's settings."""


class AnalysisGate(KubeModel):
    """A blocking check: the analysis must pass now before the rollout moves on."""

    rules = (Rule(cel=None, message="metrics must not repeat", check=lambda g: unique(g.metrics)),)

    metrics: list[LabelName] | None = Field(
        default=None, max_length=20, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Names of spec.analysis metrics to check. Defaults to all of them."""
    count: int = Field(default=1, ge=1, le=100)
    """Successful measurement rounds the gate needs, one per analysis interval. A failed
    round counts against failureLimit instead."""


class MeasurementResult(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class Measurement(KubeModel):
    """One measurement of one metric."""

    metric: LabelName
    """The metric's name."""
    result: MeasurementResult
    """Successful, Failed or Inconclusive."""
    value: float | None = None
    """The canary's (or preview's, or shadow's) value; absent when there was no data."""
    stable_value: float | None = None
    """The stable revision's value, for maxIncrease and predictionDrift."""
    samples: int | None = Field(default=None, ge=0)
    """Requests the value is based on."""
    p_value: float | None = Field(default=None, ge=0, le=1)
    """With a judge: the one-sided test's p-value (canary no worse than stable)."""
    effect: float | None = None
    """With a judge: the canary's error rate minus stable's, or its mean latency relative to
    stable's minus 1."""
    stable_samples: int | None = Field(default=None, ge=0)
    """With a judge: requests stable served in the window."""
    measured_at: datetime
    """When the measurement was taken."""
    message: Annotated[str, StringConstraints(max_length=1024)] = ""
    """Why the result is what it is, e.g. "0.031 > max 0.01"."""
    query: Annotated[str, StringConstraints(max_length=2048)] = ""
    """The PromQL to look at it in Prometheus (the canary's side, over the same window)."""


Measurements = Annotated[list[Measurement], Field(max_length=40)]


class AnalysisRunStatus(KubeModel):
    """Counters of the analysis of the current rollout."""

    revision: Annotated[str, StringConstraints(max_length=63)] = ""
    """The revision being analysed."""
    started_at: datetime | None = None
    """When measuring started."""
    successful: int = Field(default=0, ge=0)
    """Successful measurements so far."""
    failed: int = Field(default=0, ge=0)
    """Failed measurements so far."""
    inconclusive: int = Field(default=0, ge=0)
    """Consecutive inconclusive measurements."""
    last_measured_at: datetime | None = None
    """When the last measurement was taken."""
    gate: Annotated[str, StringConstraints(max_length=63)] = ""
    """The blocking gate being measured (e.g. step-2, prePromotion)."""
    gate_successful: int = Field(default=0, ge=0)
    """Successful measurement rounds since that gate started."""
    message: Annotated[str, StringConstraints(max_length=1024)] = ""
    """A summary for people."""
