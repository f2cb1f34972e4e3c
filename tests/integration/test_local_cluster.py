"""The test substrate itself: real nodes, controllers, admission and Prometheus scraping."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from modelship_testing.cluster import free_port
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.waiters import wait_for

pytestmark = pytest.mark.cluster


def _ready(node: client.V1Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def test_at_least_three_ready_nodes(k8s_api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(k8s_api).list_node().items
    assert sum(_ready(n) for n in nodes) >= 3


def test_deployment_with_three_replicas_becomes_available(
    k8s_api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(k8s_api)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(
                        containers=[client.V1Container(name="web", image="example/web:1")]
                    ),
                ),
            ),
        ),
    )

    def available() -> bool:
        status = apps.read_namespaced_deployment_status("web", namespace).status
        conditions = {c.type: c.status for c in status.conditions or []}
        return status.available_replicas == 3 and conditions.get("Available") == "True"

    wait_for(available, timeout=90, describe="Deployment web to have 3 available replicas")
    pods = client.CoreV1Api(k8s_api).list_namespaced_pod(namespace, label_selector="app=web")
    assert len(pods.items) == 3
    assert all(p.status.phase == "Running" and p.spec.node_name for p in pods.items)


def test_job_pod_completes_and_job_succeeds(k8s_api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(k8s_api)
    batch.create_namespaced_job(
        namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="train"),
            spec=client.V1JobSpec(
                backoff_limit=0,
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(
                        restart_policy="Never",
                        containers=[client.V1Container(name="train", image="example/train:1")],
                    )
                ),
            ),
        ),
    )

    def succeeded() -> bool:
        status = batch.read_namespaced_job_status("train", namespace).status
        return bool(status.succeeded) and any(
            c.type == "Complete" and c.status == "True" for c in status.conditions or []
        )

    wait_for(succeeded, timeout=90, describe="Job train to succeed")
    pods = client.CoreV1Api(k8s_api).list_namespaced_pod(namespace, label_selector="job-name=train")
    assert [p.status.phase for p in pods.items] == ["Succeeded"]


@pytest.fixture
def widget_crd(k8s_api: client.ApiClient) -> Iterator[str]:
    """A throwaway CRD with a structural schema and a CEL rule."""
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    ext = client.ApiextensionsV1Api(k8s_api)
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["replicas"],
                "properties": {
                    "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
                    "min": {"type": "integer"},
                    "max": {"type": "integer"},
                },
                "x-kubernetes-validations": [
                    {
                        "rule": "!has(self.min) || !has(self.max) || self.min <= self.max",
                        "message": "spec.min must not exceed spec.max",
                    }
                ],
            }
        },
    }
    name = f"widgets.{group}"
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": schema},
                    }
                ],
            },
        }
    )

    def established() -> bool:
        crd = ext.read_custom_resource_definition(name)
        return any(
            c.type == "Established" and c.status == "True" for c in crd.status.conditions or []
        )

    wait_for(established, timeout=30, describe=f"CRD {name} to be established")
    yield group
    ext.delete_custom_resource_definition(name)


def test_structural_crd_rejects_invalid_objects(
    k8s_api: client.ApiClient, namespace: str, widget_crd: str
) -> None:
    custom = client.CustomObjectsApi(k8s_api)

    def create(spec: dict[str, int], dry_run: str | None = None) -> object:
        body = {
            "apiVersion": f"{widget_crd}/v1",
            "kind": "Widget",
            "metadata": {"generateName": "w-"},
            "spec": spec,
        }
        kwargs = {"dry_run": dry_run} if dry_run else {}
        return custom.create_namespaced_custom_object(
            widget_crd, "v1", namespace, "widgets", body, **kwargs
        )

    # Serving can lag the Established condition by a moment.
    wait_for(
        lambda: create({"replicas": 1}, dry_run="All"),
        timeout=15,
        describe="the Widget API to be served",
    )
    assert create({"replicas": 3, "min": 1, "max": 2})
    with pytest.raises(ApiException) as too_many:
        create({"replicas": 11})
    assert too_many.value.status == 422
    assert "spec.replicas" in str(too_many.value.body)
    with pytest.raises(ApiException) as crossed:
        create({"replicas": 1, "min": 5, "max": 2})
    assert crossed.value.status == 422
    assert "spec.min must not exceed spec.max" in str(crossed.value.body)


EXPORTER = textwrap.dedent(
    """
    import sys, time
    from prometheus_client import Counter, start_http_server
    Counter("substrate_probe", "a counter the test reads back").inc(42)
    start_http_server(int(sys.argv[1]), addr="127.0.0.1")
    while True:
        time.sleep(3600)
    """
)


def test_prometheus_scrapes_a_process_started_by_the_test(prometheus: PrometheusHandle) -> None:
    port = free_port()
    exporter = subprocess.Popen([sys.executable, "-c", EXPORTER, str(port)])
    job = f"probe-{uuid.uuid4().hex[:6]}"
    try:
        prometheus.add_target(job, f"127.0.0.1:{port}", {"purpose": "substrate"})
        prometheus.wait_for_target_up(job)
        value = wait_for(
            lambda: prometheus.value(f'substrate_probe_total{{job="{job}",purpose="substrate"}}'),
            timeout=30,
            describe="the probe counter in Prometheus",
        )
        assert value == 42.0
    finally:
        prometheus.remove_target(job)
        exporter.kill()
        exporter.wait()
