"""The notifier: queued off the caller's path, retried with backoff, dropped oldest-first when
full, failures reported once and never with the URL. Delivery is a fake `send` here; the
integration test posts to a real HTTP receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from modelship import metrics
from modelship.adapters.notifications import (
    NotificationsConfigError,
    Notifier,
    load_config,
    post_json,
)
from modelship.api.notifications import NotificationsConfig, OperatorReceiver
from modelship.planners.status import Transition

SECRET_URL = "https://hooks.example.com/services/T0/B0/secret-token"


def md(notifications: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": {"name": "m", "version": "1", "uri": "file:///m"}}
    if notifications is not None:
        spec["notifications"] = notifications
    return {
        "apiVersion": "modelship.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "fraud", "namespace": "ml", "uid": "uid-1"},
        "spec": spec,
        "status": {},
    }


def receiver(name: str = "team", **extra: Any) -> dict[str, Any]:
    return {"name": name, "urlFrom": {"secretKeyRef": {"name": "hook"}}, **extra}


PROMOTED = Transition("Normal", "Promoted", "revision r2 (model version 2) is stable", "r2", "2")
STARTED = Transition("Normal", "RolloutStarted", "canary of revision r2", "r2", "2")


class Recorder:
    """A fake receiver: records what it was sent; answers from a script."""

    def __init__(self, answers: Callable[[str, int], tuple[int | None, str | None]]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, bytes, float]] = []
        self.lock = threading.Lock()

    def __call__(self, url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
        with self.lock:
            self.sent.append((url, body, timeout))
            n = len(self.sent)
        return self.answers(url, n)


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def reports() -> list[tuple[Mapping[str, Any], Transition]]:
    return []


@pytest.fixture
def make(
    reports: list[tuple[Mapping[str, Any], Transition]],
) -> Iterator[Callable[..., Notifier]]:
    made: list[Notifier] = []

    def build(send: Recorder, secrets: dict[tuple[str, str, str], str] | None = None,
              **config: Any) -> Notifier:  # fmt: skip
        values = secrets if secrets is not None else {("ml", "hook", "url"): SECRET_URL}

        def secret_value(namespace: str, name: str, key: str) -> str:
            if (namespace, name, key) not in values:
                raise RuntimeError(f"Secret {name} does not exist")
            return values[(namespace, name, key)]

        cfg = NotificationsConfig.model_validate(
            {"backoffSeconds": 0.01, "maxBackoffSeconds": 0.05, **config}
        )
        n = Notifier(cfg, secret_value, lambda obj, ev: reports.append((obj, ev)), send)
        made.append(n)
        return n

    yield build
    for n in made:
        n.close()


def count(receiver: str, outcome: str) -> float:
    return metrics.NOTIFICATIONS.labels(receiver, outcome)._value.get()


def test_a_resources_receiver_gets_the_event_with_its_secret_url(make: Any) -> None:
    send = Recorder(lambda url, n: (200, None))
    notifier = make(send)
    before = count("ml/team", "sent")
    notifier.notify(md([receiver()]), PROMOTED)
    wait_for(lambda: count("ml/team", "sent") == before + 1)
    ((url, body, timeout),) = send.sent
    assert url == SECRET_URL
    assert timeout == 5.0
    assert b'"event": "rollout.promoted"' in body
    assert b'"revision": "r2"' in body


def test_events_nobody_hears_and_filtered_events_are_not_sent(make: Any) -> None:
    send = Recorder(lambda url, n: (200, None))
    notifier = make(send)
    obj = md([receiver(events=["rollout.promoted"])])
    notifier.notify(obj, STARTED)  # filtered out by `events`
    notifier.notify(obj, Transition("Normal", "StepCompleted", "step 1 done"))  # not an event
    notifier.notify(md(), PROMOTED)  # no receivers at all
    assert notifier.waiting() == 0
    assert send.sent == []


def test_notify_returns_at_once_while_the_receiver_hangs(make: Any) -> None:
    release = threading.Event()

    def hang(url: str, n: int) -> tuple[int | None, str | None]:
        release.wait(10)
        return 200, None

    notifier = make(Recorder(hang))
    started = time.perf_counter()
    for _ in range(200):
        notifier.notify(md([receiver()]), PROMOTED)
    took = time.perf_counter() - started
    release.set()
    assert took < 0.5, f"200 notify() calls took {took:.3f}s with a hanging receiver"


def test_retries_with_backoff_until_the_receiver_answers(make: Any) -> None:
    send = Recorder(lambda url, n: (503, None) if n < 3 else (200, None))
    notifier = make(send)
    retried, sent = count("ml/team", "retried"), count("ml/team", "sent")
    notifier.notify(md([receiver()]), PROMOTED)
    wait_for(lambda: count("ml/team", "sent") == sent + 1)
    assert len(send.sent) == 3
    assert count("ml/team", "retried") == retried + 2


def test_gives_up_after_max_attempts_and_reports_once_without_the_url(
    make: Any, reports: list[tuple[Mapping[str, Any], Transition]]
) -> None:
    send = Recorder(lambda url, n: (None, "no answer: timed out"))
    notifier = make(send, maxAttempts=3)
    failed = count("ml/team", "failed")
    obj = md([receiver()])
    notifier.notify(obj, PROMOTED)
    notifier.notify(obj, PROMOTED)
    wait_for(lambda: count("ml/team", "failed") == failed + 2)
    assert len(send.sent) == 6
    ((subject, event),) = reports  # the same failure twice: one Event
    assert subject["metadata"] == {"name": "fraud", "namespace": "ml", "uid": "uid-1"}
    assert (event.type, event.reason) == ("Warning", "NotificationFailed")
    assert event.message == (
        "receiver ml/team: rollout.promoted not delivered after 3 attempts: no answer: timed out"
    )
    assert SECRET_URL not in event.message


def test_a_permanent_refusal_is_not_retried(make: Any) -> None:
    send = Recorder(lambda url, n: (404, None))
    notifier = make(send)
    failed = count("ml/team", "failed")
    notifier.notify(md([receiver()]), PROMOTED)
    wait_for(lambda: count("ml/team", "failed") == failed + 1)
    assert len(send.sent) == 1


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({}, "receiver ml/team: Secret hook does not exist"),
        ({("ml", "hook", "url"): "hooks.example.com/x"},
         "receiver ml/team: Secret hook key url: the URL is not an http:// or https:// URL"),
        ({("ml", "hook", "url"): "  "}, "receiver ml/team: Secret hook key url: the URL is empty"),
    ],
)  # fmt: skip
def test_a_receiver_that_cannot_be_used_is_reported_on_its_resource(
    make: Any,
    reports: list[tuple[Mapping[str, Any], Transition]],
    secrets: dict[tuple[str, str, str], str],
    message: str,
) -> None:
    send = Recorder(lambda url, n: (200, None))
    notifier = make(send, secrets=secrets)
    invalid = count("ml/team", "invalid")
    notifier.notify(md([receiver()]), PROMOTED)
    wait_for(lambda: count("ml/team", "invalid") == invalid + 1)
    assert send.sent == []
    assert [(e.reason, e.message) for _, e in reports] == [("NotificationFailed", message)]


def test_a_full_queue_drops_the_oldest_and_counts_it(make: Any) -> None:
    release = threading.Event()

    def hang(url: str, n: int) -> tuple[int | None, str | None]:
        release.wait(10)
        return 200, None

    send = Recorder(hang)
    notifier = make(send, queueSize=3, senders=1)
    dropped = count("ml/team", "dropped")
    obj = md([receiver()])
    notifier.notify(obj, STARTED)  # taken by the sender: in flight, hanging
    wait_for(lambda: len(send.sent) == 1)
    for i in range(5):
        notifier.notify(obj, Transition("Normal", "Paused", f"pause {i}", "r2", "2"))
    assert count("ml/team", "dropped") == dropped + 2
    release.set()
    wait_for(lambda: len(send.sent) == 4)
    bodies = [body for _, body, _ in send.sent[1:]]
    assert [b"pause 2" in bodies[0], b"pause 3" in bodies[1], b"pause 4" in bodies[2]] == [
        True, True, True]  # fmt: skip


def test_one_receivers_notifications_arrive_in_order(make: Any) -> None:
    send = Recorder(lambda url, n: (503, None) if n == 1 else (200, None))
    notifier = make(send)
    obj = md([receiver()])
    notifier.notify(obj, STARTED)
    notifier.notify(obj, PROMOTED)
    wait_for(lambda: len(send.sent) == 3)
    events = [b"rollout.started" in body for _, body, _ in send.sent]
    assert events == [True, True, False]  # the retry of `started` before `promoted`


def test_a_dead_receiver_does_not_delay_another(make: Any, tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text("http://alive.example/hook\n")
    release = threading.Event()

    def answers(url: str, n: int) -> tuple[int | None, str | None]:
        if url == SECRET_URL:
            release.wait(10)
            return None, "no answer: timed out"
        return 200, None

    send = Recorder(answers)
    notifier = make(send, receivers=[{"name": "ops", "urlFile": str(url_file)}], maxAttempts=1)
    sent = count("ops", "sent")
    for _ in range(3):
        notifier.notify(md([receiver()]), PROMOTED)
    wait_for(lambda: count("ops", "sent") == sent + 3, timeout=3)
    release.set()


def test_operator_wide_receivers_filter_by_namespace_and_event(make: Any, tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text("http://ops.example/hook")
    send = Recorder(lambda url, n: (200, None))
    notifier = make(send, receivers=[
        {"name": "ml-only", "urlFile": str(url_file), "namespaces": ["ml"]},
        {"name": "other", "urlFile": str(url_file), "namespaces": ["other"]},
        {"name": "promotions", "urlFile": str(url_file), "events": ["rollout.promoted"]},
    ])  # fmt: skip
    a, b = count("ml-only", "sent"), count("promotions", "sent")
    notifier.notify(md(), STARTED)
    notifier.notify(md(), PROMOTED)
    wait_for(lambda: count("ml-only", "sent") == a + 2 and count("promotions", "sent") == b + 1)
    assert count("other", "sent") == 0


def test_load_config(tmp_path: Path) -> None:
    assert load_config(None) == NotificationsConfig()
    path = tmp_path / "n.yaml"
    path.write_text("receivers:\n- {name: ops, type: slack, urlFile: /etc/x/url}\nmaxAttempts: 3\n")
    cfg = load_config(str(path))
    assert cfg.max_attempts == 3
    assert cfg.receivers == [OperatorReceiver(name="ops", type="slack", url_file="/etc/x/url")]
    path.write_text("receivers:\n- {name: ops, url: https://x}\n")
    with pytest.raises(NotificationsConfigError, match=r"receivers\.0\.urlFile: Field required"):
        load_config(str(path))
    with pytest.raises(NotificationsConfigError, match="No such file"):
        load_config(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/services/T0/SECRETTOKEN x",  # http.client refuses it: InvalidURL
        "http://127.0.0.1:1/services/T0/SECRETTOKEN",  # nothing listens: connection refused
    ],
)
def test_a_failed_post_never_quotes_the_url(url: str, caplog: pytest.LogCaptureFixture) -> None:
    status, why = post_json(url, b"{}", timeout=2)
    assert status is None
    assert why is not None
    assert "SECRETTOKEN" not in why
    assert "SECRETTOKEN" not in caplog.text


def test_operator_receiver_names_must_be_unique() -> None:
    receiver = {"name": "ops", "urlFile": "/x"}
    with pytest.raises(ValueError, match="receiver names must be unique: ops"):
        NotificationsConfig.model_validate({"receivers": [receiver, receiver]})
