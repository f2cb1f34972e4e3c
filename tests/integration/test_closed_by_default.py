"""Closed by default (docs/reliability.md): a namespace that enforces PodSecurity `restricted`
admits the serving pods and the retrain Jobs of the examples unchanged, and no Secret value
reaches the operator's log, an Event, a status or a child object."""

from __future__ import annotations

import base64
import copy
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.objects import ModelDeployments
from modelship_testing.serving import TrainedModel, fraud_data
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]

REPO = Path(__file__).resolve().parents[2]
TRAINER = REPO / "examples" / "trainer" / "train.py"
GROUP, VERSION, PLURAL = "modelship.io", "v1alpha1", "retrainpolicies"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest"}  # fmt: skip


def example_job_template(args: list[str]) -> dict[str, Any]:
    """examples/retrainpolicy.yaml's Job template, its security settings untouched, with the
    container run as the reference trainer by the test substrate (docs/trainer.md)."""
    example = yaml.safe_load((REPO / "examples" / "retrainpolicy.yaml").read_text())
    template: dict[str, Any] = copy.deepcopy(example["spec"]["job"]["template"])
    pod = template["spec"]["template"]
    pod.setdefault("metadata", {}).setdefault("labels", {})["modelship.io/run-locally"] = "true"
    container = pod["spec"]["containers"][0]
    container.update(command=["python", str(TRAINER)], args=args)
    container.pop("resources", None)  # KWOK's nodes are small
    return template


def policy(name: str, template: dict[str, Any], output: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "RetrainPolicy", "metadata": {"name": name},
        "spec": {"modelDeploymentRef": "fraud", "cooldown": "0s", "job": {"template": template},
                 "output": {"uri": output}, "validation": {"minMetrics": {"accuracy": 0.6}},
                 "promotion": "auto"},
    }  # fmt: skip


class Policies:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom, self.namespace = client.CustomObjectsApi(api), namespace

    def create(self, body: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)

    def status(self, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return dict(found.get("status") or {})

    def retrain(self, name: str) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name,
            {"metadata": {"annotations": {"modelship.io/retrain": "1"}}},
        )  # fmt: skip

    def run_outcome(self, name: str) -> str | None:
        runs = self.status(name).get("runs") or []
        return str(runs[0].get("outcome")) if runs else None


def failed_creates(core: client.CoreV1Api, namespace: str) -> list[str]:
    events = core.list_namespaced_event(namespace, field_selector="reason=FailedCreate").items
    return [f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}" for e in events]


def test_a_restricted_namespace_admits_serving_pods_and_the_examples_retrain_jobs(
    k8s_api: client.ApiClient,
    namespace: str,
    model: TrainedModel,
    operator: OperatorFactory,
    job_runner: JobRunner,
    tmp_path: Path,
) -> None:
    core = client.CoreV1Api(k8s_api)
    core.patch_namespace(namespace, {"metadata": {"labels": RESTRICTED}})
    # The admission plugin is on and enforces: a pod that sets nothing is refused.
    plain = {"metadata": {"name": "plain"},
             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, plain)
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in json.loads(refused.value.body)["message"]

    core.create_namespaced_config_map(namespace, {
        "metadata": {"name": "fraud-profile"},
        "data": {"profile.json": model.profile_path.read_text()}})  # fmt: skip
    operator(namespaces=[namespace])
    mds = ModelDeployments(k8s_api, namespace)
    served = {"name": "fraud", "version": "1", "uri": f"file://{model.directory}/",
              "profileRef": {"configMap": "fraud-profile"}}  # fmt: skip
    mds.create("fraud", {"model": served, "serving": {"replicas": 2}})
    mds.wait_phase("fraud", "Healthy", readyReplicas=2)

    data = tmp_path / "fresh.csv"
    fraud_data(rows=2000, seed=11).to_csv(data, index=False)
    template = example_job_template(["--data", str(data), "--target", "fraud", "--seed", "3"])
    policies = Policies(k8s_api, namespace)
    policies.create(policy("fraud-retrain", template, f"file://{tmp_path}/models/{{version}}/"))
    wait_for(lambda: policies.status("fraud-retrain").get("phase") == "Idle", timeout=60,
             describe="the policy to watch its triggers")  # fmt: skip
    policies.retrain("fraud-retrain")
    # Its Job's pod is admitted, the trainer runs, and the promoted model's pods are too.
    wait_for(lambda: policies.run_outcome("fraud-retrain") == "Promoted", timeout=180,
             describe="the run to be promoted")  # fmt: skip
    mds.wait_phase("fraud", "Healthy", timeout=90)
    assert mds.status("fraud")["history"][0]["modelVersion"] == "1-r1"
    assert failed_creates(core, namespace) == []

    # A template without the example's security settings: admission refuses its Job's pods,
    # and the policy's status says so (not a run Running in silence).
    bare = copy.deepcopy(template)
    pod_spec = bare["spec"]["template"]["spec"]
    pod_spec.pop("securityContext", None)
    for container in pod_spec["containers"]:
        container.pop("securityContext", None)
    policies.create(policy("fraud-bare", bare, f"file://{tmp_path}/bare/{{version}}/"))
    wait_for(lambda: policies.status("fraud-bare").get("phase") == "Idle", timeout=60,
             describe="the second policy to watch its triggers")  # fmt: skip
    policies.retrain("fraud-bare")
    said = "its Job fraud-bare-1 has no pod 30 s after it was created"
    wait_for(lambda: said in str(policies.status("fraud-bare").get("message")), timeout=90,
             describe="the policy to say its Job has no pod")  # fmt: skip
    assert "kubectl describe job fraud-bare-1" in policies.status("fraud-bare")["message"]
    assert any(f.startswith("Job/fraud-bare-1: ") for f in failed_creates(core, namespace))


