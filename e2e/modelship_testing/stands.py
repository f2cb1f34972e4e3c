"""Stands that the integration tests share: a served ModelDeployment with live traffic and a
DriftMonitor watching it (`DriftStand`), and a served ModelDeployment with a RetrainPolicy
whose Jobs run the reference trainer (`RetrainLoop`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kubernetes import client

from modelship_testing.cluster import REPO
from modelship_testing.objects import GROUP, VERSION, ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import (
    Server,
    TrafficGenerator,
    TrainedModel,
    fraud_data,
    start_server,
)
from modelship_testing.waiters import diagnostic, wait_for

if TYPE_CHECKING:  # the fixtures build these stands
    from modelship_testing.fixtures import OperatorFactory

MONITORS = "driftmonitors"


def create_profile(core: client.CoreV1Api, namespace: str, model: TrainedModel) -> None:
    """The model's reference profile as the ConfigMap `fraud-profile`."""
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="fraud-profile"),
        data={"profile.json": model.profile_path.read_text()},
    )
    core.create_namespaced_config_map(namespace, body)


INTERVAL_SECONDS = 10
MONITOR = {
    "modelDeploymentRef": "fraud",
    "interval": f"{INTERVAL_SECONDS}s",
    "window": "20s",
    "minSamples": 100,
}
SHIFT = {"amount": 150.0, "merchant_risk": 0.5}


class DriftStand:
    """A served ModelDeployment with live traffic, and a DriftMonitor watching it."""

    def __init__(self, api: client.ApiClient, namespace: str, model: TrainedModel,
                 prometheus: PrometheusHandle) -> None:  # fmt: skip
        self.namespace, self.model, self.prometheus = namespace, model, prometheus
        self.mds = ModelDeployments(api, namespace)
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.server: Server | None = None
        self.traffic = TrafficGenerator(rate_per_second=40, max_seconds=400)
        self.monitor = "fraud-drift"
        """The monitor `status()` reads."""
        self.seen: dict[str, dict[str, Any]] = {}
        """lastEvaluationTime -> the status written by that evaluation."""

    def start(self, operator: OperatorFactory, operator_args: list[str] | None = None,
              **monitor: Any) -> None:  # fmt: skip
        create_profile(self.core, self.namespace, self.model)
        operator(namespaces=[self.namespace], extra_args=operator_args,
                 env={"MODELSHIP_PROMETHEUS_URL": self.prometheus.url})  # fmt: skip
        model = {"name": "fraud", "version": "1", "uri": "s3://models/fraud/1/",
                 "profileRef": {"configMap": "fraud-profile"}}  # fmt: skip
        self.mds.create("fraud", {"model": model, "serving": {"replicas": 1}})
        stable = self.mds.wait_phase("fraud", "Healthy")["stableRevision"]
        self.server = start_server(self.model, stable, "1")
        job = f"{self.namespace}-{stable}"
        self.prometheus.add_target(job, self.server.address, {"namespace": self.namespace})
        self.prometheus.wait_for_target_up(job)
        self.traffic.route(self.server)
        self.traffic.start()
        self.add_monitor("fraud-drift", **monitor)

    def add_monitor(self, name: str, **monitor: Any) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DriftMonitor",
                "metadata": {"name": name}, "spec": {**MONITOR, **monitor}}  # fmt: skip
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, MONITORS, body)

    def status(self, name: str | None = None) -> dict[str, Any]:
        found = cast(dict[str, Any], self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, MONITORS, name or self.monitor
        ))  # fmt: skip
        status: dict[str, Any] = found.get("status") or {}
        if name is None and status.get("lastEvaluationTime"):
            self.seen.setdefault(status["lastEvaluationTime"], status)
        return status

    def condition(self, kind: str, name: str | None = None) -> dict[str, Any]:
        conditions = {c["type"]: c for c in self.status(name).get("conditions") or []}
        return dict(conditions.get(kind, {}))

    def drifted(self) -> tuple[str, str] | None:
        status = self.status()
        for condition in status.get("conditions") or []:
            if condition["type"] == "Drifted":
                return condition["status"], condition["reason"]
        return None

    def wait_drifted(self, expected: str, timeout: float, reason: str | None = None) -> None:
        def matches() -> bool:
            found = self.drifted()
            return found is not None and found[0] == expected and reason in (None, found[1])

        wait_for(matches, timeout=timeout, describe=f"Drifted={expected} {reason or ''}")

    def events(self) -> list[tuple[str, str, str]]:
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector="involvedObject.name=fraud-drift"
        )
        return [(str(e.type), str(e.reason), str(e.message)) for e in listed.items]

    def close(self) -> None:
        self.traffic.stop()
        if self.server is not None:
            self.prometheus.remove_target(f"{self.namespace}-{self.server.revision}")
            self.server.stop()


