"""`kubectl modelship get NAME`: one ModelDeployment with its revisions, pods, analysis, drift
and retraining, as a summary (the `-o json` document) and as a screen. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from modelship.api.types import parse_duration
from modelship.kubectl import text
from modelship.kubectl.reports import monitor_summary, policy_summary, render_runs
from modelship.rollout.controls import PAUSED, TRUE
from modelship.rollout.objects import ANNOTATION_VERSION, LABEL_REVISION

Obj = Mapping[str, Any]
STRATEGIES = ("rolling", "canary", "blueGreen", "shadow")
TOP_FEATURES = 5
SHOWN_RUNS = 5


@dataclass(frozen=True)
class Snapshot:
    """What `get` reads: the ModelDeployment and the objects around it, as the API returns
    them."""

    model_deployment: Obj
    deployments: Sequence[Obj] = ()
    pods: Sequence[Obj] = ()
    monitors: Sequence[Obj] = ()
    """DriftMonitors whose modelDeploymentRef names it."""
    policies: Sequence[Obj] = ()
    """RetrainPolicies whose modelDeploymentRef names it."""


def strategy_of(spec: Obj) -> tuple[str, Obj]:
    """The strategy's kind (rolling, canary, blueGreen, shadow) and its settings."""
    strategy = spec.get("strategy") or {}
    for kind in STRATEGIES:
        if strategy.get(kind) is not None:
            return kind, strategy[kind]
    return "rolling", {}


def canary_steps(kind: str, strategy: Obj) -> list[Obj]:
    if kind == "canary":
        return list(strategy.get("steps") or [])
    if kind == "shadow":
        return list((strategy.get("canary") or {}).get("steps") or [])
    return []


def describe_step(step: Obj) -> str:
    """A canary step as people say it: `setWeight 25%`, `pause 5m`, `pause (until promoted)`,
    `analysis error-rate, p99 x2`."""
    if step.get("setWeight") is not None:
        return f"setWeight {step['setWeight']}%"
    if "pause" in step:
        pause = step.get("pause") or {}
        return f"pause {pause['duration']}" if pause.get("duration") else "pause (until promoted)"
    if "analysis" in step:
        gate = step.get("analysis") or {}
        metrics = ", ".join(gate.get("metrics") or []) or "all metrics"
        count = int(gate.get("count") or 1)
        return f"analysis {metrics}" + (f" x{count}" if count > 1 else "")
    return "?"


def _pause_ends(step: Obj, started: Any) -> datetime | None:
    pause = step.get("pause") or {}
    begun = text.parse_time(started)
    if "pause" not in step or not pause.get("duration") or begun is None:
        return None
    return begun + timedelta(seconds=parse_duration(pause["duration"]).total_seconds())


def _step_states(steps: list[Obj], status: Obj) -> list[str]:
    """done, current or pending per step while a canary runs its steps; '' when none runs."""
    current = status.get("currentStep")
    rollout = status.get("rollout") or {}
    if status.get("canaryRevision") is None or current is None:
        return [""] * len(steps)
    if rollout.get("stage") == "Shadow":
        return ["pending"] * len(steps)
    return [
        "done" if i < current else "current" if i == current else "pending"
        for i in range(len(steps))
    ]


def _role(revision: str, status: Obj) -> str:
    stage = (status.get("rollout") or {}).get("stage")
    if revision == status.get("canaryRevision"):
        return {"Shadow": "shadow", "Preview": "preview"}.get(str(stage), "canary")
    if revision == status.get("stableRevision"):
        return "stable"
    return "old"


def _pod(pod: Obj) -> dict[str, Any]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    ready = next(
        (
            c.get("status") == "True"
            for c in status.get("conditions") or []
            if c.get("type") == "Ready"
        ),
        False,
    )
    state = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or "Pending"
    return {
        "name": meta.get("name", ""),
        "status": state,
        "ready": ready,
        "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
        "createdAt": meta.get("creationTimestamp"),
    }


