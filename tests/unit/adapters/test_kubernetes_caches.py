"""The Kubernetes adapter's memory of children: a converged child costs no request, and
forgetting one ModelDeployment forgets exactly its children."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from modelship.adapters.kubernetes import KubernetesAdapter, contains
from modelship.rollout.objects import ANNOTATION_HASH, LABEL_MD


class Recording(KubernetesAdapter):
    def __init__(self) -> None:
        super().__init__(api=None)  # type: ignore[arg-type]
        self.requests: list[tuple[str, str]] = []

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self.requests.append((method, path))
        return {"metadata": {"resourceVersion": "1"}}


def service(owner: str, name: str, digest: str = "h1") -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {
            "namespace": "ml",
            "name": name,
            "labels": {LABEL_MD: owner},
            "annotations": {ANNOTATION_HASH: digest},
        },
        "spec": {},
    }


def test_forget_drops_exactly_one_owner() -> None:
    adapter = Recording()
    assert adapter.ensure(service("fraud", "fraud"))
    assert adapter.ensure(service("fraud-2", "fraud-2"))
    adapter.requests.clear()
    assert not adapter.ensure(service("fraud", "fraud"))  # known: no request
    assert not adapter.ensure(service("fraud-2", "fraud-2"))
    assert adapter.requests == []
    adapter.forget("ml", "fraud")
    assert not adapter.ensure(service("fraud-2", "fraud-2"))  # fraud-2 is still known
    assert adapter.requests == []
    adapter.ensure(service("fraud", "fraud"))  # fraud is asked about again
    assert adapter.requests[0] == ("POST", "/api/v1/namespaces/ml/services")


def routed(owner: str, name: str) -> dict[str, Any]:
    manifest = service(owner, name)
    manifest["spec"] = {"selector": {LABEL_MD: owner}, "ports": [{"port": 80, "targetPort": 8080}]}
    return manifest


class Live(Recording):
    """An API server holding one Service, with the defaults it adds."""

    def __init__(self, live: dict[str, Any] | None) -> None:
        super().__init__()
        self.live = live
        self.version = 1

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        self.requests.append((method, path))
        if method == "POST" and self.live is not None:
            raise ApiException(status=409)
        if method == "GET" and self.live is None:
            raise ApiException(status=404)
        if method in ("POST", "PATCH"):
            self.version += 1
        return {"metadata": {"resourceVersion": str(self.version)}, **(self.live or {})}


DEFAULTED = {
    "metadata": {"annotations": {ANNOTATION_HASH: "h1"}},
    "spec": {
        "selector": {LABEL_MD: "fraud"},
        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
        "clusterIP": "10.0.0.7",
        "type": "ClusterIP",
    },
}


def test_a_child_with_the_server_defaults_is_left_alone() -> None:
    adapter = Live(DEFAULTED)
    assert not adapter.ensure(routed("fraud", "fraud"), verify=True)
    assert [m for m, _ in adapter.requests] == ["GET"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["ports"][0].update(targetPort=9090),
        lambda s: s["selector"].pop(LABEL_MD),
        lambda s: s["ports"].append({"port": 81}),
    ],
)
def test_a_hand_edit_that_keeps_the_hash_is_restored(edit: Callable[[dict[str, Any]], Any]) -> None:
    live = copy.deepcopy(DEFAULTED)
    edit(live["spec"])
    adapter = Live(live)
    assert adapter.ensure(routed("fraud", "fraud"), verify=True)
    assert [m for m, _ in adapter.requests] == ["GET", "PATCH"]


def test_only_changes_made_by_others_make_the_next_pass_read_the_child() -> None:
    adapter = Live(None)
    manifest = routed("fraud", "fraud")
    assert adapter.ensure(manifest)  # created: resourceVersion 2
    adapter.requests.clear()
    # The echo of its own write changes nothing: the next pass costs no request.
    assert not adapter.child_changed("Service", "ml", "fraud", "fraud", "2")
    assert not adapter.ensure(manifest)
    assert adapter.requests == []
    # Someone else's edit (or deletion): the next pass reads the live object and restores it.
    assert adapter.child_changed("Service", "ml", "fraud", "fraud", "3")
    adapter.live = None  # deleted
    assert adapter.ensure(manifest)
    assert [m for m, _ in adapter.requests] == ["GET", "POST"]
    adapter.requests.clear()
    assert not adapter.child_changed("Service", "ml", "fraud", "fraud", "3")  # its echo
    # Edited: read, then patched; never a create refused with 409 first.
    adapter.live = copy.deepcopy(DEFAULTED)
    adapter.live["spec"]["ports"][0]["targetPort"] = 9090
    assert adapter.child_changed("Service", "ml", "fraud", "fraud", "5")
    assert adapter.ensure(manifest)
    assert [m for m, _ in adapter.requests] == ["GET", "PATCH"]


def test_contains_reads_none_as_absent() -> None:
    assert contains({"a": 1}, {"b": None})
    assert not contains({"a": 1, "b": 2}, {"b": None})
    assert not contains({"a": [1, 2]}, {"a": [1]})
    assert contains({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]})
