"""Two operator shards split a fleet: every object has exactly one worker, in its owner."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kubernetes import client
from modelship.api import GROUP, VERSION
from modelship.controller.sharding import Sharding
from modelship_testing.fixtures import OperatorFactory, OperatorProcess
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

COUNT = 300
LABEL = "team"
KEY = f"label:{LABEL}"


def monitor(index: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DriftMonitor",
        "metadata": {"name": f"monitor-{index:03d}", "labels": {LABEL: f"team-{index % 37}"}},
        "spec": {"modelDeploymentRef": "absent", "interval": "5m"},
    }


def logged(handle: OperatorProcess, message: str) -> set[str]:
    """Names of the objects for which this operator logged `message`."""
    names = set()
    for line in handle.log_path.read_text(errors="replace").splitlines():
        if f'"{message}"' in line:
            names.add(json.loads(line)["name"])
    return names


def test_two_shards_split_the_objects_without_overlap(
    k8s_api: client.ApiClient, crds: list[str], namespace: str, operator: OperatorFactory
) -> None:
    shards = [
        operator(namespaces=[namespace],
                 extra_args=["--shards", "2", "--shard-index", str(i), "--shard-key", KEY])
        for i in range(2)
    ]  # fmt: skip
    custom = client.CustomObjectsApi(k8s_api)
    bodies = [monitor(i) for i in range(COUNT)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda body: custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "driftmonitors", body), bodies))  # fmt: skip

    def reconciled() -> int:
        items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "driftmonitors")
        return sum(1 for md in items["items"]
                   if (md.get("status") or {}).get("observedGeneration") == 1)  # fmt: skip

    wait_for(lambda: reconciled() == COUNT, timeout=180,
             describe=f"all {COUNT} DriftMonitors to have a status from their shard")  # fmt: skip

    expected = [
        {b["metadata"]["name"] for b in bodies
         if Sharding(2, i, KEY).owns(namespace, b["metadata"]["labels"])}
        for i in range(2)
    ]  # fmt: skip
    assert expected[0]
    assert expected[1]
    started = [logged(s, "worker started") for s in shards]
    written = [logged(s, "status changed") for s in shards]
    assert started == expected  # a worker for exactly the owned objects...
    assert written == expected  # ...and status written by its owner only
    assert not started[0] & started[1]
    assert started[0] | started[1] == {b["metadata"]["name"] for b in bodies}