def _revisions(snap: Snapshot, status: Obj) -> list[dict[str, Any]]:
    pods: dict[str, list[dict[str, Any]]] = {}
    for pod in snap.pods:
        revision = ((pod.get("metadata") or {}).get("labels") or {}).get(LABEL_REVISION)
        if revision:
            pods.setdefault(revision, []).append(_pod(pod))
    rows = []
    for dep in snap.deployments:
        meta = dep.get("metadata") or {}
        revision = (meta.get("labels") or {}).get(LABEL_REVISION)
        if not revision:
            continue
        dep_status = dep.get("status") or {}
        rows.append(
            {
                "revision": revision,
                "role": _role(revision, status),
                "modelVersion": (meta.get("annotations") or {}).get(ANNOTATION_VERSION, ""),
                "replicas": int((dep.get("spec") or {}).get("replicas") or 0),
                "readyReplicas": int(dep_status.get("readyReplicas") or 0),
                "createdAt": meta.get("creationTimestamp"),
                "pods": sorted(pods.get(revision, []), key=lambda p: str(p["name"])),
            }
        )
    order = {"canary": 0, "shadow": 0, "preview": 0, "stable": 1, "old": 2}
    rows.sort(key=lambda r: str(r["createdAt"] or ""), reverse=True)
    rows.sort(key=lambda r: order[str(r["role"])])
    return rows


def summarize(snap: Snapshot) -> dict[str, Any]:
    """The facts `get` shows, as one document (what `-o json` and `-o yaml` print)."""
    md = snap.model_deployment
    meta, spec, status = md.get("metadata") or {}, md.get("spec") or {}, md.get("status") or {}
    rollout = status.get("rollout") or {}
    kind, strategy = strategy_of(spec)
    steps = canary_steps(kind, strategy)
    states = _step_states(steps, status)
    current = status.get("currentStep")
    step_rows = []
    for i, (step, state) in enumerate(zip(steps, states, strict=True)):
        row: dict[str, Any] = {"number": i + 1, "step": describe_step(step), "state": state}
        if state == "current" and (ends := _pause_ends(step, status.get("currentStepStartedAt"))):
            row["pauseEndsAt"] = ends.isoformat()
        step_rows.append(row)
    ready = text.condition(md, "Ready")
    in_progress = status.get("canaryRevision") is not None
    model = spec.get("model") or {}
    annotations = meta.get("annotations") or {}
    return {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "phase": status.get("phase", "Pending"),
        "message": status.get("message", ""),
        "ready": ready.get("status") if ready else None,
        "upToDate": status.get("observedGeneration") == meta.get("generation"),
        "pausedByAnnotation": str(annotations.get(PAUSED, "")).strip().lower() in TRUE,
        "strategy": kind,
        "router": ((strategy.get("traffic") or {}).get("router") or "replicas")
        if kind in ("canary", "shadow")
        else None,
        "stage": rollout.get("stage") if in_progress else None,
        "model": {
            "name": model.get("name", ""),
            "desiredVersion": model.get("version", ""),
            "stableVersion": rollout.get("stableVersion"),
            "uri": model.get("uri", ""),
        },
        "stableRevision": status.get("stableRevision"),
        "canaryRevision": status.get("canaryRevision"),
        "canaryWeight": status.get("canaryWeight") if in_progress else None,
        "step": rollout.get("step") if in_progress else None,
        "currentStep": current if in_progress else None,
        "heldRevision": rollout.get("heldRevision"),
        "window": rollout.get("window"),
        "steps": step_rows,
        "revisions": _revisions(snap, status),
        "analysis": status.get("analysis"),
        "measurements": list(status.get("measurements") or []),
        "why": why(status),
        "inferenceURL": status.get("inferenceURL"),
        "driftMonitors": [monitor_summary(m, TOP_FEATURES) for m in snap.monitors],
        "retrainPolicies": [policy_summary(p, SHOWN_RUNS) for p in snap.policies],
    }


def why(status: Obj) -> list[Obj]:
    """Why the rollout stopped, first thing a person reads: the failed measurements of a
    rollback (kept in its history entry), or those a pause or a Degraded phase is waiting on,
    each with the PromQL to look at it."""
    phase = status.get("phase")
    history = status.get("history") or []
    rollbacks = ("RolledBack", "RolledBackAfterPromotion")
    if phase == "RolledBack" and history and history[0].get("outcome") in rollbacks:
        measured = history[0].get("measurements") or []
        wanted = "Failed"
    elif phase in ("Paused", "Degraded"):
        measured = status.get("measurements") or []
        wanted = "Failed" if phase == "Degraded" else "Inconclusive"
    else:
        return []
    return [
        {
            "metric": m.get("metric", ""),
            "message": m.get("message", ""),
            "samples": m.get("samples"),
            "query": m.get("query", ""),
        }
        for m in measured
        if m.get("result") == wanted
    ]


