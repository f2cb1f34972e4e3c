"""The operator on a real cluster: status, generations, references, Events, and no idle writes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client, utils, watch
from modelship.api import GROUP, KINDS_BY_NAME, VERSION
from modelship_testing.fixtures import OperatorFactory, OperatorProcess
from modelship_testing.waiters import wait_for

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return body


def needs(name: str) -> list[dict[str, Any]]:
    """The objects an example says it needs (its `# Needs:` line), to create first."""
    found = re.search(r"^# Needs: (\S+)", (EXAMPLES / name).read_text(), re.MULTILINE)
    if not found:
        return []
    return [d for d in yaml.safe_load_all((EXAMPLES / found.group(1)).read_text()) if d]


class Objects:
    """modelship objects in one namespace, through the dynamic custom-objects API."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        plural = KINDS_BY_NAME[body["kind"]].plural
        return cast(
            dict[str, Any],
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, body
            ),
        )

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, KINDS_BY_NAME[kind].plural, name
            ),
        )

    def create_example(self, name: str) -> dict[str, Any]:
        """An example with the ConfigMaps, Secrets and claims it needs."""
        for prerequisite in needs(name):
            utils.create_from_dict(self.core.api_client, prerequisite, namespace=self.namespace)
        return self.create(load(name))

    def patch_spec(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, KINDS_BY_NAME[kind].plural, name, {"spec": spec}
            ),
        )

    def delete(self, kind: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, KINDS_BY_NAME[kind].plural, name
        )

    def condition(self, kind: str, name: str, type_: str) -> dict[str, Any] | None:
        status = self.get(kind, name).get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == type_), None)

    def wait_status(
        self, kind: str, name: str, check: Callable[[dict[str, Any]], bool], describe: str
    ) -> dict[str, Any]:
        def current() -> dict[str, Any] | None:
            body = self.get(kind, name)
            return body if check(body) else None

        return wait_for(current, timeout=30, describe=f"{kind} {name}: {describe}")

    def wait_ready(self, kind: str, name: str, generation: int = 1) -> dict[str, Any]:
        return self.wait_status(
            kind,
            name,
            lambda b: converged(b, generation, "True"),
            f"Ready at generation {generation}",
        )

    def events(self, name: str) -> list[tuple[str, str]]:
        items = self.core.list_namespaced_event(self.namespace).items
        return [(str(e.type), str(e.reason)) for e in items if e.involved_object.name == name]


def converged(body: dict[str, Any], generation: int, ready: str) -> bool:
    status = body.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    return (
        status.get("observedGeneration") == generation
        and conditions.get("Ready", {}).get("status") == ready
        and all(c.get("observedGeneration") == generation for c in conditions.values())
    )


def stalled_with(body: dict[str, Any], text: str) -> bool:
    status = body.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    stalled = conditions.get("Stalled", {})
    return stalled.get("status") == "True" and text in stalled.get("message", "")


@pytest.fixture
def objects(k8s_api: client.ApiClient, crds: list[str], namespace: str) -> Objects:
    return Objects(k8s_api, namespace)


def test_each_kind_becomes_ready_with_observed_generation(
    objects: Objects, operator: OperatorFactory
) -> None:
    objects.create_example("modeldeployment-canary.yaml")
    objects.create(load("driftmonitor.yaml"))
    objects.create(load("retrainpolicy.yaml"))
    operator(namespaces=[objects.namespace])
    md = objects.wait_ready("ModelDeployment", "fraud")
    dm = objects.wait_ready("DriftMonitor", "fraud-drift")
    rp = objects.wait_ready("RetrainPolicy", "fraud-retrain")
    assert [o["status"]["phase"] for o in (md, rp)] == ["Healthy", "Idle"]
    # The monitor evaluates; this test runs no Prometheus, so it cannot tell (never drift).
    assert dm["status"]["phase"] in ("Pending", "Monitoring")
    for body in (md, dm, rp):
        conditions = {c["type"]: c["status"] for c in body["status"]["conditions"]}
        kstatus = {t: conditions.get(t) for t in ("Ready", "Reconciling", "Stalled")}
        assert kstatus == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    monitor = objects.wait_status(
        "DriftMonitor", "fraud-drift",
        lambda b: {c["type"]: c["status"] for c in b["status"].get("conditions", [])}.get(
            "Drifted") == "Unknown" and b["status"]["phase"] == "Monitoring",
        "an evaluation that cannot tell: no traffic",
    )  # fmt: skip
    verdict = next(c for c in monitor["status"]["conditions"] if c["type"] == "Drifted")
    assert verdict["reason"] in ("NotEnoughSamples", "PrometheusUnavailable")
    # One Event per transition; status says what the operator does not do yet.
    assert rp["status"]["message"] == "watching the triggers of ModelDeployment fraud"
    expected = {
        ("fraud-drift", ("Normal", verdict["reason"])),
        ("fraud-retrain", ("Normal", "Watching")),
    }
    wait_for(
        lambda: all(event in objects.events(name) for name, event in expected),
        timeout=15,
        describe="an Event for each transition to Ready",
    )
    # Every kind runs a kopf daemon, which kopf protects with the documented finalizer.
    for kind, name in (("DriftMonitor", "fraud-drift"), ("RetrainPolicy", "fraud-retrain")):
        assert objects.get(kind, name)["metadata"]["finalizers"] == ["modelship.io/finalizer"]


