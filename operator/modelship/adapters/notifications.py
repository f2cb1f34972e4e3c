"""Delivering notifications to webhooks, off the reconcile path.

`Notifier.notify` hears every Event the operator records (`KubernetesAdapter.on_event`), asks
the pure `planners.notifications` whether it is news and for whom, and queues one delivery per
receiver: a dict append under a lock, nothing more, so a dead or slow receiver never slows a
reconcile. Sender threads deliver: the URL read at send time (a Secret, or the file of an
operator-wide receiver), one POST with a timeout, retries with capped exponential backoff. One
receiver's notifications go out in order, one at a time; receivers do not wait for each
other. The queue is bounded: when full, the oldest waiting notification is dropped (counted,
logged). URLs are credentials: never logged, never in an Event.
"""

from __future__ import annotations

import bisect
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import yaml
from pydantic import TypeAdapter, ValidationError

from modelship import __version__, metrics
from modelship.api.notifications import (
    Notification,
    NotificationEvent,
    NotificationsConfig,
    OperatorReceiver,
    ReceiverType,
)
from modelship.planners.notifications import (
    Notice,
    body_for,
    describe_status,
    next_step,
    notice,
    receiver_label,
    url_problem,
    wanted,
)
from modelship.planners.status import Transition

log = structlog.get_logger("modelship.notifications")

SecretValue = Callable[[str, str, str], str]
"""(namespace, Secret, key) -> the value; raises when it cannot be read."""
Report = Callable[[Mapping[str, Any], Transition], None]
"""Records a Kubernetes Event on an object (a receiver that cannot be used)."""
Send = Callable[[str, bytes, float], tuple[int | None, str | None]]
"""(url, body, timeout) -> (HTTP status or None, the error when there was no answer)."""

FAILED_REASON = "NotificationFailed"
Target = tuple["Receiver", "Sequence[NotificationEvent] | None", "Mapping[str, Any] | None"]
"""A receiver, the events it wants (None: all), the object to report its failures on."""
_LIST = TypeAdapter(list[Notification])


class NotificationsConfigError(ValueError):
    """The operator-wide notifications file is missing or invalid."""


def load_config(path: str | None) -> NotificationsConfig:
    """The file `--notifications-config` names (YAML or JSON); no file: no operator-wide
    receivers and the default delivery settings."""
    if not path:
        return NotificationsConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return NotificationsConfig.model_validate(raw)
    except OSError as err:
        raise NotificationsConfigError(f"notifications config {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise NotificationsConfigError(f"notifications config {path}: not YAML: {err}") from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise NotificationsConfigError(
            f"notifications config {path}: {where}: {first.get('msg')}"
        ) from err


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new address to post the body to."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
    """POST `body` as JSON; (status, None) when the receiver answered, (None, why) when not.
    The error never quotes the URL."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"modelship/{__version__}"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            return int(answer.status), None
    except urllib.error.HTTPError as err:
        return int(err.code), None
    except urllib.error.URLError as err:  # an OS error's text names no URL; anything else might
        reason = err.reason if isinstance(err.reason, OSError) else type(err.reason).__name__
        return None, f"no answer: {reason}"
    except OSError as err:  # timeouts, resets
        return None, f"no answer: {type(err).__name__}: {err}"
    except Exception as err:  # noqa: BLE001 - a malformed URL or answer; its text may quote the URL
        return None, f"no answer: {type(err).__name__}"


@dataclass(frozen=True)
class Receiver:
    """Where one delivery goes; the URL is read when it is sent."""

    label: str
    """The metric's `receiver` label and the name in logs."""
    type: ReceiverType
    url_file: str | None = None
    secret: tuple[str, str, str] | None = None
    """(namespace, Secret, key) of a resource's receiver."""


@dataclass
class Delivery:
    seq: int
    receiver: Receiver
    body: bytes
    event: str
    subject: Mapping[str, Any] | None
    """The object a per-resource receiver belongs to: failures are reported on it."""
    attempt: int = 0
    due: float = 0.0


@dataclass
class _Queue:
    pending: list[Delivery] = field(default_factory=list)
    """In sequence order: each receiver's first one goes next."""
    busy: set[str] = field(default_factory=set)
    """Receivers with a delivery in flight."""


