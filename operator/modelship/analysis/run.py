"""The analysis of one rollout: when to measure, what a round counts for, what each gate's
verdict is. Pure.

Semantics (docs/analysis.md):
- A round measures every metric once. It is Failed if any metric failed, Inconclusive if
  none failed and any was inconclusive, Successful otherwise.
- More than `failureLimit` failed rounds in a rollout fail every gate: the rollout aborts.
- More than `inconclusiveLimit` consecutive inconclusive rounds make blocking gates
  Inconclusive: the rollout pauses; it keeps measuring, so it resumes once data returns.
- A blocking gate passes after `count` successful rounds measured while it stood.
- The background gate never passes; it only fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from modelship.analysis.types import GateResult, Verdict
from modelship.api.analysis import (
    Analysis,
    AnalysisGate,
    AnalysisRunStatus,
    Measurement,
    MeasurementResult,
    Metric,
)
from modelship.api.types import parse_duration

BACKGROUND = "background"


def new_run(revision: str, now: datetime) -> AnalysisRunStatus:
    return AnalysisRunStatus(revision=revision, started_at=now)


def current_run(run: AnalysisRunStatus | None, revision: str, now: datetime) -> AnalysisRunStatus:
    """The run of this revision, or a fresh one when the analysed revision changed."""
    if run is None or run.revision != revision:
        return new_run(revision, now)
    return run


def run_for(
    previous: AnalysisRunStatus | None,
    revision: str,
    rollout_started_at: datetime | None,
    now: datetime,
) -> AnalysisRunStatus:
    """The run that counts now: this revision's, restarted when the rollout (re)started
    after it began (a retry counts afresh)."""
    run = current_run(previous, revision, now)
    if rollout_started_at and run.started_at and run.started_at < rollout_started_at:
        return new_run(revision, now)
    return run


def conclude(
    run: AnalysisRunStatus,
    gates: Mapping[str, AnalysisGate],
    analysis: Analysis,
    previous: Sequence[Measurement] | None,
    measured: Sequence[Measurement],
) -> tuple[dict[str, GateResult], list[Measurement]]:
    """Each gate's verdict, a failed one carrying the failing measurements (the reason a
    rollout stops), and the last measurement of each metric."""
    last = latest(previous, measured)
    failing = tuple(m for m in last if m.result is MeasurementResult.FAILED)
    found = {
        key: replace(result, measurements=failing) if result.verdict is Verdict.FAILED else result
        for key, result in verdicts(run, gates, analysis).items()
    }
    return found, last


def next_round_at(run: AnalysisRunStatus, analysis: Analysis) -> datetime:
    start = (run.started_at or datetime.min) + parse_duration(analysis.initial_delay)
    if run.last_measured_at is None:
        return start
    return max(start, run.last_measured_at + parse_duration(analysis.interval))


def metrics_for(analysis: Analysis, gates: Mapping[str, AnalysisGate]) -> list[Metric]:
    """The metrics any wanted gate needs, in spec order."""
    wanted: set[str] = set()
    for gate in gates.values():
        wanted.update(gate.metrics or [m.name for m in analysis.metrics])
    return [m for m in analysis.metrics if m.name in wanted]


def _blocking(gates: Mapping[str, AnalysisGate]) -> str:
    return next((key for key in gates if key != BACKGROUND), "")


def _outcome(measurements: Sequence[Measurement]) -> MeasurementResult:
    results = {m.result for m in measurements}
    if MeasurementResult.FAILED in results:
        return MeasurementResult.FAILED
    if MeasurementResult.INCONCLUSIVE in results:
        return MeasurementResult.INCONCLUSIVE
    return MeasurementResult.SUCCESSFUL


def _summary(measurements: Sequence[Measurement], result: MeasurementResult) -> str:
    parts = [
        f"{m.metric}: {m.message}" + (f" ({m.samples} requests)" if m.samples else "")
        for m in measurements
        if m.result is result
    ]
    return "; ".join(parts)[:1024]


def record_round(
    run: AnalysisRunStatus,
    measurements: Sequence[Measurement],
    gates: Mapping[str, AnalysisGate],
    analysis: Analysis,
    now: datetime,
) -> AnalysisRunStatus:
    """Count one round of measurements into the run."""
    outcome = _outcome(measurements)
    gate = _blocking(gates)
    gate_successful = run.gate_successful if run.gate == gate else 0
    if gate:
        names = set(gates[gate].metrics or [m.name for m in analysis.metrics])
        if _outcome([m for m in measurements if m.metric in names]) is MeasurementResult.SUCCESSFUL:
            gate_successful += 1
    message = _summary(measurements, outcome) if outcome is not MeasurementResult.SUCCESSFUL else ""
    return run.model_copy(
        update={
            "successful": run.successful + (outcome is MeasurementResult.SUCCESSFUL),
            "failed": run.failed + (outcome is MeasurementResult.FAILED),
            "inconclusive": run.inconclusive + 1
            if outcome is MeasurementResult.INCONCLUSIVE
            else 0,
            "last_measured_at": now,
            "gate": gate,
            "gate_successful": gate_successful,
            "message": message or f"round {run.successful + run.failed + 1}: all metrics passed",
        }
    )


def verdicts(
    run: AnalysisRunStatus, gates: Mapping[str, AnalysisGate], analysis: Analysis
) -> dict[str, GateResult]:
    """Each wanted gate's verdict from the run so far."""
    out: dict[str, GateResult] = {}
    if run.failed > analysis.failure_limit:
        failed = GateResult(
            Verdict.FAILED,
            f"{run.failed} failed measurement rounds over {analysis.interval} windows "
            f"(failureLimit {analysis.failure_limit}): {run.message}",
        )
        return dict.fromkeys(gates, failed)
    stuck = run.inconclusive > analysis.inconclusive_limit
    for key, gate in gates.items():
        if key == BACKGROUND:
            out[key] = GateResult(Verdict.RUNNING)
        elif stuck:
            out[key] = GateResult(
                Verdict.INCONCLUSIVE,
                f"{run.inconclusive} inconclusive rounds in a row (inconclusiveLimit "
                f"{analysis.inconclusive_limit}): {run.message}",
            )
        elif run.gate == key and run.gate_successful >= gate.count:
            out[key] = GateResult(Verdict.SUCCESSFUL, f"{run.gate_successful} successful rounds")
        else:
            done = run.gate_successful if run.gate == key else 0
            detail = f"{done}/{gate.count} successful rounds"
            if run.inconclusive:
                detail += f"; inconclusive {run.inconclusive}/{analysis.inconclusive_limit}: "
                detail += run.message
            out[key] = GateResult(Verdict.RUNNING, detail)
    return out


def latest(previous: Sequence[Measurement] | None, new: Sequence[Measurement]) -> list[Measurement]:
    """The last measurement of each metric: the new ones over the previous ones."""
    by_metric = {m.metric: m for m in previous or []}
    by_metric.update({m.metric: m for m in new})
    return list(by_metric.values())


def seconds_until(moment: datetime, now: datetime) -> float:
    return max((moment - now) / timedelta(seconds=1), 0.0)