# --- the screen -----------------------------------------------------------------------------

_MARKERS = {
    "done": Text("✔", style="green"),
    "current": Text("►", style="bold yellow"),
    "pending": Text("○", style="dim"),
    "": Text(" "),
}


def _header(s: Obj) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Name:", f"{s['name']}  (namespace {s['namespace']})")
    status = text.phase(s["phase"])
    if not s["upToDate"]:
        status.append("  (the operator has not seen the latest spec yet)", style="dim")
    grid.add_row("Status:", status)
    if s["message"]:
        grid.add_row("Message:", Text(s["message"]))
    for reason in s.get("why") or []:
        samples = f" ({reason['samples']} requests)" if reason.get("samples") else ""
        grid.add_row("Why:", Text(f"{reason['metric']}: {reason['message']}{samples}"))
        if reason.get("query"):
            grid.add_row("  Look at:", Text(reason["query"], style="dim"))
    if s["pausedByAnnotation"]:
        grid.add_row("Paused:", Text("by annotation (kubectl modelship resume)", style="yellow"))
    strategy = s["strategy"] + (f" (router {s['router']})" if s["router"] else "")
    grid.add_row("Strategy:", strategy)
    if s["stage"]:
        grid.add_row("  Stage:", s["stage"])
    if s["step"]:
        grid.add_row("  Step:", s["step"])
    if s["canaryWeight"] is not None:
        weight = s["canaryWeight"]
        if s["stage"] == "Shadow":
            grid.add_row("  Weight:", f"mirrored {weight}%, stable 100%")
        else:
            new = "preview" if s["stage"] == "Preview" else "canary"
            grid.add_row("  Weight:", f"{new} {weight}%, stable {100 - weight}%")
    model = s["model"]
    versions = f"stable version {model['stableVersion'] or '-'}"
    if model["desiredVersion"] and model["desiredVersion"] != model["stableVersion"]:
        versions += f", desired {model['desiredVersion']}"
    grid.add_row("Model:", Text(f"{model['name']}: {versions}"))
    revisions = f"stable {s['stableRevision'] or '-'}"
    if s["canaryRevision"]:
        role = (s["stage"] or "canary").lower()
        revisions += f", {role} {s['canaryRevision']}"
    if s["heldRevision"]:
        revisions += f", held {s['heldRevision']} (kubectl modelship retry {s['name']})"
    grid.add_row("Revisions:", revisions)
    if window := s.get("window"):
        grid.add_row(
            "Rollback window:",
            f"open until {window.get('until')}: revision {window.get('previous')} keeps "
            f"{window.get('previousReplicas')} pods to return to",
        )
    if s["inferenceURL"]:
        grid.add_row("URL:", Text(s["inferenceURL"]))
    return grid


def _steps(s: Obj, now: datetime) -> Table:
    table = text.table("", "#", "STEP", title="Steps")
    table.show_header = False
    for row in s["steps"]:
        current = row["state"] == "current"
        detail = Text(row["step"], style="bold" if current else "")
        if ends := text.parse_time(row.get("pauseEndsAt")):
            left = (ends - now).total_seconds()
            ending = f"  (ends in {text.duration(left)})" if left > 0 else "  (ending)"
            detail.append(ending, style="dim")
        elif current and row["step"] == "pause (until promoted)":
            detail.append(f"  (kubectl modelship promote {s['name']})", style="dim")
        table.add_row(_MARKERS[row["state"]], str(row["number"]), detail)
    return table


