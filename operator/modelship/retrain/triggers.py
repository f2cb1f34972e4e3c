"""What asks for a run now: drift, degraded performance, the schedule, a person. Pure.

A monitor's signal counts once per evaluation (its lastEvaluationTime), so a signal that stays
true does not start a run every pass, and must hold for `consecutiveEvaluations` evaluations
before it fires (storm control). Unknown is never a signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from croniter import croniter
from pydantic import ValidationError

from modelship.api.common import P_VALUE_METHODS, Severity
from modelship.api.driftmonitor import (
    DriftMonitorSpec,
    FeatureOverride,
    FeatureThresholds,
    PredictionDrift,
)
from modelship.api.retrainpolicy import (
    DriftTrigger,
    PerformanceTrigger,
    SignalStatus,
    TriggerKind,
    Triggers,
    TriggerScore,
)

ANNOTATION_RETRAIN = "modelship.io/retrain"


@dataclass(frozen=True)
class Request:
    """A trigger that asks for a run now."""

    kind: TriggerKind
    reason: str
    evidence: str = ""
    key: str = ""
    """What makes this request distinct: the schedule time, the annotation value."""
    scores: tuple[TriggerScore, ...] = ()
    """The drift scores it fired on."""


def _rank(severity: Any) -> int:
    """A severity as status reports it (an unknown or missing one ranks as none)."""
    try:
        return Severity(str(severity)).rank
    except ValueError:
        return 0


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    found: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == kind), {}
    )
    return found


def _evaluated_at(status: Mapping[str, Any]) -> datetime | None:
    stamp = status.get("lastEvaluationTime")
    return datetime.fromisoformat(stamp) if stamp else None


def _hot(trigger: DriftTrigger, monitor: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The features at the trigger's severity or worse."""
    wanted = Severity(trigger.severity).rank
    return [f for f in monitor.get("features") or [] if _rank(f.get("severity")) >= wanted]


def drift_seen(
    trigger: DriftTrigger, monitor: Mapping[str, Any], spec: Mapping[str, Any] | None = None
) -> tuple[bool | None, str]:
    """Whether the monitor's last evaluation shows drift at the trigger's severity (None: it
    could not tell), and what it saw: each feature (and the prediction) with its score
    against the threshold it crossed, over the monitor's window (`spec`: the monitor's)."""
    drifted = _condition(monitor, "Drifted")
    if drifted.get("status") not in ("True", "False"):
        return None, ""
    if drifted.get("status") != "True":
        return False, ""
    hot = _hot(trigger, monitor)
    prediction = monitor.get("prediction") or {}
    prediction_hot = _rank(prediction.get("severity")) >= Severity(trigger.severity).rank
    if not hot and not prediction_hot:
        return False, ""
    return True, explain_drift(drifted, hot, prediction if prediction_hot else None, monitor, spec)


def _monitor_spec(spec: Mapping[str, Any] | None) -> DriftMonitorSpec | None:
    try:
        return DriftMonitorSpec.model_validate(spec) if spec is not None else None
    except ValidationError:
        return None  # thresholds unknown: the scores are still worth saying


def _crossed(
    found: Mapping[str, Any], limits: FeatureThresholds | FeatureOverride | PredictionDrift | None
) -> str:
    """`psi 0.31 >= critical 0.25`, `chi2 p-value 0.001 <= critical 0.01`: a score and
    the threshold of the severity it reached."""
    method, score, severity = found.get("method"), found.get("score"), str(found.get("severity"))
    p_value = method in {m.value for m in P_VALUE_METHODS}
    words = f"{method} {'p-value ' if p_value else ''}{score}"
    if limits is None:
        return words
    threshold = limits.critical if severity == Severity.CRITICAL else limits.warning
    if threshold is None:
        return words
    return f"{words} {'<=' if p_value else '>='} {severity} {threshold}"


def explain_drift(
    drifted: Mapping[str, Any],
    features: Sequence[Mapping[str, Any]],
    prediction: Mapping[str, Any] | None,
    monitor: Mapping[str, Any],
    spec: Mapping[str, Any] | None,
) -> str:
    """One line for a drift-triggered run: which features drifted, each score against its
    threshold, and over which window how many predictions were judged."""
    parsed = _monitor_spec(spec)
    parts = []
    for found in features[:10]:
        name = str(found.get("name"))
        limits = parsed.features.thresholds_for(name) if parsed else None
        parts.append(f"{name} {_crossed(found, limits)}")
    if len(features) > 10:
        parts.append(f"and {len(features) - 10} more features")
    if prediction is not None:
        parts.append(f"prediction {_crossed(prediction, parsed.prediction if parsed else None)}")
    window = f"over the last {parsed.window} window" if parsed else "over the monitor's window"
    samples = monitor.get("samples")
    counted = f" ({samples} predictions)" if samples is not None else ""
    return f"{drifted.get('reason')}: {', '.join(parts)}; {window}{counted}"[:1024]


def drift_scores(trigger: DriftTrigger, monitor: Mapping[str, Any]) -> tuple[TriggerScore, ...]:
    """The scores a drift trigger fires on, for the run's lineage: the features at its
    severity or worse (critical first, else in the monitor's order: a p-value's score reads
    the other way round) and the prediction when it is too."""

    def score(name: str, found: Mapping[str, Any]) -> TriggerScore:
        value = found.get("score")
        return TriggerScore(name=name[:253], method=str(found.get("method") or "")[:63],
                            score=float(value) if isinstance(value, int | float) else None,
                            severity=str(found.get("severity") or "")[:16])  # fmt: skip

    hot = sorted(_hot(trigger, monitor), key=lambda f: -_rank(f.get("severity")))
    scores = [score(str(f.get("name")), f) for f in hot[:15]]
    prediction = monitor.get("prediction") or {}
    if _rank(prediction.get("severity")) >= Severity(trigger.severity).rank:
        scores.append(score("prediction", prediction))
    return tuple(scores)


