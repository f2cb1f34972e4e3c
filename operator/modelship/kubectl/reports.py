"""Reports of `history`, `drift` and `retrain`, and the drift and retraining parts of `get`:
summaries (the `-o json` documents) and their screens. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from modelship.kubectl import text
from modelship.retrain.runs import ANNOTATION_APPROVE

Obj = Mapping[str, Any]


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


# --- DriftMonitor ---------------------------------------------------------------------------


def monitor_summary(monitor: Obj, top: int | None = None) -> dict[str, Any]:
    """A DriftMonitor's last evaluation; `top` keeps only the most drifted features."""
    status = _status(monitor)
    drifted = text.condition(monitor, "Drifted")
    features = list(status.get("features") or [])  # the operator orders them most drifted first
    summary: dict[str, Any] = {
        "name": _meta(monitor).get("name", ""),
        "namespace": _meta(monitor).get("namespace", ""),
        "modelDeployment": (monitor.get("spec") or {}).get("modelDeploymentRef", ""),
        "phase": status.get("phase", "Pending"),
        "drifted": drifted.get("status") if drifted else None,
        "driftedReason": drifted.get("reason") if drifted else None,
        "message": status.get("message", ""),
        "lastEvaluationTime": status.get("lastEvaluationTime"),
        "samples": status.get("samples"),
        "reference": status.get("reference"),
        "datasetDrift": status.get("datasetDrift"),
        "featureCount": len(features),
        "features": features[:top] if top is not None else features,
        "prediction": status.get("prediction"),
        "performance": status.get("performance"),
        "fairness": list(status.get("fairness") or []),
    }
    if status.get("dataQuality") is not None:
        summary["dataQuality"] = status["dataQuality"]
    return summary


