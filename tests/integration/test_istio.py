"""The istio router on the real control plane with Istio's real VirtualService CRD: the
operator's VirtualService carries each step's weights and a shadow run's mirror. (No mesh
data plane runs here; what a proxy does with the object is Istio's.)"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.objects import LABEL_REVISION, ModelDeployments
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds", "istio")]

ISTIO = {"router": "istio", "istio": {"gateways": ["istio-system/public", "mesh"]}}


def model(version: str = "1") -> dict[str, Any]:
    return {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/"}


@pytest.fixture
def mds(k8s_api: client.ApiClient, namespace: str) -> ModelDeployments:
    return ModelDeployments(k8s_api, namespace)


def test_canary_walks_its_steps_through_virtual_service_weights_and_is_promoted(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    strategy = {"canary": {"traffic": ISTIO, "steps": [{"setWeight": 25}, {"pause": {}}]}}
    mds.create("fraud", {"model": model(), "serving": {"replicas": 4}, "strategy": strategy})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    service = mds.virtual_service("fraud")
    assert service["spec"]["hosts"] == ["fraud"]
    assert service["spec"]["gateways"] == ["istio-system/public", "mesh"]
    assert service["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"
    assert mds.virtual_service_weights("fraud") == [("fraud-stable", 100), ("fraud-canary", 0)]

    mds.set_version("fraud", "2")
    new = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
    assert mds.virtual_service_weights("fraud") == [("fraud-stable", 75), ("fraud-canary", 25)]
    assert mds.service_selector("fraud-canary")[LABEL_REVISION] == new
    assert mds.spec_replicas("fraud") == {old: 4, new: 1}

    mds.annotate("fraud", "modelship.io/promote")
    mds.wait_phase("fraud", "Healthy", stableRevision=new, timeout=60)
    assert mds.virtual_service_weights("fraud") == [("fraud-stable", 100), ("fraud-canary", 0)]
    assert mds.service_selector("fraud-stable")[LABEL_REVISION] == new


def test_shadow_mirrors_through_the_virtual_service_then_continues_as_a_canary(
    mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    strategy = {
        "shadow": {
            "traffic": ISTIO,
            "mirrorPercentage": 30,
            "duration": "3s",
            "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]},
        }
    }
    mds.create("fraud", {"model": model(), "serving": {"replicas": 4}, "strategy": strategy})
    mds.wait_phase("fraud", "Healthy")
    mds.set_version("fraud", "2")

    def mirror() -> tuple[str | None, float | None]:
        route = mds.virtual_service("fraud")["spec"]["http"][0]
        host = (route.get("mirror") or {}).get("host")
        return host, (route.get("mirrorPercentage") or {}).get("value")

    wait_for(lambda: mirror() == ("fraud-canary", 30), timeout=30, describe="a 30% mirror")
    assert mds.virtual_service_weights("fraud") == [("fraud-stable", 100), ("fraud-canary", 0)]
    new = mds.status("fraud")["canaryRevision"]
    mds.wait_phase("fraud", "Paused", currentStep=1, canaryRevision=new)
    assert mds.virtual_service_weights("fraud") == [("fraud-stable", 50), ("fraud-canary", 50)]
    assert mirror() == (None, None)
