"""Several replicas: with --peering, one operator is active, the other stands by and takes over."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from modelship.api import GROUP, VERSION
from modelship_testing.fixtures import OperatorFactory, OperatorProcess
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PEERING = "modelship"
RESUMED = "Resuming operations after the pause"  # kopf's words when a replica becomes active


def monitor(name: str, interval: str = "5m") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DriftMonitor",
        "metadata": {"name": name},
        "spec": {"modelDeploymentRef": "absent", "interval": interval},
    }


def handled_by(handle: OperatorProcess, name: str) -> bool:
    return f'"name": "{name}"' in "\n".join(
        line for line in handle.log_tail(2000).splitlines() if '"msg": "status changed"' in line
    )


def test_one_replica_is_active_and_the_other_takes_over(
    k8s_api: client.ApiClient, crds: list[str], namespace: str, operator: OperatorFactory
) -> None:
    custom = client.CustomObjectsApi(k8s_api)
    wait_for(
        lambda: custom.create_namespaced_custom_object(
            "kopf.dev",
            "v1",
            namespace,
            "kopfpeerings",
            {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}},
        ),
        timeout=30,
        describe="the KopfPeering object to be created",
    )

    def replica(priority: int) -> OperatorProcess:
        args = ["--peering", PEERING, "--peering-priority", str(priority)]
        return operator(namespaces=[namespace], extra_args=args)

    def peers() -> int:
        body: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
            "kopf.dev", "v1", namespace, "kopfpeerings", PEERING
        )
        return len(body.get("status") or {})

    high = replica(200)
    wait_for(
        lambda: RESUMED in high.log_tail(400),
        timeout=30,
        describe="the high-priority replica to become active",
    )
    low = replica(100)  # starts paused and stays so while a higher priority is alive
    wait_for(lambda: peers() == 2, timeout=30, describe="both replicas in the peering")

    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "driftmonitors", monitor("first")
    )
    wait_for(lambda: handled_by(high, "first"), timeout=30, describe="the active replica to act")
    assert not handled_by(low, "first")
    assert RESUMED not in low.log_tail(400)

    high.stop()  # a graceful exit leaves the peering at once
    wait_for(
        lambda: RESUMED in low.log_tail(400),
        timeout=30,
        describe="the standby replica to take over",
    )
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "driftmonitors", monitor("second")
    )

    def second_ready() -> bool:
        body: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
            GROUP, VERSION, namespace, "driftmonitors", "second"
        )
        return bool((body.get("status") or {}).get("observedGeneration") == 1)

    wait_for(second_ready, timeout=30, describe="the new active replica to handle a new object")
    assert handled_by(low, "second")
