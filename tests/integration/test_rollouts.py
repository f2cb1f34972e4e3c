"""ModelDeployment rollouts on the real control plane, driven by the real operator."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes import client, watch
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.objects import LABEL_REVISION, EndpointWatcher, ModelDeployments
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]


def model(version: str = "1") -> dict[str, Any]:
    return {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/"}


@pytest.fixture
def mds(k8s_api: client.ApiClient, namespace: str) -> ModelDeployments:
    return ModelDeployments(k8s_api, namespace)


def ready_endpoints(api: client.ApiClient, namespace: str, service: str) -> int:
    slices = (
        client.DiscoveryV1Api(api)
        .list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={service}"
        )
        .items
    )
    return sum(
        1 for s in slices for e in s.endpoints or [] if not e.conditions or e.conditions.ready
    )


def test_new_model_deployment_becomes_healthy_and_its_service_has_ready_endpoints(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient
) -> None:
    operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": model(), "serving": {"replicas": 3}})
    status = mds.wait_phase("fraud", "Healthy")
    revision = status["stableRevision"]
    assert mds.replicas("fraud") == {revision: (3, 3)}
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready["Ready"] == "True"
    assert ready["Stalled"] == "False"
    assert status["inferenceURL"].endswith("/v2/models/fraud/infer")
    wait_for(
        lambda: ready_endpoints(k8s_api, mds.namespace, "fraud") == 3,
        timeout=30,
        describe="3 ready endpoints behind Service fraud",
    )
    dep = mds.apps.read_namespaced_deployment(f"fraud-{revision}", mds.namespace)
    assert dep.metadata.owner_references[0].kind == "ModelDeployment"
    container = dep.spec.template.spec.containers[0]
    assert container.security_context.read_only_root_filesystem is True
    labels = dep.spec.template.metadata.labels
    assert (labels["model"], labels["version"], labels[LABEL_REVISION]) == ("fraud", "1", revision)


CANARY = {
    "canary": {
        "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
        "steps": [
            {"setWeight": 25},
            {"pause": {}},
            {"setWeight": 50},
            {"pause": {"duration": "3s"}},
        ],
    }
}


@pytest.mark.usefixtures("gateway_api")
def test_canary_walks_its_steps_through_http_route_weights_and_is_promoted(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": model(), "serving": {"replicas": 4}, "strategy": CANARY})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    assert mds.http_route_weights("fraud") == [("fraud-stable", 100), ("fraud-canary", 0)]

    with EndpointWatcher(mds.api, mds.namespace, "fraud-stable") as stable_endpoints:
        mds.set_version("fraud", "2")
        status = mds.wait_phase("fraud", "Paused", currentStep=1)
        new = status["canaryRevision"]
        assert mds.spec_replicas("fraud") == {old: 4, new: 1}
        assert mds.http_route_weights("fraud") == [("fraud-stable", 75), ("fraud-canary", 25)]
        assert mds.service_selector("fraud-canary")[LABEL_REVISION] == new

        mds.annotate("fraud", "modelship.io/promote")
        mds.wait_phase("fraud", "Paused", currentStep=3)
        assert mds.spec_replicas("fraud") == {old: 4, new: 2}
        assert mds.http_route_weights("fraud") == [("fraud-stable", 50), ("fraud-canary", 50)]

        status = mds.wait_phase("fraud", "Healthy", stableRevision=new, timeout=60)
        wait_for(
            lambda: mds.spec_replicas("fraud") == {old: 0, new: 4},
            timeout=60,
            describe="the old revision scaled down",
        )
    assert status["history"][0]["outcome"] == "Promoted"
    assert status["history"][0]["modelVersion"] == "2"
    assert 0 not in stable_endpoints.since_first_ready(), stable_endpoints.counts


def test_replicas_router_splits_by_pod_count_and_abort_returns_traffic(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    steps = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}
    mds.create("fraud", {"model": model(), "serving": {"replicas": 4}, "strategy": steps})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    with EndpointWatcher(mds.api, mds.namespace, "fraud") as endpoints:
        mds.set_version("fraud", "2")
        new = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
        # The stable Deployment is at 2 already; its third pod may still be terminating.
        wait_for(
            lambda: mds.replicas("fraud") == {old: (2, 2), new: (2, 2)},
            timeout=30,
            describe="two pods of each revision",
        )
        assert LABEL_REVISION not in mds.service_selector("fraud")  # both revisions serve

        mds.annotate("fraud", "modelship.io/abort")
        status = mds.wait_phase("fraud", "RolledBack")
        wait_for(
            lambda: mds.replicas("fraud") == {old: (4, 4), new: (0, 0)},
            timeout=60,
            describe="all pods back on stable",
        )
    assert status["stableRevision"] == old
    assert status.get("canaryRevision") is None
    assert status["history"][0]["outcome"] == "Aborted"
    stalled = {c["type"]: c["status"] for c in status["conditions"]}["Stalled"]
    assert stalled == "True"
    assert 0 not in endpoints.since_first_ready(), endpoints.counts

    # The aborted revision is not retried until asked.
    mds.annotate("fraud", "modelship.io/retry")
    mds.wait_phase("fraud", "Paused", currentStep=1, canaryRevision=new)


def test_blue_green_switches_on_promotion_and_rolls_back_instantly(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    strategy = {"blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 600}}
    mds.create("fraud", {"model": model(), "serving": {"replicas": 2}, "strategy": strategy})
    blue = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    with EndpointWatcher(mds.api, mds.namespace, "fraud") as endpoints:
        mds.set_version("fraud", "2")
        green = mds.wait_phase("fraud", "Paused")["canaryRevision"]
        assert mds.service_selector("fraud")[LABEL_REVISION] == blue
        assert mds.service_selector("fraud-preview")[LABEL_REVISION] == green
        assert mds.replicas("fraud") == {blue: (2, 2), green: (2, 2)}

        mds.annotate("fraud", "modelship.io/promote")
        mds.wait_phase("fraud", "Healthy", stableRevision=green)
        wait_for(
            lambda: mds.service_selector("fraud").get(LABEL_REVISION) == green,
            timeout=10,
            describe="the Service to select green",
        )
        assert mds.replicas("fraud")[blue] == (2, 2)  # kept for the scale-down delay

        # Instant rollback: the old pods are still up, so only the selector moves.
        mds.annotate("fraud", "modelship.io/rollback-to", blue)
        mds.wait_phase("fraud", "Healthy", stableRevision=blue, timeout=20)
        wait_for(
            lambda: mds.service_selector("fraud").get(LABEL_REVISION) == blue,
            timeout=10,
            describe="the Service to select blue again",
        )
    assert 0 not in endpoints.since_first_ready(), endpoints.counts


def test_rollback_to_an_older_revision(mds: ModelDeployments, operator: OperatorFactory) -> None:
    operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": model(), "serving": {"replicas": 2}})
    first = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    mds.set_version("fraud", "2")
    second = mds.wait(
        "fraud",
        lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != first,
        "version 2 to be stable",
    )["stableRevision"]
    wait_for(
        lambda: mds.spec_replicas("fraud") == {first: 0, second: 2},
        timeout=30,
        describe="version 1 scaled down",
    )
    mds.annotate("fraud", "modelship.io/rollback-to", first)
    mds.wait_phase("fraud", "Healthy", stableRevision=first)
    wait_for(
        lambda: mds.spec_replicas("fraud") == {first: 2, second: 0},
        timeout=30,
        describe="version 2 scaled down",
    )


def test_operator_killed_during_a_pause_resumes_at_the_same_step(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    running = operator(namespaces=[mds.namespace])
    steps = {
        "canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]}
    }
    mds.create("fraud", {"model": model(), "serving": {"replicas": 4}, "strategy": steps})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    mds.set_version("fraud", "2")
    new = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
    before = mds.replicas("fraud")
    running.kill()
    running.start()
    mds.annotate("fraud", "modelship.io/promote")
    mds.wait_phase("fraud", "Paused", currentStep=3)
    assert set(mds.replicas("fraud")) == set(before) == {old, new}  # no duplicates
    assert mds.spec_replicas("fraud") == {old: 1, new: 3}
    services = mds.core.list_namespaced_service(mds.namespace).items
    assert sorted(s.metadata.name for s in services) == ["fraud", "fraud-canary", "fraud-stable"]


def writes_during(api: client.ApiClient, namespace: str, seconds: int) -> list[str]:
    """Every change to ModelDeployments, Deployments and Services in the namespace, watched
    for `seconds` from now (a watch from the current resourceVersion, so nothing is missed)."""
    custom, apps, core = client.CustomObjectsApi(api), client.AppsV1Api(api), client.CoreV1Api(api)
    lists = {
        "ModelDeployment": lambda **kw: custom.list_namespaced_custom_object(
            "modelship.io", "v1alpha1", namespace, "modeldeployments", **kw
        ),
        "Deployment": lambda **kw: apps.list_namespaced_deployment(namespace, **kw),
        "Service": lambda **kw: core.list_namespaced_service(namespace, **kw),
    }
    seen: list[str] = []
    threads = []

    def follow(kind: str, list_fn: Any) -> None:
        listed = list_fn()
        version = (
            listed["metadata"]["resourceVersion"]
            if isinstance(listed, dict)
            else listed.metadata.resource_version
        )
        for event in watch.Watch().stream(
            list_fn, resource_version=version, timeout_seconds=seconds
        ):
            obj = event["object"]
            name = obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name
            seen.append(f"{event['type']} {kind} {name}")

    for kind, list_fn in lists.items():
        thread = threading.Thread(target=follow, args=(kind, list_fn))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return seen


def test_converged_model_deployment_gets_no_writes_while_idle(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient
) -> None:
    operator(namespaces=[mds.namespace])
    mds.create(
        "fraud",
        {
            "model": model(),
            "serving": {"replicas": 2},
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    )
    mds.wait_phase("fraud", "Healthy")
    revision = mds.status("fraud")["stableRevision"]
    wait_for(
        lambda: mds.replicas("fraud") == {revision: (2, 2)},
        timeout=30,
        describe="the Deployment to settle",
    )
    assert writes_during(k8s_api, mds.namespace, seconds=20) == []


@pytest.mark.usefixtures("gateway_api")
def test_shadow_mirrors_traffic_then_continues_as_a_canary(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    strategy = {
        "shadow": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "mirrorPercentage": 30,
            "duration": "3s",
            "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]},
        }
    }
    mds.create("fraud", {"model": model(), "serving": {"replicas": 4}, "strategy": strategy})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    mds.set_version("fraud", "2")

    def mirrored() -> int | None:
        body = mds.custom.get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", mds.namespace, "httproutes", "fraud"
        )
        filters = body["spec"]["rules"][0].get("filters") or []
        return next((f["requestMirror"].get("percent") for f in filters), None)

    wait_for(lambda: mirrored() == 30, timeout=30, describe="the HTTPRoute to mirror 30%")
    assert mds.http_route_weights("fraud") == [("fraud-stable", 100), ("fraud-canary", 0)]
    new = mds.status("fraud")["canaryRevision"]
    assert mds.spec_replicas("fraud") == {old: 4, new: 2}
    # After the shadow run the same revision continues as a canary and takes real traffic.
    mds.wait_phase("fraud", "Paused", currentStep=1, canaryRevision=new)
    assert mds.http_route_weights("fraud") == [("fraud-stable", 50), ("fraud-canary", 50)]
    assert mirrored() is None


def test_a_pod_template_the_api_server_refuses_is_reported_as_stalled(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    template = {"spec": {"containers": [{"name": "server", "ports": [{"containerPort": 99999}]}]}}
    mds.create("fraud", {"model": model(), "serving": {"replicas": 1, "template": template}})
    status = mds.wait(
        "fraud",
        lambda s: (
            {c["type"]: c["status"] for c in s.get("conditions") or []}.get("Stalled") == "True"
        ),
        "the ModelDeployment to be Stalled",
    )
    assert status["phase"] == "Failed"
    assert "the API server refused Deployment" in status["message"]
    assert "containerPort" in status["message"]
    # Fixing the spec recovers.
    mds.patch("fraud", {"spec": {"serving": {"template": None}}})
    mds.wait_phase("fraud", "Healthy")


def test_missing_references_are_reported_and_nothing_is_created_until_they_exist(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    spec = {
        "model": {**model(), "profileRef": {"configMap": "fraud-profile"}},
        "serving": {"replicas": 2},
        "security": {"authSecretRef": {"name": "fraud-token"}},
    }
    mds.create("fraud", spec)
    status = mds.wait(
        "fraud",
        lambda s: (
            "ReferenceNotFound"
            in {c["type"]: c["reason"] for c in s.get("conditions") or []}.values()
        ),
        "the missing ConfigMap to be reported",
    )
    assert status["phase"] == "Degraded"
    assert 'spec.model.profileRef: ConfigMap "fraud-profile" does not exist' in status["message"]
    assert 'spec.security.authSecretRef: Secret "fraud-token" does not exist' in status["message"]
    assert mds.replicas("fraud") == {}  # no pods that a kubelet could never start

    mds.core.create_namespaced_config_map(
        mds.namespace,
        {"metadata": {"name": "fraud-profile"}, "data": {"profile.json": "{}"}},
    )
    mds.core.create_namespaced_secret(
        mds.namespace, {"metadata": {"name": "fraud-token"}, "stringData": {"wrong-key": "x"}}
    )
    status = mds.wait(
        "fraud",
        lambda s: 'has no key "token" (keys: wrong-key)' in s.get("message", ""),
        "the missing key to be named",
    )
    assert "ConfigMap" not in status["message"]
    mds.core.patch_namespaced_secret(
        "fraud-token", mds.namespace, {"stringData": {"token": "s3cret"}}
    )
    status = mds.wait_phase("fraud", "Healthy")  # picked up without a spec change
    assert list(mds.replicas("fraud").values()) == [(2, 2)]