def _kv(rows: Sequence[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, value if isinstance(value, Text) else str(value))
    return grid


def _generic(title: str, value: Any) -> RenderableType:
    """A block the operator reports that this plugin has no special layout for."""
    if isinstance(value, Mapping):
        return _kv([(f"  {k}:", text.number(v)) for k, v in value.items()])
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        columns = list(dict.fromkeys(k for v in value for k in v))
        table = text.table(*(c.upper() for c in columns), title=title or None)
        for v in value:
            table.add_row(*(text.number(v.get(c)) for c in columns))
        return table
    return Text(f"  {value}")


def render_drift(report: Obj, now: datetime) -> RenderableType:
    """`kubectl modelship drift NAME`: the full report of a DriftMonitor."""
    drifted = report.get("drifted")
    verdict = Text(drifted or "-", style="bold red" if drifted == "True" else "")
    if report.get("driftedReason"):
        verdict.append(f" ({report['driftedReason']})")
    rows: list[tuple[str, Any]] = [
        ("Name:", f"{report['name']}  (namespace {report['namespace']})"),
        ("Model:", report["modelDeployment"]),
        ("Status:", text.phase(report["phase"])),
        ("Drifted:", verdict),
        (
            "Evaluated:",
            f"{text.age(report.get('lastEvaluationTime'), now)} ago, "
            f"{text.number(report.get('samples'))} predictions in the window",
        ),
    ]
    reference = report.get("reference")
    if reference:
        rows.append(
            (
                "Reference:",
                f"ConfigMap {reference.get('configMap')} "
                f"({reference.get('key')}), revision {reference.get('revision')}, "
                f"model version {reference.get('modelVersion') or '-'}",
            )
        )
    if report.get("message"):
        rows.append(("Message:", report["message"]))
    dataset = report.get("datasetDrift")
    if dataset:
        rows.append(
            (
                "Dataset drift:",
                f"{dataset.get('driftedFeatures', 0)} of "
                f"{dataset.get('features', 0)} features ({dataset.get('share', 0):.0%}): "
                + ("drifted" if dataset.get("drifted") else "not drifted"),
            )
        )
    parts: list[RenderableType] = [_kv(rows)]

    features = text.table(
        "FEATURE",
        "METHOD",
        "SCORE",
        "P-VALUE",
        "SEVERITY",
        "SAMPLES",
        "NOTE",
        title="Features (most drifted first)",
    )
    for f in report.get("features") or []:
        features.add_row(
            f.get("name", ""),
            f.get("method", ""),
            text.number(f.get("score")),
            text.number(f.get("pValue")),
            text.severity(f.get("severity")),
            text.number(f.get("samples")),
            f.get("reason") or "",
        )
    prediction = report.get("prediction")
    if prediction:
        features.add_row(
            Text("(prediction)", style="italic"),
            prediction.get("method", ""),
            text.number(prediction.get("score")),
            "-",
            text.severity(prediction.get("severity")),
            "",
            prediction.get("reason") or "",
        )
    if features.row_count:
        parts += [Text(""), features]

    if report.get("dataQuality") is not None:
        parts += [
            Text(""),
            Text("Data quality", style="italic"),
            _generic("", report["dataQuality"]),
        ]

    performance = report.get("performance")
    if performance:
        value = text.number(performance.get("value"))
        state = Text("degraded", style="bold red") if performance.get("degraded") else Text("ok")
        line = Text.assemble(
            f"  {performance.get('metric')} {value} on "
            f"{performance.get('samples', 0)} labelled predictions: ",
            state,
        )
        if performance.get("reason"):
            line.append(f" ({performance['reason']})", style="dim")
        parts += [Text(""), Text("Performance", style="italic"), line]

    if report.get("fairness"):
        fairness = text.table(
            "ATTRIBUTE", "METRIC", "VALUE", "WITHIN RANGE", "NOTE", title="Fairness"
        )
        for f in report["fairness"]:
            within = f.get("withinRange")
            mark = (
                Text("-")
                if within is None
                else Text("yes", style="green")
                if within
                else Text("no", style="bold red")
            )
            fairness.add_row(
                f.get("attribute", ""),
                f.get("metric", ""),
                text.number(f.get("value")),
                mark,
                f.get("reason") or "",
            )
        parts += [Text(""), fairness]
    return Group(*parts)


def render_monitors(monitors: Sequence[Obj], now: datetime, namespaces: bool) -> Table:
    """`drift` without a name: one line per DriftMonitor."""
    columns = ["NAMESPACE"] if namespaces else []
    table = text.table(
        *columns,
        "NAME",
        "MODEL",
        "PHASE",
        "DRIFTED",
        "SAMPLES",
        "TOP FEATURE",
        "EVALUATED",
    )
    for m in monitors:
        top = (m.get("features") or [{}])[0]
        top_text = (
            f"{top.get('name')} {text.number(top.get('score'))} ({top.get('severity')})"
            if top
            else "-"
        )
        row = [m["namespace"]] if namespaces else []
        table.add_row(
            *row,
            m["name"],
            m["modelDeployment"],
            text.phase(m["phase"]),
            m.get("drifted") or "-",
            text.number(m.get("samples")),
            top_text,
            text.age(m.get("lastEvaluationTime"), now),
        )
    return table


# --- RetrainPolicy --------------------------------------------------------------------------


def policy_summary(policy: Obj, runs: int | None = None) -> dict[str, Any]:
    """A RetrainPolicy's state and its runs, newest first (`runs` keeps only that many)."""
    status = _status(policy)
    spec = policy.get("spec") or {}
    all_runs = list(status.get("runs") or [])
    return {
        "name": _meta(policy).get("name", ""),
        "namespace": _meta(policy).get("namespace", ""),
        "modelDeployment": spec.get("modelDeploymentRef", ""),
        "phase": status.get("phase", "Pending"),
        "promotion": spec.get("promotion", "manual"),
        "message": status.get("message", ""),
        "activeRun": status.get("activeRun"),
        "breakerOpen": bool(status.get("breakerOpen")),
        "lastSuppressed": status.get("lastSuppressed", ""),
        "lastRunTime": status.get("lastRunTime"),
        "nextScheduleTime": status.get("nextScheduleTime"),
        "runCount": len(all_runs),
        "runs": all_runs[:runs] if runs is not None else all_runs,
    }


def run_message(run: Obj) -> str:
    """A run's message, with the command that answers a run waiting for approval."""
    message = str(run.get("message") or "")
    if run.get("outcome") == "AwaitingApproval":
        name = run.get("name", "")
        command = f"kubectl modelship approve {name} (or reject {name})"
        annotation = f"approve with {ANNOTATION_APPROVE}={name}"
        message = (
            message.replace(annotation, command)
            if annotation in message
            else (f"{message}; {command}" if message else command)
        )
    return message


def render_runs(runs: Sequence[Obj], now: datetime) -> Table:
    table = text.table("RUN", "TRIGGER", "OUTCOME", "VERSION", "STARTED", "TOOK", "MESSAGE")
    for run in runs:
        started, finished = (
            text.parse_time(run.get("startedAt")),
            text.parse_time(run.get("finishedAt")),
        )
        took = text.duration((finished - started).total_seconds()) if started and finished else "-"
        version = f"{run.get('baseVersion') or '?'} -> {run.get('newVersion') or '?'}"
        table.add_row(
            str(run.get("name", "")),
            run.get("trigger", ""),
            text.phase(run.get("outcome")),
            version,
            text.age(run.get("startedAt"), now) + " ago",
            took,
            run_message(run),
        )
    return table


def render_policy(summary: Obj, now: datetime) -> RenderableType:
    """A RetrainPolicy and its runs (what `retrain` prints after asking for a run)."""
    rows: list[tuple[str, Any]] = [
        ("Name:", f"{summary['name']}  (namespace {summary['namespace']})"),
        ("Model:", summary["modelDeployment"]),
        ("Status:", text.phase(summary["phase"])),
        ("Promotion:", summary["promotion"]),
    ]
    if summary.get("message"):
        rows.append(("Message:", summary["message"]))
    if summary.get("breakerOpen"):
        rows.append(
            (
                "Breaker:",
                Text(
                    "open: automatic triggers stopped "
                    f"(kubectl modelship reset-breaker {summary['name']})",
                    style="bold red",
                ),
            )
        )
    if summary.get("lastSuppressed"):
        rows.append(("Suppressed:", summary["lastSuppressed"]))
    if summary.get("nextScheduleTime"):
        rows.append(("Next schedule:", str(summary["nextScheduleTime"])))
    parts: list[RenderableType] = [_kv(rows)]
    if summary["runs"]:
        parts += [Text(""), render_runs(summary["runs"], now)]
    return Group(*parts)


# --- history --------------------------------------------------------------------------------


def history_rows(model_deployment: Obj, kept: Sequence[str] = ()) -> list[dict[str, Any]]:
    """status.history, oldest first, numbered from 1 as `undo --to-revision N` takes it;
    `kept` names the revisions whose Deployments still exist (those `undo` can return to)."""
    status = _status(model_deployment)
    entries = list(reversed(status.get("history") or []))  # status keeps newest first
    stable = status.get("stableRevision")
    serving_index = next(
        (
            i
            for i in range(len(entries) - 1, -1, -1)
            if entries[i].get("revision") == stable and entries[i].get("outcome") == "Promoted"
        ),
        None,
    )
    rows = []
    for i, entry in enumerate(entries):
        rows.append(
            {
                "number": i + 1,
                "revision": entry.get("revision", ""),
                "modelVersion": entry.get("modelVersion", ""),
                "modelURI": entry.get("modelURI", ""),
                "image": entry.get("image", ""),
                "startedAt": entry.get("startedAt"),
                "finishedAt": entry.get("finishedAt"),
                "outcome": entry.get("outcome", ""),
                "reason": entry.get("reason", ""),
                "serving": i == serving_index,
                "kept": entry.get("revision") in kept,
                "measurements": entry.get("measurements"),
            }
        )
    return rows


def render_history(rows: Sequence[Obj], now: datetime) -> RenderableType:
    if not rows:
        return Text("no rollouts recorded yet")
    table = text.table("#", "REVISION", "VERSION", "OUTCOME", "STARTED", "TOOK", "REASON")
    for row in rows:
        started, finished = text.parse_time(row["startedAt"]), text.parse_time(row["finishedAt"])
        took = text.duration((finished - started).total_seconds()) if started and finished else "-"
        revision = Text(row["revision"], style="bold" if row["serving"] else "")
        if row["serving"]:
            revision.append(" (serving)", style="green")
        elif not row["kept"]:
            revision.append(" (gone)", style="dim")
        table.add_row(
            str(row["number"]),
            revision,
            row["modelVersion"],
            text.phase(row["outcome"]),
            text.age(row["startedAt"], now) + " ago",
            took,
            row["reason"],
        )
    table.caption = (
        "undo --to-revision takes # or REVISION; a revision marked (gone) has no "
        "Deployment left to return to"
    )
    table.caption_justify = "left"
    return table
