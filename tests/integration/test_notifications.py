"""Notifications on the real control plane: the real operator posts each rollout event to a
local HTTP receiver (operator-wide, from --notifications-config, and per resource, from a
Secret), reports a receiver it cannot use on its resource, and a dead receiver does not slow
a rollout. Drift and retraining notifications: test_loop.py and test_retraining.py; a rolled
back canary: test_analysis.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.objects import ModelDeployments
from modelship_testing.receiver import BlackHole, Receiver
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]

STEPS = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}


def model(version: str = "1") -> dict[str, Any]:
    return {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/"}


def operator_config(work: Path, receivers: dict[str, str], **settings: Any) -> str:
    """A --notifications-config file of webhook receivers (name -> URL, each in a file)."""
    listed = []
    for name, url in receivers.items():
        url_file = work / f"{name}.url"
        url_file.write_text(url + "\n")
        listed.append({"name": name, "urlFile": str(url_file)})
    path = work / "notifications.yaml"
    path.write_text(yaml.safe_dump({"receivers": listed, **settings}))
    return str(path)


def warnings(api: client.ApiClient, namespace: str, name: str, reason: str) -> list[str]:
    events = (
        client.CoreV1Api(api)
        .list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
        .items
    )
    return [e.message for e in events if e.reason == reason]


@pytest.fixture
def mds(k8s_api: client.ApiClient, namespace: str) -> ModelDeployments:
    return ModelDeployments(k8s_api, namespace)


def test_each_rollout_event_reaches_the_operator_wide_and_the_resources_receivers(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient, tmp_path: Path
) -> None:
    ns = mds.namespace
    with Receiver() as receiver:
        config = operator_config(tmp_path, {"ops": receiver.url("/ops")})
        receiver.secret(k8s_api, ns, "team-hook", "/team")
        operator(namespaces=[ns], extra_args=["--notifications-config", config])
        mds.create("fraud", {
            "model": model(), "serving": {"replicas": 2}, "strategy": STEPS,
            "notifications": [
                {"name": "team", "type": "slack",
                 "urlFrom": {"secretKeyRef": {"name": "team-hook"}},
                 "events": ["rollout.promoted", "rollout.aborted"]},
                {"name": "missing", "urlFrom": {"secretKeyRef": {"name": "no-such-secret"}}},
            ],
        })  # fmt: skip
        mds.wait_phase("fraud", "Healthy")

        mds.set_version("fraud", "2")
        canary = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
        mds.annotate("fraud", "modelship.io/promote")
        mds.wait_phase("fraud", "Healthy", stableRevision=canary, timeout=60)
        mds.set_version("fraud", "3")
        third = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
        mds.annotate("fraud", "modelship.io/abort")
        mds.wait_phase("fraud", "RolledBack")

        expected = ["rollout.started", "rollout.paused", "rollout.promoted",
                    "rollout.started", "rollout.paused", "rollout.aborted"]  # fmt: skip
        wait_for(lambda: receiver.events("/ops") == expected, timeout=30,
                 describe=f"{expected} at the operator-wide receiver, got "
                 f"{receiver.events('/ops')}")  # fmt: skip
        wait_for(lambda: len(receiver.bodies("/team")) == 2, timeout=30,
                 describe="promoted and aborted at the resource's Slack receiver")  # fmt: skip

    bodies = receiver.bodies("/ops")
    promoted = bodies[2]
    assert {k: promoted[k] for k in ("kind", "namespace", "name", "reason", "severity")} == {
        "kind": "ModelDeployment", "namespace": ns, "name": "fraud", "reason": "Promoted",
        "severity": "Normal"}  # fmt: skip
    assert (promoted["revision"], promoted["version"]) == (canary, "2")
    assert promoted["message"].startswith(f"revision {canary} (model version 2) is stable")
    assert (bodies[3]["revision"], bodies[3]["version"]) == (third, "3")
    assert bodies[5]["severity"] == "Warning"
    assert "aborted by the modelship.io/abort annotation" in bodies[5]["message"]

    slack = receiver.bodies("/team")
    assert [b["text"].split("\n")[0] for b in slack] == [
        f":white_check_mark: *ModelDeployment {ns}/fraud*: rollout.promoted (Promoted)",
        f":no_entry: *ModelDeployment {ns}/fraud*: rollout.aborted (Aborted)",
    ]
    assert all(len(b["blocks"]) == 3 for b in slack)

    # The receiver whose Secret does not exist: one Warning Event on the ModelDeployment,
    # and the rollout went on regardless.
    reported = warnings(k8s_api, ns, "fraud", "NotificationFailed")
    assert reported == [f"receiver {ns}/missing: Secret no-such-secret does not exist"]


def walk(mds: ModelDeployments, name: str) -> float:
    """Seconds for a canary of version 2 to walk from the spec change through its pause and
    promotion to Healthy: three notifications on the way (started, paused, promoted)."""
    mds.create(name, {"model": model(), "serving": {"replicas": 2}, "strategy": STEPS})
    mds.wait_phase(name, "Healthy")
    started = time.monotonic()
    mds.set_version(name, "2")
    canary = mds.wait_phase(name, "Paused", currentStep=1)["canaryRevision"]
    mds.annotate(name, "modelship.io/promote")
    mds.wait_phase(name, "Healthy", stableRevision=canary, timeout=60)
    return time.monotonic() - started


def test_a_dead_receiver_does_not_slow_a_rollout(
    mds: ModelDeployments, operator: OperatorFactory, tmp_path: Path, record_property: Any
) -> None:
    timeout = 5
    with Receiver() as alive, BlackHole() as dead:
        live_dir, dead_dir = tmp_path / "live", tmp_path / "dead"
        live_dir.mkdir()
        dead_dir.mkdir()
        live = operator(
            namespaces=[mds.namespace],
            extra_args=[
                "--notifications-config",
                operator_config(live_dir, {"ops": alive.url("/ops")}),
            ],
        )
        with_live = walk(mds, "live")
        wait_for(lambda: len(alive.bodies("/ops")) == 3, timeout=30, describe="3 notifications")
        live.stop()

        # Every request to the dead receiver hangs for its whole timeout, five times.
        config = operator_config(dead_dir, {"dead": dead.url()}, timeoutSeconds=timeout,
                                 maxAttempts=5)  # fmt: skip
        operator(namespaces=[mds.namespace], extra_args=["--notifications-config", config])
        with_dead = walk(mds, "dead")
        assert dead.connections >= 1  # the notifier did try it
    record_property("rollout_seconds_live_receiver", round(with_live, 2))
    record_property("rollout_seconds_dead_receiver", round(with_dead, 2))
    print(f"\ncanary walk: {with_live:.2f}s with a live receiver, {with_dead:.2f}s with a dead "
          f"one ({timeout}s timeout x 5 attempts per notification)")  # fmt: skip
    # Waiting on the dead receiver would add at least one timeout per event (3 events):
    # the walk may differ by scheduling noise, never by that.
    assert with_dead < with_live + timeout, (with_live, with_dead)
