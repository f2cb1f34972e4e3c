"""What each steering command writes, and what `status` and `retrain` make of what the
operator answers. Pure: objects in (as the API server returns them), annotation patches,
refusals and verdicts out.

Every control is an annotation documented by the operator (`modelship.rollout.controls`,
`modelship.retrain.runs`, `modelship.retrain.triggers`); the one-shot ones act once per new
value, so each command writes a fresh timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelship.kubectl.exitcodes import ExitCode
from modelship.kubectl.reports import history_rows
from modelship.retrain.runs import ANNOTATION_APPROVE, ANNOTATION_REJECT, ANNOTATION_RESET_BREAKER
from modelship.retrain.triggers import ANNOTATION_RETRAIN
from modelship.rollout.controls import (
    ABORT,
    PAUSED,
    PROMOTE,
    PROMOTE_FULL,
    RETRY,
    ROLLBACK_TO,
    TRUE,
)

Obj = Mapping[str, Any]
FAILED_PHASES = ("RolledBack", "Degraded", "Failed")


@dataclass(frozen=True)
class Patch:
    """Annotations to set (None: remove) on one object, and what to tell the user."""

    plural: str
    name: str
    annotations: Mapping[str, str | None]
    said: str


@dataclass(frozen=True)
class Refusal:
    """Nothing is written: why, and the exit code."""

    code: ExitCode
    message: str


def stamp(now: datetime) -> str:
    """A fresh control value: the time, to the microsecond (each value acts once)."""
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def is_paused(md: Obj) -> bool:
    annotations = (md.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(PAUSED, "")).strip().lower() in TRUE


def _md_patch(md: Obj, annotations: Mapping[str, str | None], said: str) -> Patch:
    return Patch(
        "modeldeployments", _name(md), annotations, f"modeldeployment '{_name(md)}' {said}"
    )


def _no_rollout(md: Obj, verb: str) -> Refusal:
    status = _status(md)
    return Refusal(
        ExitCode.NOT_APPLICABLE,
        f"nothing to {verb}: modeldeployment '{_name(md)}' is {status.get('phase', 'Pending')} "
        "with no rollout in progress",
    )


def promote(md: Obj, full: bool, now: datetime) -> Patch | Refusal:
    """Finish the current pause or analysis step (`full`: skip every remaining step). Like
    Argo Rollouts' promote it also lifts a `paused` annotation, or the promotion would wait."""
    status = _status(md)
    if status.get("canaryRevision") is None:
        return _no_rollout(md, "promote")
    annotations: dict[str, str | None] = {PROMOTE_FULL if full else PROMOTE: stamp(now)}
    step = (status.get("rollout") or {}).get("step")
    said = (
        "promoted: skipping every remaining step"
        if full
        else (f"promoted: step {step} ends" if step else "promoted")
    )
    if is_paused(md):
        annotations[PAUSED] = None
        said += f" (and resumed: {PAUSED} removed)"
    return _md_patch(md, annotations, said)


def pause(md: Obj) -> Patch:
    if is_paused(md):
        return _md_patch(md, {}, "is already paused")
    return _md_patch(md, {PAUSED: "true"}, "paused")


def resume(md: Obj) -> Patch:
    status = _status(md)
    waiting = ""
    if status.get("phase") == "Paused" and status.get("canaryRevision") is not None:
        step = (status.get("rollout") or {}).get("step")
        waiting = (
            (
                f"; a pause step (step {step}) still waits for "
                f"`kubectl modelship promote {_name(md)}`"
            )
            if step
            else ""
        )
    if not is_paused(md):
        return _md_patch(md, {}, "was not paused" + waiting)
    return _md_patch(md, {PAUSED: None}, "resumed" + waiting)


def abort(md: Obj, now: datetime) -> Patch | Refusal:
    if _status(md).get("canaryRevision") is None:
        return _no_rollout(md, "abort")
    return _md_patch(md, {ABORT: stamp(now)}, "aborted: all traffic returns to stable")


def retry(md: Obj, now: datetime) -> Patch | Refusal:
    held = (_status(md).get("rollout") or {}).get("heldRevision")
    if not held:
        return Refusal(
            ExitCode.NOT_APPLICABLE,
            f"nothing to retry: modeldeployment '{_name(md)}' holds no aborted or rolled-back "
            "revision",
        )
    return _md_patch(md, {RETRY: stamp(now)}, f"retried: revision {held} rolls out again")


