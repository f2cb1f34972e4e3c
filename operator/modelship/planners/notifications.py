"""Notifications, planned: which Event is worth a notification, who receives it, what the
body says, and when to try again. Pure; `adapters/notifications.py` delivers.

A notification is one of the Events the operator records (`Transition`), named by a stable
event (`rollout.promoted`): receivers filter on those names, and the body carries the Event's
reason and message (the explanation) unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from modelship.api.notifications import NotificationEvent as E
from modelship.api.notifications import ReceiverType
from modelship.planners.status import Transition

# (kind, Event reason) -> the notification. Drift is decided by `_drift_event`: its Events
# say what the verdict is, the previous status says whether that is news.
BY_REASON: Mapping[tuple[str, str], E] = {
    ("ModelDeployment", "RolloutStarted"): E.ROLLOUT_STARTED,
    ("ModelDeployment", "Paused"): E.ROLLOUT_PAUSED,
    ("ModelDeployment", "Promoted"): E.ROLLOUT_PROMOTED,
    ("ModelDeployment", "RolledBack"): E.ROLLOUT_ROLLED_BACK,
    ("ModelDeployment", "RolledBackAfterPromotion"): E.ROLLOUT_ROLLED_BACK,
    ("ModelDeployment", "Aborted"): E.ROLLOUT_ABORTED,
    ("RetrainPolicy", "RunStarted"): E.RETRAIN_STARTED,
    ("RetrainPolicy", "RunRejected"): E.RETRAIN_REJECTED,
    ("RetrainPolicy", "RunFailed"): E.RETRAIN_FAILED,
    ("RetrainPolicy", "RunAwaitingApproval"): E.RETRAIN_AWAITING_APPROVAL,
    ("RetrainPolicy", "RunPromoted"): E.RETRAIN_PROMOTED,
    ("RetrainPolicy", "RunRolledBack"): E.RETRAIN_ROLLED_BACK,
}
DRIFT_REASONS = frozenset({"DatasetDrift", "PredictionDrift"})
"""The reasons of a DriftMonitor's Event when it finds drift (drift/evaluate.py)."""
NO_DRIFT_REASON = "NoDrift"


