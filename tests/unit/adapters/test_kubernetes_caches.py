"""The Kubernetes adapter's memory of children: a converged child costs no request, and
forgetting one ModelDeployment forgets exactly its children."""

from __future__ import annotations

from typing import Any

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
