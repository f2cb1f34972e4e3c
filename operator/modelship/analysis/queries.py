"""PromQL for a measurement round, built from the metrics contract (docs/metrics.md). Pure.

A round asks Prometheus once for every builtin metric of both revisions: each part of the
batch is tagged with `ms_metric`, `ms_side` (canary or stable) and `ms_kind` labels through
`label_replace`, and the parts are joined with `or`. Custom queries go one per metric, since
their results cannot be told apart once joined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from modelship.api.analysis import BuiltinMetric, Metric
from modelship.api.types import parse_duration

REQUESTS = "modelship_requests_total"
DURATION = "modelship_request_duration_seconds"
DURATION_BUCKETS = f"{DURATION}_bucket"
PREDICTION_CLASSES = "modelship_prediction_class_total"
PREDICTION_BUCKETS = "modelship_prediction_value_bucket"
ERROR_OUTCOME = "server_error"
QUANTILES = {
    BuiltinMetric.LATENCY_P50: 0.5,
    BuiltinMetric.LATENCY_P95: 0.95,
    BuiltinMetric.LATENCY_P99: 0.99,
}
CANARY, STABLE = "canary", "stable"
SAMPLES = "__samples__"
ERRORS, MEAN = "errors", "mean"  # the judge's parts


def promql_range(duration: str) -> str:
    """A duration as a PromQL range in whole seconds: the API accepts forms (1.5h, 1h30m1h)
    that some Prometheus versions refuse."""
    return f"{max(int(parse_duration(duration).total_seconds()), 1)}s"


@dataclass(frozen=True)
class Subject:
    """What a round measures: the canary (or preview, or shadow) against the stable revision."""

    namespace: str
    model: str
    canary_revision: str
    stable_revision: str | None
    window: str
    """The range of rate()/increase(), normally the analysis interval."""

    def selector(self, side: str) -> str:
        revision = self.canary_revision if side == CANARY else self.stable_revision
        return f'namespace="{_escape(self.namespace)}",revision="{_escape(revision or "")}"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _tag(expr: str, metric: str, side: str, kind: str) -> str:
    for label, value in (("ms_metric", metric), ("ms_side", side), ("ms_kind", kind)):
        expr = f'label_replace({expr}, "{label}", "{_escape(value)}", "", "")'
    return expr


def _error_rate(sel: str, window: str) -> str:
    errors = f'sum(rate({REQUESTS}{{{sel},outcome="{ERROR_OUTCOME}"}}[{window}]))'
    total = f"sum(rate({REQUESTS}{{{sel}}}[{window}]))"
    # No error series at all means no errors, but no requests at all means no data.
    return f"(({errors}) or (0 * {total})) / {total}"


def _quantile(builtin: BuiltinMetric, sel: str, window: str) -> str:
    rate = f"sum by (le) (rate({DURATION_BUCKETS}{{{sel}}}[{window}]))"
    return f"histogram_quantile({QUANTILES[builtin]}, {rate})"


def builtin_parts(metric: Metric, subject: Subject, side: str) -> list[str]:
    """The tagged PromQL parts of one builtin metric for one side."""
    assert metric.builtin is not None
    sel, w = subject.selector(side), subject.window
    name = metric.name
    if metric.builtin is BuiltinMetric.ERROR_RATE:
        return [
            _tag(_error_rate(sel, w), name, side, "value"),
            *_judge_parts(metric, subject, side),
        ]
    if metric.builtin in QUANTILES:
        expr = _quantile(metric.builtin, sel, w)
        return [_tag(expr, name, side, "value"), *_judge_parts(metric, subject, side)]
    # predictionDrift: the prediction distribution, as per-class counts (classifiers) or
    # cumulative buckets (regressors); the statistic is computed from the bins.
    classes = f"sum by (class) (increase({PREDICTION_CLASSES}{{{sel}}}[{w}]))"
    buckets = f"sum by (le) (increase({PREDICTION_BUCKETS}{{{sel}}}[{w}]))"
    return [_tag(classes, name, side, "class"), _tag(buckets, name, side, "bucket")]


def _judge_parts(metric: Metric, subject: Subject, side: str) -> list[str]:
    """What a judge compares, as counts over the window: errors (the requests are the
    samples part), or the latency histogram and the mean latency."""
    if metric.judge is None:
        return []
    sel, w, name = subject.selector(side), subject.window, metric.name
    if metric.builtin is BuiltinMetric.ERROR_RATE:
        errors = f'sum(increase({REQUESTS}{{{sel},outcome="{ERROR_OUTCOME}"}}[{w}]))'
        total = f"sum(increase({REQUESTS}{{{sel}}}[{w}]))"
        return [_tag(f"({errors}) or (0 * {total})", name, side, ERRORS)]
    buckets = f"sum by (le) (increase({DURATION_BUCKETS}{{{sel}}}[{w}]))"
    seconds = f"sum(increase({DURATION}_sum{{{sel}}}[{w}]))"
    mean = f"{seconds} / sum(increase({DURATION}_count{{{sel}}}[{w}]))"
    return [_tag(buckets, name, side, "bucket"), _tag(mean, name, side, MEAN)]


def look_at(metric: Metric, subject: Subject) -> str:
    """The PromQL a person can paste into Prometheus to see what was measured for the canary:
    the builtin's expression without the batch's tags, or the custom query as sent."""
    if metric.prometheus is not None:
        return render_custom(metric.prometheus.query, subject)
    sel, w = subject.selector(CANARY), subject.window
    if metric.builtin is BuiltinMetric.ERROR_RATE:
        return _error_rate(sel, w)
    if metric.builtin in QUANTILES:
        return _quantile(metric.builtin, sel, w)
    classes = f"sum by (class) (increase({PREDICTION_CLASSES}{{{sel}}}[{w}]))"
    return f"{classes} or sum by (le) (increase({PREDICTION_BUCKETS}{{{sel}}}[{w}]))"


def samples_part(subject: Subject, side: str) -> str:
    """Requests served in the window: what minSamples is checked against."""
    expr = f"sum(increase({REQUESTS}{{{subject.selector(side)}}}[{subject.window}]))"
    return _tag(expr, SAMPLES, side, "value")


def builtin_batch(metrics: Sequence[Metric], subject: Subject) -> str:
    """One query for every builtin metric of a round, both sides, plus sample counts."""
    parts = [samples_part(subject, CANARY)]
    sides = [CANARY]
    if subject.stable_revision:
        sides.append(STABLE)
        parts.append(samples_part(subject, STABLE))
    for metric in metrics:
        if metric.builtin is None:
            continue
        for side in sides:
            parts.extend(builtin_parts(metric, subject, side))
    return " or ".join(parts)


PLACEHOLDER = re.compile(r"\{\{\s*(canary|stable|namespace|model|interval)\s*\}\}")


def render_custom(query: str, subject: Subject) -> str:
    """Fill {{canary}}, {{stable}}, {{namespace}}, {{model}} and {{interval}}."""
    values = {
        "canary": subject.canary_revision,
        "stable": subject.stable_revision or "",
        "namespace": subject.namespace,
        "model": subject.model,
        "interval": subject.window,
    }
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], query)