class RecordingPrometheus(http.server.BaseHTTPRequestHandler):
    """Answers every instant query with an empty vector and remembers the Authorization
    headers it was sent."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recording_prometheus() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (RecordingPrometheus,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def forms(secret: str) -> list[str]:
    """The value, and its base64 (how a Secret's data travels), to look for."""
    return [secret, base64.b64encode(secret.encode()).decode()]


def test_no_secret_value_reaches_the_log_events_status_or_children(
    k8s_api: client.ApiClient,
    namespace: str,
    operator: OperatorFactory,
    recording_prometheus: tuple[str, list[str]],
    tmp_path: Path,
) -> None:
    address, seen = recording_prometheus
    api_token, prometheus_token = f"api-{uuid.uuid4().hex}", f"prom-{uuid.uuid4().hex}"
    core = client.CoreV1Api(k8s_api)
    for name, value in (("fraud-api-token", api_token), ("prometheus-token", prometheus_token)):
        core.create_namespaced_secret(namespace, {"metadata": {"name": name},
                                                  "stringData": {"token": value}})  # fmt: skip
    handle = operator(namespaces=[namespace], extra_args=["--log-level", "DEBUG"])
    mds = ModelDeployments(k8s_api, namespace)
    analysis = {
        "interval": "2s", "minSamples": 10, "inconclusiveLimit": 1,
        "prometheus": {"address": address, "bearerTokenSecretRef": {"name": "prometheus-token"}},
        "metrics": [{"name": "error-rate", "builtin": "errorRate", "max": 0.05}],
    }  # fmt: skip
    mds.create("fraud", {
        "model": {"name": "fraud", "version": "1", "uri": "s3://models/fraud/1/"},
        "serving": {"replicas": 1},
        "strategy": {"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}]}},
        "analysis": analysis,
        "security": {"authSecretRef": {"name": "fraud-api-token"}},
    })  # fmt: skip
    mds.wait_phase("fraud", "Healthy")
    mds.set_version("fraud", "2")  # a canary, analysed with the bearer token
    mds.wait("fraud", lambda s: s.get("phase") == "Paused" and s.get("measurements"),
             "the canary's analysis to pause on no data", timeout=90)  # fmt: skip
    assert f"Bearer {prometheus_token}" in seen  # the operator did read and use the Secret
    policies = Policies(k8s_api, namespace)
    template = example_job_template(["--data", "s3://datasets/fraud/latest/"])
    template["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"secretRef": {"name": "fraud-api-token"}}]  # fmt: skip
    policies.create(policy("fraud-retrain", template, "s3://models/fraud/{version}/"))
    policies.retrain("fraud-retrain")
    wait_for(lambda: policies.run_outcome("fraud-retrain") == "Running", timeout=60,
             describe="a run with its Job")  # fmt: skip

    custom, apps, batch = client.CustomObjectsApi(k8s_api), client.AppsV1Api(k8s_api), \
        client.BatchV1Api(k8s_api)  # fmt: skip
    serialize = k8s_api.sanitize_for_serialization
    places = {
        "operator log": handle.log_path.read_text(errors="replace"),
        "events": json.dumps(serialize(core.list_namespaced_event(namespace))),
        "ModelDeployment": json.dumps(mds.get("fraud")),
        "RetrainPolicy": json.dumps(custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "fraud-retrain")),
        "Deployments": json.dumps(serialize(apps.list_namespaced_deployment(namespace))),
        "Pods": json.dumps(serialize(core.list_namespaced_pod(namespace))),
        "Jobs": json.dumps(serialize(batch.list_namespaced_job(namespace))),
        "ConfigMaps": json.dumps(serialize(core.list_namespaced_config_map(namespace))),
    }  # fmt: skip
    assert "Bearer" not in places["operator log"]
    values = [*forms(api_token), *forms(prometheus_token)]
    leaks = [(where, value) for where, text in places.items() for value in values if value in text]
    assert leaks == []
    assert len(places["operator log"]) > 10_000  # DEBUG: a log with something in it
