"""Analysis in the reconcile loop: measure when a round is due, then hand verdicts to the
rollout planner. Thin: the decisions are in `modelship.analysis` (queries, judging, run).

A round happens inside the reconcile pass that finds it due, and the same pass acts on its
verdict, so a rollback starts as soon as the failing measurement is taken.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from modelship.analysis.measure import RoundData, measure_round, parse_batch, unreachable
from modelship.analysis.prometheus import PrometheusClient, PrometheusUnavailableError
from modelship.analysis.queries import Subject, builtin_batch, render_custom
from modelship.analysis.run import (
    current_run,
    latest,
    metrics_for,
    next_round_at,
    record_round,
    seconds_until,
    verdicts,
)
from modelship.api.analysis import AnalysisGate, AnalysisRunStatus, Measurement, MeasurementResult
from modelship.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelship.api.resources import MODEL_DEPLOYMENT
from modelship.api.types import parse_duration
from modelship.controller import metrics
from modelship.controller.children import ChildrenAdapter
from modelship.logging import object_logger
from modelship.rollout.types import GateResult, Verdict


@dataclass
class AnalysisOutcome:
    verdicts: dict[str, GateResult] = field(default_factory=dict)
    run: AnalysisRunStatus | None = None
    measurements: list[Measurement] | None = None
    next_round_in: float | None = None
    """Seconds until the next round is due."""


class PrometheusAnalysis:
    """Measures rollouts against Prometheus (the operator-wide URL unless a spec names one)."""

    def __init__(self, adapter: ChildrenAdapter, default_url: str | None) -> None:
        self.adapter = adapter
        self.default_url = default_url
        self._clients: dict[tuple[str, float, str | None, bool | str], PrometheusClient] = {}

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
        run = current_run(status.analysis, revision, now)
        if rollout_started_at and run.started_at and run.started_at < rollout_started_at:
            run = current_run(None, revision, now)  # a retry starts counting afresh
        measured: list[Measurement] = []
        if now >= next_round_at(run, analysis):
            wanted = metrics_for(analysis, gates)
            subject = Subject(
                namespace=md["metadata"]["namespace"], model=spec.model.name,
                canary_revision=revision, stable_revision=status.stable_revision,
                window=analysis.interval,
            )  # fmt: skip
            measured = self._measure(md, spec, wanted, subject, now)
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
        last = latest(status.measurements, measured)
        failing = tuple(m for m in last if m.result is MeasurementResult.FAILED)
        found = {
            key: replace(result, measurements=failing)
            if result.verdict is Verdict.FAILED
            else result
            for key, result in verdicts(run, gates, analysis).items()
        }
        return AnalysisOutcome(
            verdicts=found,
            run=run,
            measurements=last,
            next_round_in=seconds_until(next_round_at(run, analysis), now),
        )

    def _measure(self, md: Mapping[str, Any], spec: ModelDeploymentSpec, wanted: list[Any],
                 subject: Subject, now: datetime) -> list[Measurement]:  # fmt: skip
        assert spec.analysis is not None
        try:
            client = self._client(md, spec)
            data = parse_batch(client.query(builtin_batch(wanted, subject)))
            metrics.PROMETHEUS_QUERIES.labels("ok").inc()
            custom: dict[str, float | None] = {}
            for metric in wanted:
                if metric.prometheus is not None:
                    query = render_custom(metric.prometheus.query, subject)
                    target = (
                        self._client(md, spec, metric.prometheus.address)
                        if metric.prometheus.address
                        else client
                    )
                    custom[metric.name] = target.scalar(query)
                    metrics.PROMETHEUS_QUERIES.labels("ok").inc()
        except PrometheusUnavailableError as err:
            metrics.PROMETHEUS_QUERIES.labels("error").inc()
            return unreachable(wanted, str(err), now)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            # A malformed answer is no basis for a verdict either: Inconclusive, never a crash.
            metrics.PROMETHEUS_QUERIES.labels("error").inc()
            return unreachable(wanted, f"unexpected answer: {err!r}", now)
        return measure_round(wanted, data or RoundData(), custom, spec.analysis.min_samples, now)

    def _client(self, md: Mapping[str, Any], spec: ModelDeploymentSpec,
                address: str | None = None) -> PrometheusClient:  # fmt: skip
        assert spec.analysis is not None
        conn = spec.analysis.prometheus
        url = address or (conn.address if conn else None) or self.default_url
        if not url:
            raise PrometheusUnavailableError(
                "no Prometheus address: set spec.analysis.prometheus.address or the operator's "
                "--prometheus-url"
            )
        timeout = parse_duration(conn.timeout).total_seconds() if conn else 10.0
        namespace = md["metadata"]["namespace"]
        token = None
        verify: bool | str = True
        if conn and conn.bearer_token_secret_ref:
            token = self._secret(namespace, conn.bearer_token_secret_ref.name,
                                 conn.bearer_token_secret_ref.key).strip()  # fmt: skip
        if conn and conn.tls:
            if conn.tls.insecure_skip_verify:
                verify = False
            elif conn.tls.ca_secret_ref:
                ca = self._secret(
                    namespace, conn.tls.ca_secret_ref.name, conn.tls.ca_secret_ref.key
                )
                with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as bundle:
                    bundle.write(ca)
                verify = bundle.name
        key = (url, timeout, token, verify)
        if key not in self._clients:
            self._clients[key] = PrometheusClient(url, timeout, token, verify)
        return self._clients[key]

    def _secret(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = self.adapter.call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except Exception as err:
            raise PrometheusUnavailableError(f"cannot read Secret {name}: {err}") from err
        data = (secret.get("data") or {}).get(key)
        if data is None:
            raise PrometheusUnavailableError(f"Secret {name} has no key {key}")
        return base64.b64decode(data).decode()
