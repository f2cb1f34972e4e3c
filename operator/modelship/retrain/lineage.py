"""The lineage of a ModelDeployment's models: for the version in rollout, the one serving and
those before it, the chain run -> trigger (and the drift it saw) -> data -> metrics ->
validation -> rollout, from the ModelDeployment's history and its RetrainPolicies' runs. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ROLLING_OUT = "RollingOut"
"""The rollout outcome of a version whose rollout has not ended."""


@dataclass(frozen=True)
class Lineage:
    """One model version of a ModelDeployment and where it came from."""

    version: str
    revision: str
    uri: str = ""
    serving: bool = False
    """The stable revision serves it now."""
    rollout: str = ""
    """How its rollout ended (Promoted, RolledBack, ...), or RollingOut."""
    rollout_reason: str = ""
    rollout_started_at: str = ""
    rollout_finished_at: str = ""
    run: str | None = None
    """<policy>/<run>, when a RetrainPolicy run produced it."""
    trigger: str = ""
    trigger_reason: str = ""
    evidence: str = ""
    trigger_scores: list[dict[str, Any]] = field(default_factory=list)
    """The drift scores the trigger fired on."""
    base_version: str = ""
    data: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    validation: str = ""
    run_outcome: str = ""
    note: str = ""
    """What is not known, and why."""

    def to_json(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items() if v not in ("", None, [], {})}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


Policies = Mapping[str, Mapping[str, Any] | None]
"""RetrainPolicy objects by name; None for one that does not exist."""


def policies_named(md: Mapping[str, Any]) -> list[str]:
    """The RetrainPolicies whose runs the ModelDeployment's history (and its model) name."""
    status = md.get("status") or {}
    runs = [h.get("run") for h in status.get("history") or []]
    runs.append((status.get("model") or {}).get("run"))
    return sorted({str(r).split("/", 1)[0] for r in runs if r and "/" in str(r)})


def policies_of(
    md: Mapping[str, Any], read: Callable[[str], Mapping[str, Any] | None]
) -> dict[str, Mapping[str, Any] | None]:
    """The RetrainPolicies a lineage needs, each read with `read` (None: it does not exist),
    whichever client reads them (`modelship lineage`, `kubectl modelship lineage`)."""
    return {name: read(name) for name in policies_named(md)}


def _run_record(run: str | None, policies: Policies) -> tuple[Mapping[str, Any] | None, str]:
    """The run's record in its policy's status, or why it cannot be shown."""
    if not run:
        return None, "from spec.model: no retraining run produced it"
    policy, _, name = run.partition("/")
    body = policies.get(policy)
    if body is None:
        return None, f"RetrainPolicy {policy} does not exist any more: its runs are gone"
    for record in (body.get("status") or {}).get("runs") or []:
        if record.get("name") == name:
            return record, ""
    return None, f"run {name} is no longer in RetrainPolicy {policy}'s status (historyLimit)"


def _entry(version: str, revision: str, uri: str, run: str | None, policies: Policies,
           **rollout: Any) -> Lineage:  # fmt: skip
    record, note = _run_record(run, policies)
    if record is None:
        return Lineage(version=version, revision=revision, uri=uri, run=run, note=note, **rollout)
    return Lineage(
        version=version, revision=revision, uri=uri, run=run,
        trigger=str(record.get("trigger") or ""), trigger_reason=str(record.get("reason") or ""),
        evidence=str(record.get("evidence") or ""),
        trigger_scores=list(record.get("triggerScores") or []),
        base_version=str(record.get("baseVersion") or ""), data=str(record.get("data") or ""),
        metrics=dict(record.get("metrics") or {}),
        baseline_metrics=dict(record.get("baselineMetrics") or {}),
        validation=str(record.get("validation") or ""),
        run_outcome=str(record.get("outcome") or ""), **rollout,
    )  # fmt: skip


def lineage(md: Mapping[str, Any], policies: Policies) -> list[Lineage]:
    """Newest first: the version in rollout (if any), then each history entry; the one the
    stable revision serves is marked. `policies` are RetrainPolicy objects by name, None for
    one that does not exist."""
    status = md.get("status") or {}
    stable = status.get("stableRevision")
    out: list[Lineage] = []
    canary = status.get("canaryRevision")
    model = status.get("model") or {}
    if canary and model.get("version"):
        out.append(_entry(str(model["version"]), str(canary), str(model.get("uri") or ""),
                          model.get("run"), policies, rollout=ROLLING_OUT))  # fmt: skip
    marked = False
    for entry in status.get("history") or []:
        serving = not marked and entry.get("revision") == stable
        marked = marked or serving
        out.append(_entry(
            str(entry.get("modelVersion") or ""), str(entry.get("revision") or ""),
            str(entry.get("modelURI") or ""), entry.get("run"), policies, serving=serving,
            rollout=str(entry.get("outcome") or ""), rollout_reason=str(entry.get("reason") or ""),
            rollout_started_at=str(entry.get("startedAt") or ""),
            rollout_finished_at=str(entry.get("finishedAt") or ""),
        ))  # fmt: skip
    return out


def _numbers(values: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in sorted(values.items()))


def _scores(scores: Sequence[Mapping[str, Any]]) -> str:
    return " ".join(f"{s.get('name')}:{s.get('method')}={s.get('score')}" for s in scores)


COLUMNS = ("VERSION", "SERVING", "ROLLOUT", "RUN", "TRIGGER", "DRIFT", "DATA", "METRICS",
           "BASELINE", "VALIDATION")  # fmt: skip


def table(entries: Sequence[Lineage], width: int = 48) -> str:
    """The chain as kubectl-style columns; a cell longer than `width` is cut."""
    rows = [COLUMNS]
    for e in entries:
        rows.append((
            e.version, "yes" if e.serving else "", e.rollout, e.run or "-",
            e.trigger or e.note, _scores(e.trigger_scores), e.data, _numbers(e.metrics),
            _numbers(e.baseline_metrics), e.validation,
        ))  # fmt: skip
    cut = [[c if len(c) <= width else c[: width - 1] + "…" for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cut) for i in range(len(COLUMNS))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cut
    )