def drifted_before(status: Mapping[str, Any] | None) -> bool:
    """Whether a DriftMonitor's last verdict was drift: its Drifted condition, or while that is
    Unknown (no verdict: too few samples, Prometheus down) the last measurements, which an
    evaluation that measures nothing leaves in place."""
    status = status or {}
    drifted = next(
        (c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Drifted"),
        None,
    )
    if drifted in ("True", "False"):
        return bool(drifted == "True")
    dataset = status.get("datasetDrift") or {}
    prediction = status.get("prediction") or {}
    return bool(dataset.get("drifted")) or bool(prediction.get("severity") == "critical")


def notification_event(
    kind: str, event: Transition, previous_status: Mapping[str, Any] | None
) -> E | None:
    """The notification an Event of `kind` makes, if any. `previous_status` is the object's
    status before the pass that recorded the Event: drift is raised when it was not drifted,
    cleared when it was."""
    if kind == "DriftMonitor":
        was = drifted_before(previous_status)
        if event.reason in DRIFT_REASONS and not was:
            return E.DRIFT_RAISED
        if event.reason == NO_DRIFT_REASON and was:
            return E.DRIFT_CLEARED
        return None
    return BY_REASON.get((kind, event.reason))


@dataclass(frozen=True)
class Notice:
    """What one notification says, whoever receives it."""

    event: E
    kind: str
    namespace: str
    name: str
    reason: str
    message: str
    severity: Literal["Normal", "Warning"]
    time: datetime
    revision: str | None = None
    version: str | None = None


def notice(
    kind: str,
    obj: Mapping[str, Any],
    event: Transition,
    previous_status: Mapping[str, Any] | None,
    now: datetime,
) -> Notice | None:
    """The notice of an Event on `obj`, or None when the Event is not one receivers hear."""
    name = notification_event(kind, event, previous_status)
    if name is None:
        return None
    meta = obj.get("metadata") or {}
    return Notice(
        event=name,
        kind=kind,
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        reason=event.reason,
        message=event.message,
        severity=event.type,
        time=now,
        revision=event.revision,
        version=event.version,
    )


def wanted(events: Sequence[E] | None, event: E) -> bool:
    """Whether a receiver's `events` filter lets the event through (none: everything)."""
    return events is None or event in events


def webhook_body(n: Notice) -> dict[str, Any]:
    """The generic webhook's JSON body: every field, always present (null when unknown)."""
    return {
        "event": n.event.value,
        "kind": n.kind,
        "namespace": n.namespace,
        "name": n.name,
        "reason": n.reason,
        "message": n.message,
        "severity": n.severity,
        "revision": n.revision,
        "version": n.version,
        "time": n.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


EMOJI: Mapping[E, str] = {
    E.ROLLOUT_STARTED: ":rocket:",
    E.ROLLOUT_PAUSED: ":double_vertical_bar:",
    E.ROLLOUT_PROMOTED: ":white_check_mark:",
    E.ROLLOUT_ROLLED_BACK: ":rewind:",
    E.ROLLOUT_ABORTED: ":no_entry:",
    E.DRIFT_RAISED: ":warning:",
    E.DRIFT_CLEARED: ":large_green_circle:",
    E.RETRAIN_STARTED: ":hammer_and_wrench:",
    E.RETRAIN_REJECTED: ":x:",
    E.RETRAIN_FAILED: ":x:",
    E.RETRAIN_AWAITING_APPROVAL: ":raised_hand:",
    E.RETRAIN_PROMOTED: ":white_check_mark:",
    E.RETRAIN_ROLLED_BACK: ":rewind:",
}


def _escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(n: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook body: `text` (notifications, clients without blocks) and
    `blocks` (a headline, the explanation, the identifiers)."""
    headline = (
        f"{EMOJI[n.event]} *{n.kind} {_escape(n.namespace)}/{_escape(n.name)}*: "
        f"{n.event.value} ({_escape(n.reason)})"
    )
    details = [f"revision `{n.revision}`" if n.revision else "", f"version `{n.version}`"
               if n.version else "", n.time.strftime("%Y-%m-%d %H:%M:%S UTC")]  # fmt: skip
    # Slack refuses a section text over 3000 characters.
    message = _escape(n.message)[:2900]
    return {
        "text": f"{headline}\n{message}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message or "-"}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": " · ".join(d for d in details if d)},
                ],
            },
        ],
    }


def body_for(receiver: ReceiverType, n: Notice) -> dict[str, Any]:
    return slack_body(n) if receiver is ReceiverType.SLACK else webhook_body(n)


# --- delivery: retry or not, and when -------------------------------------------------------

Attempt = Literal["sent", "retry", "failed"]


def classify(status: int | None) -> Attempt:
    """What an answer means: 2xx sent; no answer (None: refused, timed out), 408, 425, 429
    and 5xx are worth retrying; any other status will not change by itself."""
    if status is None or status in (408, 425, 429) or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "sent"
    return "failed"


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """The delay after failed attempt number `attempt` (1 for the first): base, 2 x base,
    4 x base, ... never more than cap."""
    return float(min(cap, base * 2 ** max(attempt - 1, 0)))


@dataclass(frozen=True)
class NextStep:
    outcome: Literal["sent", "retry", "failed"]
    delay: float = 0.0
    """Seconds until the next attempt, for `retry`."""


def next_step(
    attempt: int, status: int | None, max_attempts: int, base: float, cap: float
) -> NextStep:
    """After attempt number `attempt` answered `status`: done, again after a delay, or give up
    (a permanent refusal, or `max_attempts` used)."""
    verdict = classify(status)
    if verdict == "retry" and attempt < max_attempts:
        return NextStep("retry", backoff_seconds(attempt, base, cap))
    return NextStep("sent" if verdict == "sent" else "failed")


def describe_status(status: int | None, error: str | None) -> str:
    """A failure in words, for logs and the Warning Event: never the URL (a credential)."""
    return f"HTTP {status}" if status is not None else (error or "no answer")


def url_problem(url: str) -> str | None:
    """Why a receiver URL cannot be used, without quoting it; None when it can."""
    text = url.strip()
    if not text:
        return "the URL is empty"
    if any(c.isspace() or not c.isprintable() for c in text):
        return "the URL holds a space or a control character"
    try:
        parts = urlsplit(text)
    except ValueError:
        return "the URL does not parse"
    if parts.scheme not in ("http", "https"):
        return "the URL is not an http:// or https:// URL"
    if not parts.hostname:
        return "the URL names no host"
    return None


def receiver_label(namespace: str | None, name: str) -> str:
    """The metric's `receiver` label: an operator-wide receiver by its name, a resource's by
    namespace/name."""
    return f"{namespace}/{name}" if namespace else name