def stand_for(api: client.ApiClient, namespace: str, model: TrainedModel,
              prometheus: PrometheusHandle) -> Iterator[DriftStand]:  # fmt: skip
    stand = DriftStand(api, namespace, model, prometheus)
    with diagnostic("DriftMonitor status", lambda: str(stand.status())):
        try:
            yield stand
        finally:
            stand.close()


POLICIES = "retrainpolicies"
TRAINER = REPO / "examples" / "trainer" / "train.py"


class RetrainLoop:
    """A served ModelDeployment and a RetrainPolicy whose Jobs run the reference trainer."""

    def __init__(self, api: client.ApiClient, namespace: str, model: TrainedModel,
                 work: Path, kubeconfig: str = "") -> None:  # fmt: skip
        self.namespace, self.model, self.work = namespace, model, work
        self.kubeconfig = kubeconfig
        self.mds = ModelDeployments(api, namespace)
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)

    def start(
        self,
        operator: OperatorFactory,
        fault: str | None = None,
        promotion: str = "auto",
        target: str = "spec",
    ) -> None:
        create_profile(self.core, self.namespace, self.model)
        data = self.work / "fresh.csv"
        fraud_data(rows=2000, seed=11).to_csv(data, index=False)
        operator(namespaces=[self.namespace])
        model = {"name": "fraud", "version": "1", "uri": f"file://{self.model.directory}/",
                 "profileRef": {"configMap": "fraud-profile"}}  # fmt: skip
        self.mds.create("fraud", {"model": model, "serving": {"replicas": 1}})
        self.mds.wait_phase("fraud", "Healthy")
        args = ["--data", str(data), "--target", "fraud", "--seed", "3"]
        if fault:
            args += ["--fault", fault]
        container = {"name": "train", "image": "modelship-trainer:dev",
                     "command": ["python", str(TRAINER)], "args": args}  # fmt: skip
        pod = {"metadata": {"labels": {"modelship.io/run-locally": "true"}},
               "spec": {"containers": [container]}}  # fmt: skip
        compare = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.05}]
        spec = {
            "modelDeploymentRef": "fraud",
            "cooldown": "0s",
            "job": {"template": {"spec": {"template": pod}}},
            "output": {"uri": f"file://{self.work}/models/{{version}}/"},
            "validation": {"minMetrics": {"accuracy": 0.6}, "compare": compare},
            "promotion": promotion,
            "promotionTarget": target,
        }
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RetrainPolicy",
                "metadata": {"name": "fraud-retrain"}, "spec": spec}  # fmt: skip
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, POLICIES, body)
        self.wait(lambda s: s.get("phase") == "Idle", "the policy to watch its triggers")

    def status(self) -> dict[str, Any]:
        found = cast(dict[str, Any], self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, POLICIES, "fraud-retrain"
        ))  # fmt: skip
        return dict(found.get("status") or {})

    def wait(self, check: Any, describe: str, timeout: float = 90) -> dict[str, Any]:
        with diagnostic("RetrainPolicy status", lambda: str(self.status())):
            wait_for(lambda: check(self.status()), timeout=timeout, describe=describe)
        return self.status()

    def retrain(self, value: str = "1") -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, POLICIES, "fraud-retrain",
            {"metadata": {"annotations": {"modelship.io/retrain": value}}},
        )  # fmt: skip

    def ended(self, outcome: str, timeout: float = 120) -> dict[str, Any]:
        def done(status: dict[str, Any]) -> bool:
            runs = status.get("runs") or []
            return bool(runs) and runs[0].get("outcome") == outcome

        return cast(
            dict[str, Any], self.wait(done, f"the run to end {outcome}", timeout)["runs"][0]
        )

    def jobs(self) -> list[str]:
        listed = self.batch.list_namespaced_job(
            self.namespace, label_selector="modelship.io/retrain-policy=fraud-retrain"
        )
        return [str(j.metadata.name) for j in listed.items]

    def events(self, name: str = "fraud-retrain") -> list[tuple[str, str]]:
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [(str(e.type), str(e.reason)) for e in listed.items]