def undo_target(md: Obj, kept: Sequence[str], to: str | None) -> str | Refusal:
    """The revision `undo` returns to: `to` is a number from `history`, a revision or a unique
    prefix of one; without it, the revision that served before the serving one."""
    rows = history_rows(md, kept)
    stable = _status(md).get("stableRevision")
    if to is None and stable and _status(md).get("canaryRevision") is not None:
        revision = str(stable)  # a rollout is in progress: back to what serves
    elif to is None:
        earlier = [r for r in rows if r["outcome"] == "Promoted" and r["revision"] != stable]
        if not earlier:
            return Refusal(
                ExitCode.NOT_APPLICABLE,
                f"nothing to undo: modeldeployment "
                f"'{_name(md)}' has no earlier promoted revision in its history",
            )
        revision = str(earlier[-1]["revision"])
    else:
        revisions = {str(r["revision"]) for r in rows} | set(kept)
        matches = sorted(r for r in revisions if r.startswith(to))
        if to in revisions:
            revision = to
        elif to.isdigit() and 1 <= int(to) <= len(rows):
            revision = str(rows[int(to) - 1]["revision"])
        elif len(matches) == 1 and len(to) >= 4:
            revision = matches[0]
        elif len(matches) > 1:
            return Refusal(
                ExitCode.NOT_APPLICABLE, f"revision {to!r} is ambiguous: {', '.join(matches)}"
            )
        else:
            known = f"1-{len(rows)} or a revision" if rows else "a revision"
            return Refusal(
                ExitCode.NOT_FOUND,
                f"no revision {to!r} in the history of "
                f"modeldeployment '{_name(md)}' (use {known}: kubectl modelship "
                f"history {_name(md)})",
            )
    if revision == stable and _status(md).get("canaryRevision") is None:
        return Refusal(ExitCode.NOT_APPLICABLE, f"revision {revision} already serves")
    if revision not in kept:
        return Refusal(
            ExitCode.NOT_APPLICABLE,
            f"revision {revision} has no Deployment left "
            "to return to (beyond rollback.revisionHistoryLimit)",
        )
    return revision


def undo(md: Obj, kept: Sequence[str], to: str | None, now: datetime) -> Patch | Refusal:
    target = undo_target(md, kept, to)
    if isinstance(target, Refusal):
        return target
    # rollback-to acts once per value: the revision, then anything new (REVISION[:anything]).
    return _md_patch(
        md, {ROLLBACK_TO: f"{target}:{stamp(now)}"}, f"rolling back to revision {target}"
    )


# --- RetrainPolicy --------------------------------------------------------------------------


def resolve(name: str, objects: Sequence[Obj], kind: str, kinds: str) -> Obj | Refusal:
    """The `kind` object called `name`, or the one of them that refers to ModelDeployment
    `name` (`kubectl modelship retrain fraud` for the policy of fraud)."""
    for obj in objects:
        if _name(obj) == name:
            return obj
    owned = [o for o in objects if (o.get("spec") or {}).get("modelDeploymentRef") == name]
    if len(owned) == 1:
        return owned[0]
    if owned:
        names = ", ".join(sorted(_name(o) for o in owned))
        return Refusal(
            ExitCode.NOT_APPLICABLE,
            f"modeldeployment '{name}' has several {kinds} ({names}): name one",
        )
    return Refusal(
        ExitCode.NOT_FOUND, f"no {kind} '{name}', and none refers to a ModelDeployment '{name}'"
    )


def retrain(policy: Obj, now: datetime) -> tuple[Patch, str]:
    """Ask for one run; also the value to recognise the operator's answer by."""
    value = stamp(now)
    return Patch(
        "retrainpolicies",
        _name(policy),
        {ANNOTATION_RETRAIN: value},
        f"retrainpolicy '{_name(policy)}': run requested",
    ), value


def retrain_answer(policy: Obj, value: str) -> tuple[ExitCode, str] | None:
    """What the operator made of retrain request `value`: None while it has not acted."""
    status = _status(policy)
    if (status.get("handled") or {}).get("retrain") != value:
        return None
    for run in status.get("runs") or []:
        if str(run.get("reason", "")).endswith(f"={value}"):
            return ExitCode.OK, (
                f"run {run.get('name')} started: version "
                f"{run.get('baseVersion')} -> {run.get('newVersion')}, "
                f"Job {run.get('jobName') or run.get('name')}"
            )
    why = status.get("lastSuppressed") or "the operator started no run"
    return ExitCode.NOT_APPLICABLE, f"no run started: {why}"