def _revisions_table(s: Obj, now: datetime) -> Table:
    table = text.table(
        "REVISION / POD",
        "ROLE",
        "VERSION",
        "STATUS",
        "READY",
        "RESTARTS",
        "AGE",
        title="Revisions",
    )
    scaled_down = 0
    for rev in s["revisions"]:
        if rev["role"] == "old" and rev["replicas"] == 0 and not rev["pods"]:
            scaled_down += 1
            continue
        ready = f"{rev['readyReplicas']}/{rev['replicas']}"
        style = "green" if rev["readyReplicas"] >= rev["replicas"] else "yellow"
        table.add_row(
            Text(rev["revision"], style="bold"),
            rev["role"],
            Text(rev["modelVersion"]),
            "",
            Text(ready, style=style),
            "",
            text.age(rev["createdAt"], now),
        )
        for i, pod in enumerate(rev["pods"]):
            branch = "└─" if i == len(rev["pods"]) - 1 else "├─"
            ready_mark = Text("✔", style="green") if pod["ready"] else Text("✖", style="red")
            table.add_row(
                Text(f" {branch} {pod['name']}"),
                "",
                "",
                text.pod_phase(pod["status"]),
                ready_mark,
                str(pod["restarts"]),
                text.age(pod["createdAt"], now),
            )
    if scaled_down:
        table.caption = f"{scaled_down} older revision(s) scaled to zero, kept for undo"
        table.caption_justify = "left"
        table.caption_style = "dim"
    return table


def measurements_table(measurements: Sequence[Obj], now: datetime, title: str) -> Table:
    table = text.table(
        "METRIC", "RESULT", "CANARY", "STABLE", "SAMPLES", "MEASURED", "MESSAGE", title=title
    )
    for m in measurements:
        table.add_row(
            Text(m.get("metric", "")),
            text.phase(m.get("result")),
            text.number(m.get("value")),
            text.number(m.get("stableValue")),
            text.number(m.get("samples")),
            text.age(m.get("measuredAt"), now) + " ago",
            Text(m.get("message", "")),
        )
    return table


def _analysis_title(analysis: Obj | None) -> str:
    if not analysis:
        return "Analysis"
    counts = (
        f"{analysis.get('successful', 0)} successful, {analysis.get('failed', 0)} failed, "
        f"{analysis.get('inconclusive', 0)} inconclusive in a row"
    )
    gate = f"gate {analysis['gate']}: " if analysis.get("gate") else ""
    return f"Analysis ({gate}{counts})"


def _monitor(m: Obj, now: datetime) -> RenderableType:
    title = Text.assemble(("Drift ", "bold"), (m["name"], "bold"), "  ", text.phase(m["phase"]))
    drifted = m.get("drifted")
    if drifted:
        title.append(f"  Drifted={drifted}", style="red" if drifted == "True" else "")
    title.append(
        f"  samples {text.number(m.get('samples'))}"
        f"  evaluated {text.age(m.get('lastEvaluationTime'), now)} ago"
    )
    parts: list[RenderableType] = [title]
    if m.get("message"):
        parts.append(text.indent(Text(m["message"], style="dim")))
    dataset = m.get("datasetDrift")
    if dataset:
        verdict = "drifted" if dataset.get("drifted") else "not drifted"
        parts.append(
            text.indent(
                Text(
                    f"dataset: {dataset.get('driftedFeatures', 0)}/{dataset.get('features', 0)} "
                    f"features drifted ({dataset.get('share', 0):.0%}): {verdict}"
                )
            )
        )
    if m["features"]:
        table = text.table("FEATURE", "METHOD", "SCORE", "SEVERITY")
        for f in m["features"]:
            table.add_row(
                Text(f.get("name", "")),
                f.get("method", ""),
                text.number(f.get("score")),
                text.severity(f.get("severity")),
            )
        prediction = m.get("prediction")
        if prediction:
            table.add_row(
                Text("(prediction)", style="italic"),
                prediction.get("method", ""),
                text.number(prediction.get("score")),
                text.severity(prediction.get("severity")),
            )
        parts.append(text.indent(table))
        more = m["featureCount"] - len(m["features"])
        if more > 0:
            hint = f"... {more} more: kubectl modelship drift {m['name']}"
            parts.append(text.indent(Text(hint, style="dim")))
    return Group(*parts)