class Notifier:
    def __init__(
        self,
        config: NotificationsConfig,
        secret_value: SecretValue,
        report: Report,
        send: Send = post_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.secret_value = secret_value
        self.report = report
        self.send = send
        self.clock = clock
        self._queue = _Queue()
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._reported: dict[tuple[str, str], str] = {}
        """(object uid or path, receiver) -> the failure last reported in an Event."""

    # --- on the reconcile path: plan and queue, nothing that waits ---------------------
    def notify(self, obj: Mapping[str, Any], event: Transition) -> None:
        """Queue the notifications an Event makes. Never raises, never blocks on a receiver."""
        try:
            n = notice(str(obj.get("kind")), obj, event, obj.get("status"), datetime.now(UTC))
            if n is None:
                return
            for receiver, events, subject in self._receivers(obj, n):
                if wanted(events, n.event):
                    body = json.dumps(body_for(receiver.type, n)).encode()
                    self._submit(receiver, body, n.event.value, subject)
        except Exception:  # a notification must never break a reconcile
            log.exception("notification not queued", reason=event.reason)

    def _receivers(self, obj: Mapping[str, Any], n: Notice) -> list[Target]:
        """Every receiver of the object's events: operator-wide, then its own."""
        found: list[Target] = []
        for r in self.config.receivers:
            if r.namespaces is None or n.namespace in r.namespaces:
                found.append((_operator_receiver(r), r.events, None))
        raw = (obj.get("spec") or {}).get("notifications")
        if raw:
            try:
                own = _LIST.validate_python(raw)
            except ValidationError:
                own = []  # the object is Stalled on its invalid spec already
            subject = _identity(obj)
            for spec in own:
                ref = spec.url_from.secret_key_ref
                receiver = Receiver(
                    receiver_label(n.namespace, spec.name),
                    spec.type,
                    secret=(n.namespace, ref.name, ref.key),
                )
                found.append((receiver, spec.events, subject))
        return found

    def _submit(
        self, receiver: Receiver, body: bytes, event: str, subject: Mapping[str, Any] | None
    ) -> None:
        d = Delivery(next(self._seq), receiver, body, event, subject, due=self.clock())
        with self._cond:
            if self._closed:
                return
            q = self._queue
            if len(q.pending) >= self.config.queue_size:
                dropped = q.pending.pop(0)
                metrics.NOTIFICATIONS.labels(dropped.receiver.label, "dropped").inc()
                log.warning(
                    "notification dropped: queue full",
                    receiver=dropped.receiver.label,
                    notification=dropped.event,
                    queue_size=self.config.queue_size,
                )
            q.pending.append(d)
            self._start()
            self._cond.notify()

    def _start(self) -> None:
        """Start the sender threads on the first notification (most operators send none)."""
        if self._threads:
            return
        for i in range(self.config.senders):
            t = threading.Thread(target=self._run, name=f"notify-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    # --- sender threads ----------------------------------------------------------------
    def _take(self) -> Delivery | None:
        """The next delivery due (each receiver's earliest, if none of its is in flight),
        waiting for one; None once closed."""
        with self._cond:
            while not self._closed:
                q = self._queue
                now = self.clock()
                seen: set[str] = set()
                wake: float | None = None
                for i, d in enumerate(q.pending):
                    label = d.receiver.label
                    if label in seen or label in q.busy:
                        seen.add(label)
                        continue
                    seen.add(label)
                    if d.due <= now:
                        q.busy.add(label)
                        return q.pending.pop(i)
                    wake = d.due if wake is None else min(wake, d.due)
                self._cond.wait(None if wake is None else max(wake - now, 0.01))
            return None

    def _run(self) -> None:
        while (d := self._take()) is not None:
            try:
                self._deliver(d)
            except Exception as err:  # noqa: BLE001 - a bug must not kill the sender; no
                # traceback: its frames hold the URL, a credential
                log.error("notification delivery failed", receiver=d.receiver.label,
                          error=type(err).__name__)  # fmt: skip
                self._done(d, None)

    def _done(self, d: Delivery, retry_at: float | None) -> None:
        """The receiver is free again; a retry goes back in its place in the order."""
        with self._cond:
            q = self._queue
            q.busy.discard(d.receiver.label)
            if retry_at is not None and not self._closed:
                d.due = retry_at
                bisect.insort(q.pending, d, key=lambda x: x.seq)
            self._cond.notify_all()

    def _deliver(self, d: Delivery) -> None:
        label = d.receiver.label
        url, problem = self._url(d.receiver)
        if problem is not None or url is None:
            metrics.NOTIFICATIONS.labels(label, "invalid").inc()
            log.warning(
                "notification not sent", receiver=label, notification=d.event, error=problem
            )
            self._report_failure(d, f"receiver {label}: {problem}")
            self._done(d, None)
            return
        cfg = self.config
        d.attempt += 1
        status, error = self.send(url, d.body, cfg.timeout_seconds)
        step = next_step(
            d.attempt, status, cfg.max_attempts, cfg.backoff_seconds, cfg.max_backoff_seconds
        )
        what = describe_status(status, error)
        if step.outcome == "sent":
            metrics.NOTIFICATIONS.labels(label, "sent").inc()
            self._clear_failure(d)
            self._done(d, None)
        elif step.outcome == "retry":
            metrics.NOTIFICATIONS.labels(label, "retried").inc()
            log.info("notification retry", receiver=label, notification=d.event, attempt=d.attempt,
                     answer=what, retry_in=step.delay)  # fmt: skip
            self._done(d, self.clock() + step.delay)
        else:
            metrics.NOTIFICATIONS.labels(label, "failed").inc()
            log.warning("notification failed", receiver=label, notification=d.event,
                        attempts=d.attempt, answer=what)  # fmt: skip
            self._report_failure(
                d, f"receiver {label}: {d.event} not delivered after {d.attempt} "
                f"attempt{'s' if d.attempt > 1 else ''}: {what}",
            )  # fmt: skip
            self._done(d, None)

    def _url(self, r: Receiver) -> tuple[str | None, str | None]:
        """(the URL, None) or (None, why it cannot be had), never quoting the URL."""
        try:
            if r.url_file is not None:
                url = Path(r.url_file).read_text().strip()
            else:
                assert r.secret is not None
                namespace, secret, key = r.secret
                url = self.secret_value(namespace, secret, key).strip()
        except OSError as err:
            return None, f"url file {r.url_file}: {err.strerror}"
        except Exception as err:  # noqa: BLE001 - the Secret: missing, no such key, unreadable
            return None, str(err)
        problem = url_problem(url)
        if problem is not None:
            return None, f"{_source(r)}: {problem}"
        return url, None

    def _report_failure(self, d: Delivery, message: str) -> None:
        """A Warning Event on the resource whose receiver failed, once per distinct failure
        (a person fixes it; repeating it on every event would be noise)."""
        if d.subject is None:
            return
        key = (_key(d.subject), d.receiver.label)
        with self._cond:
            if self._reported.get(key) == message:
                return
            if len(self._reported) > 10_000:
                self._reported.clear()
            self._reported[key] = message
        try:
            self.report(d.subject, Transition("Warning", FAILED_REASON, message))
        except Exception as err:  # noqa: BLE001 - the API server down: logged, not fatal
            log.warning("notification failure not recorded", receiver=d.receiver.label,
                        error=type(err).__name__)  # fmt: skip

    def _clear_failure(self, d: Delivery) -> None:
        if d.subject is not None:
            with self._cond:
                self._reported.pop((_key(d.subject), d.receiver.label), None)

    # --- tests and shutdown ------------------------------------------------------------
    def waiting(self) -> int:
        """Deliveries queued or in flight."""
        with self._cond:
            return len(self._queue.pending) + len(self._queue.busy)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)


def _operator_receiver(r: OperatorReceiver) -> Receiver:
    return Receiver(receiver_label(None, r.name), r.type, url_file=r.url_file)


def _source(r: Receiver) -> str:
    """Where a receiver's URL comes from, in words (never the URL)."""
    if r.secret is not None:
        return f"Secret {r.secret[1]} key {r.secret[2]}"
    return f"url file {r.url_file}"


def _identity(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Enough of an object to record an Event on it (not its whole body, kept in the queue)."""
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid")},
    }


def _key(subject: Mapping[str, Any]) -> str:
    meta = subject["metadata"]
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
