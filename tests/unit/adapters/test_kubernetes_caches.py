"""The Kubernetes adapter's memory of children: a converged child costs no request, and
forgetting one ModelDeployment forgets exactly its children."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from modelship.adapters.kubernetes import KubernetesAdapter
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
        meta = {"resourceVersion": str(self.version), "generation": 1}
        return {"metadata": meta, **(self.live or {})}


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


def seen(version: int, generation: int = 1) -> dict[str, Any]:
    return {"resourceVersion": str(version), "generation": generation}


def test_only_changes_made_by_others_make_the_next_pass_read_the_child() -> None:
    adapter = Live(None)
    manifest = routed("fraud", "fraud")
    assert adapter.ensure(manifest)  # created: resourceVersion 2
    adapter.requests.clear()
    # The echo of its own write changes nothing: the next pass costs no request.
    assert not adapter.child_changed("Service", "ml", "fraud", "fraud", seen(2))
    assert not adapter.ensure(manifest)
    assert adapter.requests == []
    # Someone else's edit (or deletion): the next pass reads the live object and restores it.
    assert adapter.child_changed("Service", "ml", "fraud", "fraud", seen(3), deleted=True)
    adapter.live = None  # deleted
    assert adapter.ensure(manifest)
    assert [m for m, _ in adapter.requests] == ["GET", "POST"]
    adapter.requests.clear()
    assert not adapter.child_changed("Service", "ml", "fraud", "fraud", seen(3))  # its echo
    # Edited: read, then patched; never a create refused with 409 first.
    adapter.live = copy.deepcopy(DEFAULTED)
    adapter.live["spec"]["ports"][0]["targetPort"] = 9090
    assert adapter.child_changed("Service", "ml", "fraud", "fraud", seen(5, generation=2))
    assert adapter.ensure(manifest)
    assert [m for m, _ in adapter.requests] == ["GET", "PATCH"]


def test_status_writes_of_other_controllers_wake_nothing() -> None:
    adapter = Live(None)
    manifest = routed("fraud", "fraud")
    manifest["kind"] = "HorizontalPodAutoscaler"
    adapter.ensure(manifest)  # resourceVersion 2, generation 1
    for version in (3, 4, 5):  # the autoscaler's status, every 15 s
        assert not adapter.child_changed("HorizontalPodAutoscaler", "ml", "fraud", "fraud",
                                         seen(version))  # fmt: skip
    assert adapter.child_changed("HorizontalPodAutoscaler", "ml", "fraud", "fraud",
                                 seen(6, generation=2))  # its spec edited  # fmt: skip


def test_children_of_owners_it_holds_nothing_of_wake_nothing_and_leave_nothing() -> None:
    adapter = Live(None)
    # Another shard's, or a deleted ModelDeployment's children being collected.
    assert not adapter.child_changed("Service", "ml", "other", "other", seen(9))
    assert not adapter.child_changed("Service", "ml", "other", "other", seen(10), deleted=True)
    assert adapter._known == {}
    assert adapter._written == {}
    # A child the last plan no longer wanted, deleted by the operator itself.
    adapter.ensure(routed("fraud", "fraud-preview"))
    adapter.remove_stale("ml", "fraud", [routed("fraud", "fraud")], ["Service"])
    assert not adapter.child_changed("Service", "ml", "fraud", "fraud-preview", seen(11),
                                     deleted=True)  # fmt: skip


def test_a_change_seen_while_a_pass_writes_is_not_forgotten() -> None:
    adapter = Live(None)
    manifest = routed("fraud", "fraud")
    adapter.ensure(manifest)
    adapter.live = copy.deepcopy(DEFAULTED)
    assert adapter.child_changed("Service", "ml", "fraud", "fraud", seen(20, generation=2))
    calls = adapter.call

    def edited_during_the_read(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        answer = calls(method, path, body, **kw)
        if method == "GET":  # someone edits it again after the read
            adapter.child_changed("Service", "ml", "fraud", "fraud", seen(21, generation=3))
        return answer

    adapter.call = edited_during_the_read  # type: ignore[method-assign]
    adapter.ensure(manifest)
    adapter.call = calls  # type: ignore[method-assign]
    adapter.requests.clear()
    adapter.ensure(manifest)  # the later edit is read, not taken for restored
    assert adapter.requests[0][0] == "GET"


class Patches(Live):
    def __init__(self, live: dict[str, Any] | None) -> None:
        super().__init__(live)
        self.patches: list[Any] = []

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if method == "PATCH":
            self.patches.append(body)
        return super().call(method, path, body, **kw)


def test_a_selector_key_the_manifest_drops_is_removed() -> None:
    # Selecting both revisions (or undoing a label added by hand): a merge patch keeps keys
    # it does not name, so the dropped one is sent as null.
    live = copy.deepcopy(DEFAULTED)
    live["spec"]["selector"]["modelship.io/revision"] = "blue"
    adapter = Patches(live)
    assert adapter.ensure(routed("fraud", "fraud"), verify=True)
    (patch,) = adapter.patches
    assert patch["spec"]["selector"] == {LABEL_MD: "fraud", "modelship.io/revision": None}