def performance_seen(monitor: Mapping[str, Any]) -> tuple[bool | None, str]:
    """Whether the monitor's last evaluation found performance out of range (None: no
    value, e.g. too few labels, or nothing measured). The value is the one the monitor
    judged: realised, or estimated from scores when it says `basis: estimated`."""
    performance = monitor.get("performance") or {}
    if performance.get("value") is None:
        return None, ""
    if not performance.get("degraded"):
        return False, ""
    estimated = " (estimated from scores)" if performance.get("basis") == "estimated" else ""
    return True, f"{performance.get('metric')} {performance.get('value')} out of range{estimated}"


def count_signal(
    previous: SignalStatus | None,
    kind: TriggerKind,
    seen: bool | None,
    evaluated: datetime | None,
) -> SignalStatus:
    """The signal after the monitor's latest evaluation: counted once per evaluation.
    `seen` None (the monitor could not tell) neither extends nor ends the streak."""
    before = previous or SignalStatus(trigger=kind)
    if evaluated is None or before.last_evaluation_time == evaluated:
        return before
    if seen is None:
        return before.model_copy(update={"last_evaluation_time": evaluated})
    if not seen:  # the streak ends
        return SignalStatus(trigger=kind, consecutive=0, last_evaluation_time=evaluated)
    return before.model_copy(
        update={"consecutive": before.consecutive + 1, "last_evaluation_time": evaluated}
    )


@dataclass(frozen=True)
class Signals:
    signals: tuple[SignalStatus, ...]
    requests: tuple[Request, ...]
    held: tuple[tuple[Request, str], ...] = ()
    """Requests the monitor does not allow, and why."""


def monitor_signals(
    triggers: Triggers,
    monitors: Mapping[str, Mapping[str, Any]],
    previous: Sequence[SignalStatus],
) -> Signals:
    """Count the drift and performance signals; a request for each that held long enough
    (one per streak). `monitors` are DriftMonitor objects by name: a drift request needs
    `retrain` in the monitor's actions.onDrift, the contract between the two kinds."""
    before = {s.trigger: s for s in previous}
    signals, requests, held = [], [], []
    watched: list[tuple[TriggerKind, DriftTrigger | PerformanceTrigger]] = []
    if triggers.drift is not None:
        watched.append((TriggerKind.DRIFT, triggers.drift))
    if triggers.performance is not None:
        watched.append((TriggerKind.PERFORMANCE, triggers.performance))
    for kind, trigger in watched:
        body = monitors.get(trigger.drift_monitor_ref) or {}
        monitor = body.get("status") or {}
        scores: tuple[TriggerScore, ...] = ()
        if isinstance(trigger, DriftTrigger):
            seen, evidence = drift_seen(trigger, monitor, body.get("spec"))
            scores = drift_scores(trigger, monitor) if seen else ()
        else:
            seen, evidence = performance_seen(monitor)
        evaluated = _evaluated_at(monitor)
        signal = count_signal(before.get(kind), kind, seen, evaluated)
        signals.append(signal)
        # One run per streak; a suppressed request (cooldown, Forbid) asks again next time.
        if seen and not signal.fired and signal.consecutive >= trigger.consecutive_evaluations:
            reason = (
                f"DriftMonitor {trigger.drift_monitor_ref}: {kind} in "
                f"{signal.consecutive} evaluations in a row"
            )
            request = Request(kind, reason, evidence, key=str(evaluated), scores=scores)
            actions = ((body.get("spec") or {}).get("actions") or {}).get("onDrift") or ["event"]
            if kind is TriggerKind.DRIFT and "retrain" not in actions:
                why = (
                    f"DriftMonitor {trigger.drift_monitor_ref} does not list retrain in "
                    "spec.actions.onDrift"
                )
                held.append((request, why))
            else:
                requests.append(request)
    return Signals(tuple(signals), tuple(requests), tuple(held))


def schedule_due(
    schedule: str | None, last: datetime | None, created: datetime, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """(the scheduled time due now, if any, else None; the next scheduled time).

    Counted from the last time acted on (or the policy's creation): a missed time fires once,
    never a burst for every time missed while the operator was down."""
    if not schedule:
        return None, None
    start = last or created
    due = croniter(schedule, start).get_next(datetime)
    if due > now:
        return None, due
    # The latest time at or before now: croniter's get_prev is strictly before, and a pass
    # woken for a scheduled time runs exactly at it.
    latest = croniter(schedule, now).get_prev(datetime)
    following = croniter(schedule, latest).get_next(datetime)
    if following <= now:
        latest = following
    return latest, croniter(schedule, latest).get_next(datetime)


def manual_request(annotations: Mapping[str, str], handled: str | None) -> Request | None:
    """modelship.io/retrain=<any new value> asks for one run, once per value."""
    value = annotations.get(ANNOTATION_RETRAIN)
    if not value or value == handled:
        return None
    return Request(TriggerKind.MANUAL, f"requested with {ANNOTATION_RETRAIN}={value}", key=value)