def test_spec_edit_bumps_generation_and_the_operator_catches_up(
    objects: Objects, operator: OperatorFactory
) -> None:
    operator(namespaces=[objects.namespace])
    objects.create_example("modeldeployment-canary.yaml")  # with its profile ConfigMap
    objects.create(load("driftmonitor.yaml"))
    objects.wait_ready("ModelDeployment", "fraud")
    first = objects.wait_status(
        "DriftMonitor", "fraud-drift", lambda b: "lastEvaluationTime" in b.get("status", {}),
        "the first evaluation",
    )  # fmt: skip
    kstatus = ("Ready", "Reconciling", "Stalled")
    since = {
        c["type"]: c["lastTransitionTime"]
        for c in first["status"]["conditions"]
        if c["type"] in kstatus
    }

    edited = objects.patch_spec("DriftMonitor", "fraud-drift", {"interval": "10m"})
    assert edited["metadata"]["generation"] == 2
    second = objects.wait_ready("DriftMonitor", "fraud-drift", generation=2)
    # Still Ready: the transition times did not move.
    assert {
        c["type"]: c["lastTransitionTime"]
        for c in second["status"]["conditions"]
        if c["type"] in kstatus
    } == since
    assert second["status"]["lastEvaluationTime"] >= first["status"]["lastEvaluationTime"]

    # A ModelDeployment edit that starts no rollout is observed too.
    objects.patch_spec("ModelDeployment", "fraud", {"rollback": {"revisionHistoryLimit": 3}})
    objects.wait_ready("ModelDeployment", "fraud", generation=2)


def test_invalid_edit_is_stalled_then_recovers(objects: Objects, operator: OperatorFactory) -> None:
    operator(namespaces=[objects.namespace])
    objects.create(load("retrainpolicy.yaml"))
    objects.wait_status(
        "RetrainPolicy",
        "fraud-retrain",
        lambda b: stalled_with(b, "does not exist"),
        "Stalled on its references",
    )
    objects.patch_spec("RetrainPolicy", "fraud-retrain", {"triggers": {"schedule": "0 25 * * *"}})
    stalled = objects.wait_status(
        "RetrainPolicy",
        "fraud-retrain",
        lambda b: stalled_with(
            b, "spec.triggers.schedule: schedule '0 25 * * *': hour 25 is outside 0-23"
        ),
        "Stalled on the schedule",
    )
    assert stalled["status"]["phase"] == "Failed"
    assert stalled["status"]["observedGeneration"] == 2


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in sorted((EXAMPLES / "invalid").glob("*.yaml"))
        if "Rejected-by: operator" in p.read_text()
    ],
    ids=lambda p: p.name,
)
def test_operator_only_invalid_example_is_stalled_with_its_message(
    objects: Objects, operator: OperatorFactory, path: Path
) -> None:
    expected = dict(re.findall(r"^# ([\w-]+): (.*)$", path.read_text(), re.MULTILINE))["Expect"]
    body = yaml.safe_load(path.read_text())
    handle = operator(namespaces=[objects.namespace])
    objects.create(body)
    objects.wait_status(
        body["kind"],
        body["metadata"]["name"],
        lambda b: stalled_with(b, expected),
        f"Stalled: {expected}",
    )
    assert (
        "Warning",
        wait_for(
            lambda: next((r for t, r in objects.events("bad") if t == "Warning"), None),
            timeout=15,
            describe="a Warning Event",
        ),
    ) in objects.events("bad")
    assert handle.running()


def test_monitor_follows_its_model_deployment_appearing_and_going(
    objects: Objects, operator: OperatorFactory
) -> None:
    operator(namespaces=[objects.namespace])
    objects.create(load("driftmonitor.yaml"))
    objects.wait_status(
        "DriftMonitor",
        "fraud-drift",
        lambda b: stalled_with(b, 'ModelDeployment "fraud" does not exist'),
        "Stalled: no ModelDeployment",
    )
    objects.create_example("modeldeployment-canary.yaml")
    objects.wait_ready("DriftMonitor", "fraud-drift")
    objects.delete("ModelDeployment", "fraud")
    objects.wait_status(
        "DriftMonitor",
        "fraud-drift",
        lambda b: stalled_with(b, 'ModelDeployment "fraud" does not exist'),
        "Stalled again",
    )


