"""A served ModelDeployment with live traffic and a DriftMonitor watching it: the real
operator, a real Prometheus scraping a real reference-server process standing in for the
stable revision's pods, and a traffic generator that sends in-distribution, then drifted,
requests (tests/integration/test_drift.py, test_health.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from kubernetes import client

from modelship_testing.fixtures import OperatorFactory
from modelship_testing.objects import ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import Server, TrafficGenerator, TrainedModel, start_server
from modelship_testing.waiters import diagnostic, wait_for

GROUP, VERSION, PLURAL = "modelship.io", "v1alpha1", "driftmonitors"
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
        self.seen: dict[str, dict[str, Any]] = {}
        """lastEvaluationTime -> the status written by that evaluation."""

    def start(self, operator: OperatorFactory, **monitor: Any) -> None:
        self.core.create_namespaced_config_map(
            self.namespace,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="fraud-profile"),
                data={"profile.json": self.model.profile_path.read_text()},
            ),
        )
        operator(namespaces=[self.namespace], env={"MODELSHIP_PROMETHEUS_URL": self.prometheus.url})
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
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DriftMonitor",
                "metadata": {"name": "fraud-drift"}, "spec": {**MONITOR, **monitor}}  # fmt: skip
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)

    def status(self) -> dict[str, Any]:
        found = cast(
            dict[str, Any],
            self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, "fraud-drift"
            ),
        )
        status: dict[str, Any] = found.get("status") or {}
        if status.get("lastEvaluationTime"):
            self.seen.setdefault(status["lastEvaluationTime"], status)
        return status

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
