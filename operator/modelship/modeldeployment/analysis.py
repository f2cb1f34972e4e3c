"""Analysis in the rollout reconcile: measure when a round is due, then hand verdicts to the
rollout planner. Thin: the decisions are in `modelship.analysis` (queries, judging, run); the
connections in `modelship.adapters.prometheus`.

A round happens inside the reconcile pass that finds it due, and the same pass acts on its
verdict, so a rollback starts as soon as the failing measurement is taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelship import metrics
from modelship.adapters.prometheus import PrometheusConnections, PrometheusUnavailableError
from modelship.analysis.measure import RoundData, measure_round, parse_batch, unreachable
from modelship.analysis.queries import (
    Subject,
    builtin_batch,
    look_at,
    promql_range,
    render_custom,
)
from modelship.analysis.run import (
    conclude,
    metrics_for,
    next_round_at,
    record_round,
    run_for,
    seconds_until,
)
from modelship.analysis.types import GateResult
from modelship.api.analysis import Analysis, AnalysisGate, AnalysisRunStatus, Measurement, Metric
from modelship.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelship.api.resources import MODEL_DEPLOYMENT
from modelship.logging import object_logger


@dataclass
class AnalysisOutcome:
    verdicts: dict[str, GateResult] = field(default_factory=dict)
    run: AnalysisRunStatus | None = None
    measurements: list[Measurement] | None = None
    next_round_in: float | None = None
    """Seconds until the next round is due."""


class PrometheusAnalysis:
    """Measures rollouts against Prometheus (the operator-wide URL unless a spec names one)."""

    def __init__(self, connections: PrometheusConnections) -> None:
        self.connections = connections

    def evaluate(
        self,
        md: Mapping[str, Any],
        spec: ModelDeploymentSpec,
        status: ModelDeploymentStatus,
        gates: Mapping[str, AnalysisGate],
        rollout_started_at: datetime | None,
        now: datetime,
    ) -> AnalysisOutcome:
        analysis = spec.analysis
        revision = status.canary_revision
        if analysis is None or revision is None or not gates:
            return AnalysisOutcome()
        run = run_for(status.analysis, revision, rollout_started_at, now)
        measured: list[Measurement] = []
        if now >= next_round_at(run, analysis):
            wanted = metrics_for(analysis, gates)
            subject = Subject(
                namespace=md["metadata"]["namespace"], model=spec.model.name,
                canary_revision=revision, stable_revision=status.stable_revision,
                window=promql_range(analysis.interval),
            )  # fmt: skip
            measured = measure(self.connections, analysis, wanted, subject, now)
            for m in measured:
                metrics.MEASUREMENTS.labels(m.metric, str(m.result)).inc()
            run = record_round(run, measured, gates, analysis, now)
            object_logger(md, MODEL_DEPLOYMENT.kind).info(
                "analysis round",
                revision=revision,
                results={m.metric: f"{m.result}: {m.message}" for m in measured},
                failed=run.failed,
                inconclusive=run.inconclusive,
            )
        found, last = conclude(run, gates, analysis, status.measurements, measured)
        return AnalysisOutcome(
            verdicts=found,
            run=run,
            measurements=last,
            next_round_in=seconds_until(next_round_at(run, analysis), now),
        )


def measure(
    connections: PrometheusConnections,
    analysis: Analysis,
    wanted: Sequence[Metric],
    subject: Subject,
    now: datetime,
) -> list[Measurement]:
    """One round of `wanted` for `subject`: one batched query for the builtins, one per
    custom metric. Any failure to get an answer is Inconclusive, never a crash."""
    try:
        client = connections.client(analysis.prometheus, subject.namespace)
        data = parse_batch(client.query(builtin_batch(list(wanted), subject)))
        metrics.PROMETHEUS_QUERIES.labels("ok").inc()
        custom: dict[str, float | None] = {}
        for metric in wanted:
            if metric.prometheus is not None:
                query = render_custom(metric.prometheus.query, subject)
                target = (
                    connections.client(
                        analysis.prometheus, subject.namespace, metric.prometheus.address
                    )
                    if metric.prometheus.address
                    else client
                )
                custom[metric.name] = target.scalar(query)
                metrics.PROMETHEUS_QUERIES.labels("ok").inc()
    except PrometheusUnavailableError as err:
        metrics.PROMETHEUS_QUERIES.labels("error").inc()
        measured = unreachable(list(wanted), str(err), now)
    except (KeyError, IndexError, TypeError, ValueError) as err:
        metrics.PROMETHEUS_QUERIES.labels("error").inc()
        measured = unreachable(list(wanted), f"unexpected answer: {err!r}", now)
    else:
        measured = measure_round(
            list(wanted), data or RoundData(), custom, analysis.min_samples, now
        )
    queries = {metric.name: look_at(metric, subject) for metric in wanted}
    return [m.model_copy(update={"query": queries.get(m.metric, "")[:2048]}) for m in measured]