def _policy(p: Obj, now: datetime) -> RenderableType:
    title = Text.assemble(
        ("Retraining ", "bold"),
        (p["name"], "bold"),
        "  ",
        text.phase(p["phase"]),
        f"  promotion {p['promotion']}",
    )
    if p.get("breakerOpen"):
        title.append("  circuit breaker open", style="bold red")
    parts: list[RenderableType] = [title]
    if p.get("lastSuppressed"):
        parts.append(text.indent(Text("last suppressed: " + p["lastSuppressed"], style="dim")))
    if p["runs"]:
        newest = p["runs"][0]
        if newest.get("evidence"):  # what the trigger saw: features, scores, thresholds, window
            parts.append(text.indent(Text(f"why {newest.get('name')} ran: {newest['evidence']}")))
        parts.append(text.indent(render_runs(p["runs"], now)))
    else:
        hint = f"no runs yet (kubectl modelship retrain {p['name']})"
        parts.append(text.indent(Text(hint, style="dim")))
    return Group(*parts)


def render(summary: Obj, now: datetime) -> RenderableType:
    """The screen of `get` (and of each redraw of `get --watch`)."""
    parts: list[RenderableType] = [_header(summary)]
    if summary["steps"]:
        parts += [Text(""), _steps(summary, now)]
    if summary["revisions"]:
        parts += [Text(""), _revisions_table(summary, now)]
    analysis = summary["analysis"]
    if summary["measurements"]:
        title = _analysis_title(analysis)
        parts += [Text(""), measurements_table(summary["measurements"], now, title)]
    elif analysis and analysis.get("message"):
        parts += [
            Text(""),
            Text(_analysis_title(analysis), style="bold"),
            text.indent(Text(analysis["message"])),
        ]
    for monitor in summary["driftMonitors"]:
        parts += [Text(""), _monitor(monitor, now)]
    for policy in summary["retrainPolicies"]:
        parts += [Text(""), _policy(policy, now)]
    return Group(*parts)


# --- `get` without a name -------------------------------------------------------------------


def list_rows(
    mds: Sequence[Obj], monitors: Sequence[Obj], policies: Sequence[Obj]
) -> list[dict[str, Any]]:
    """One line per ModelDeployment, with its monitors' verdicts and its policies' last run."""

    def around(objs: Sequence[Obj], md: Obj) -> list[Obj]:
        meta = md.get("metadata") or {}
        return [
            o
            for o in objs
            if (o.get("metadata") or {}).get("namespace") == meta.get("namespace")
            and (o.get("spec") or {}).get("modelDeploymentRef") == meta.get("name")
        ]

    rows = []
    for md in mds:
        meta, status = md.get("metadata") or {}, md.get("status") or {}
        rollout = status.get("rollout") or {}
        in_progress = status.get("canaryRevision") is not None
        drift = [monitor_summary(m, 0) for m in around(monitors, md)]
        retrain = [policy_summary(p, 1) for p in around(policies, md)]
        rows.append(
            {
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "strategy": strategy_of(md.get("spec") or {})[0],
                "phase": status.get("phase", "Pending"),
                "step": rollout.get("step") if in_progress else None,
                "canaryWeight": status.get("canaryWeight") if in_progress else None,
                "version": rollout.get("stableVersion"),
                "desiredVersion": ((md.get("spec") or {}).get("model") or {}).get("version"),
                "drifted": [f"{m['name']}={m['drifted'] or '-'}" for m in drift],
                "lastRuns": [
                    f"{p['runs'][0]['name']} {p['runs'][0].get('outcome')}"
                    for p in retrain
                    if p["runs"]
                ],
                "createdAt": meta.get("creationTimestamp"),
            }
        )
    return rows


def render_list(rows: Sequence[Obj], now: datetime, namespaces: bool) -> RenderableType:
    if not rows:
        return Text("No ModelDeployments found.")
    columns = ["NAMESPACE"] if namespaces else []
    table = text.table(
        *columns,
        "NAME",
        "STRATEGY",
        "PHASE",
        "STEP",
        "WEIGHT",
        "VERSION",
        "DESIRED",
        "DRIFTED",
        "LAST RUN",
        "AGE",
    )
    for row in rows:
        first = [row["namespace"]] if namespaces else []
        weight = row["canaryWeight"]
        table.add_row(
            *first,
            row["name"],
            row["strategy"],
            text.phase(row["phase"]),
            row["step"] or "-",
            "-" if weight is None else f"{weight}%",
            row["version"] or "-",
            row["desiredVersion"] or "-",
            ", ".join(row["drifted"]) or "-",
            ", ".join(row["lastRuns"]) or "-",
            text.age(row["createdAt"], now),
        )
    return table