def _watch_writes(
    objects: Objects, seconds: float, during: Callable[[], None] | None = None
) -> list[str]:
    """Every change to any modelship object in the namespace from now until `seconds` pass.

    Watches start at the resourceVersion of a list taken first, so no write after that list
    is missed, however late a stream connects; `during` runs once the lists are taken.
    """
    changes: list[str] = []
    versions = {
        kind.plural: cast(
            dict[str, Any],
            objects.custom.list_namespaced_custom_object(
                GROUP, VERSION, objects.namespace, kind.plural
            ),
        )["metadata"]["resourceVersion"]
        for kind in KINDS_BY_NAME.values()
    }

    def watch_kind(plural: str) -> None:
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            objects.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            objects.namespace,
            plural,
            resource_version=versions[plural],
            timeout_seconds=int(seconds),
        )
        for event in stream:
            meta = event["object"]["metadata"]
            changes.append(f"{event['type']} {plural}/{meta['name']} rv={meta['resourceVersion']}")

    threads = [threading.Thread(target=watch_kind, args=(plural,)) for plural in versions]
    for thread in threads:
        thread.start()
    if during:
        during()
    for thread in threads:
        thread.join(seconds + 30)
    return changes


def _converge_everything(objects: Objects, operator: OperatorFactory) -> OperatorProcess:
    handle = operator(namespaces=[objects.namespace])
    objects.create_example("modeldeployment-canary.yaml")
    objects.create(load("driftmonitor.yaml"))
    objects.create(load("retrainpolicy.yaml"))
    stalled = load("driftmonitor.yaml")
    stalled["metadata"]["name"] = "orphan"
    stalled["spec"]["modelDeploymentRef"] = "nobody"
    objects.create(stalled)
    objects.wait_ready("ModelDeployment", "fraud")
    objects.wait_ready("DriftMonitor", "fraud-drift")
    objects.wait_ready("RetrainPolicy", "fraud-retrain")
    objects.wait_status("DriftMonitor", "orphan", lambda b: stalled_with(b, "nobody"), "Stalled")
    # kopf's own bookkeeping (the finalizer of each worker) lands as the workers start, and
    # the monitor's first evaluation follows the ModelDeployment's first stable revision.
    handled = [
        ("ModelDeployment", "fraud"),
        ("DriftMonitor", "fraud-drift"),
        ("RetrainPolicy", "fraud-retrain"),
        ("DriftMonitor", "orphan"),
    ]
    wait_for(
        lambda: (
            all(
                "modelship.io/finalizer" in (objects.get(k, n)["metadata"].get("finalizers") or [])
                for k, n in handled
            )
            and "lastEvaluationTime" in objects.get("DriftMonitor", "fraud-drift")["status"]
        ),
        timeout=30,
        describe="every worker started and the monitor evaluated",
    )

    # The policy counts the monitor's evaluations: it has seen the one just made.
    def counted() -> bool:
        evaluated = objects.get("DriftMonitor", "fraud-drift")["status"]["lastEvaluationTime"]
        signals = objects.get("RetrainPolicy", "fraud-retrain")["status"].get("signals") or []
        return bool(signals) and all(s.get("lastEvaluationTime") == evaluated for s in signals)

    wait_for(counted, timeout=30, describe="the policy to count the monitor's evaluation")
    return handle


@pytest.mark.slow
def test_idle_converged_objects_get_no_writes_for_60_seconds(
    objects: Objects, operator: OperatorFactory
) -> None:
    _converge_everything(objects, operator)
    assert _watch_writes(objects, 60) == []

    # The watch does see writes when there are some.
    def label() -> None:
        objects.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            objects.namespace,
            "driftmonitors",
            "orphan",
            {"metadata": {"labels": {"touched": "yes"}}},
        )

    assert any("driftmonitors/orphan" in c for c in _watch_writes(objects, 3, during=label))


@pytest.mark.slow
def test_operator_restart_writes_nothing_to_converged_objects(
    objects: Objects, operator: OperatorFactory
) -> None:
    handle = _converge_everything(objects, operator)

    # The watch window covers the restart and the resume that follows it.
    assert _watch_writes(objects, 20, during=handle.restart) == []
    started = handle.log_tail(1000).count("worker started")
    assert started >= 8, "both runs (the log is appended) started a worker for every object"
    assert handle.running()