def reset_breaker(policy: Obj, now: datetime) -> Patch:
    if not _status(policy).get("breakerOpen"):
        return Patch(
            "retrainpolicies",
            _name(policy),
            {},
            f"retrainpolicy '{_name(policy)}': the circuit breaker is not open",
        )
    return Patch(
        "retrainpolicies",
        _name(policy),
        {ANNOTATION_RESET_BREAKER: stamp(now)},
        f"retrainpolicy '{_name(policy)}': circuit breaker closed; triggers act again",
    )


@dataclass(frozen=True)
class FoundRun:
    policy: Obj
    run: Obj


def find_run(run: str, policies: Sequence[Obj]) -> FoundRun | Refusal:
    for policy in policies:
        for entry in _status(policy).get("runs") or []:
            if entry.get("name") == run:
                return FoundRun(policy, entry)
    return Refusal(ExitCode.NOT_FOUND, f"no RetrainPolicy here has a run '{run}'")


def decide(found: FoundRun, approve: bool) -> Patch | Refusal:
    """Approve (promote) or reject a run that waits for approval (promotion manual)."""
    run, policy = found.run, _name(found.policy)
    name = str(run.get("name", ""))
    if run.get("outcome") != "AwaitingApproval":
        return Refusal(
            ExitCode.NOT_APPLICABLE,
            f"run {name} of retrainpolicy '{policy}' is "
            f"{run.get('outcome')}, not AwaitingApproval: nothing to "
            f"{'approve' if approve else 'reject'}",
        )
    key = ANNOTATION_APPROVE if approve else ANNOTATION_REJECT
    said = (
        f"run {name} approved: version {run.get('newVersion')} is written to its ModelDeployment"
        if approve
        else f"run {name} rejected: never deployed"
    )
    return Patch("retrainpolicies", policy, {key: name}, said)


def decision_answer(policy: Obj, run: str) -> tuple[ExitCode, str] | None:
    """The run's outcome once the operator acted on an approval or rejection."""
    for entry in _status(policy).get("runs") or []:
        if entry.get("name") == run and entry.get("outcome") != "AwaitingApproval":
            return ExitCode.OK, f"run {run} is {entry.get('outcome')}: {entry.get('message', '')}"
    return None


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Where a rollout stands for `status`: finished (with the exit code) or not yet."""

    finished: bool
    code: ExitCode
    line: str


# The one-shot controls and where status remembers the value the operator acted on.
_HANDLED = (
    (PROMOTE, "promote"),
    (PROMOTE_FULL, "promoteFull"),
    (ABORT, "abort"),
    (RETRY, "retry"),
    (ROLLBACK_TO, "rollbackTo"),
)


def unhandled_controls(md: Obj) -> list[str]:
    """Control annotations the operator has not acted on yet (a promote held by a pause
    counts as seen): until it has, the phase in status is from before them."""
    annotations = (md.get("metadata") or {}).get("annotations") or {}
    handled = (_status(md).get("rollout") or {}).get("handled") or {}
    seen = (handled.get("deferredPromote"),)
    return [
        key
        for key, field in _HANDLED
        if annotations.get(key) and annotations[key] not in (handled.get(field), *seen)
    ]


def rollout_verdict(md: Obj) -> Verdict:
    meta, status = md.get("metadata") or {}, _status(md)
    phase = status.get("phase", "Pending")
    message = status.get("message", "")
    line = f"{phase}: {message}" if message else phase
    generation = meta.get("generation")
    if status.get("observedGeneration") != generation:
        return Verdict(
            False, ExitCode.TIMEOUT, f"waiting for the operator to observe generation {generation}"
        )
    if pending := unhandled_controls(md):
        waiting = f"waiting for the operator to act on {', '.join(pending)}"
        return Verdict(False, ExitCode.TIMEOUT, waiting)
    if phase == "Healthy" and status.get("canaryRevision") is None:
        return Verdict(True, ExitCode.OK, line)
    if phase in FAILED_PHASES:
        return Verdict(True, ExitCode.NOT_HEALTHY, line)
    return Verdict(False, ExitCode.TIMEOUT, line)
