"""Helpers for tests that drive ModelDeployments on a real cluster and watch what follows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from kubernetes import client, watch

from modelship_testing.waiters import diagnostic, wait_for

GROUP, VERSION, PLURAL = "modelship.io", "v1alpha1", "modeldeployments"
LABEL_MD = "modelship.io/model-deployment"
LABEL_REVISION = "modelship.io/revision"


class ModelDeployments:
    """Create, change and read ModelDeployments in one namespace."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelDeployment",
            "metadata": {"name": name},
            "spec": spec,
        }
        created = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body
        )
        return cast(dict[str, Any], created)

    def get(self, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return cast(dict[str, Any], found)

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def patch(self, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            body,
            _content_type="application/merge-patch+json",
        )

    def set_version(self, name: str, version: str, **model: Any) -> None:
        uri = model.pop("uri", f"s3://models/{name}/{version}/")
        self.patch(name, {"spec": {"model": {"version": version, "uri": uri, **model}}})

    def annotate(self, name: str, key: str, value: str | None = None) -> None:
        """Set a control annotation (a fresh value each call, so it acts once)."""
        value = value if value is not None else str(time.time_ns())
        self.patch(name, {"metadata": {"annotations": {key: value}}})

    def wait(
        self, name: str, check: Callable[[dict[str, Any]], Any], describe: str, timeout: float = 60
    ) -> dict[str, Any]:
        """Wait until `check(status)` holds; the object joins the diagnostics meanwhile."""
        with diagnostic(f"ModelDeployment {name} status", lambda: str(self.status(name))):
            wait_for(lambda: check(self.status(name)), timeout=timeout, describe=describe)
        return self.status(name)

    def wait_phase(
        self, name: str, phase: str, timeout: float = 60, **fields: Any
    ) -> dict[str, Any]:
        def matches(status: dict[str, Any]) -> bool:
            return (
                status.get("phase") == phase
                and all(status.get(k) == v for k, v in fields.items())
                and status.get("observedGeneration") == self.get(name)["metadata"]["generation"]
            )

        return self.wait(name, matches, f"{name} to be {phase} {fields or ''}", timeout)

    def replicas(self, name: str) -> dict[str, tuple[int, int]]:
        """(spec replicas, ready replicas) of each revision Deployment."""
        deps = self.apps.list_namespaced_deployment(
            self.namespace, label_selector=f"{LABEL_MD}={name}"
        ).items
        return {
            (d.metadata.labels or {})[LABEL_REVISION]: (
                d.spec.replicas or 0,
                (d.status.ready_replicas if d.status else 0) or 0,
            )
            for d in deps
        }

    def spec_replicas(self, name: str) -> dict[str, int]:
        return {rev: counts[0] for rev, counts in self.replicas(name).items()}

    def service_selector(self, service: str) -> dict[str, str]:
        return dict(self.core.read_namespaced_service(service, self.namespace).spec.selector or {})

    def http_route_weights(self, route: str) -> list[tuple[str, int]]:
        body = cast(
            dict[str, Any],
            self.custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", self.namespace, "httproutes", route
            ),
        )
        return [(b["name"], b.get("weight", 1)) for b in body["spec"]["rules"][0]["backendRefs"]]

    def virtual_service(self, name: str) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.custom.get_namespaced_custom_object(
                "networking.istio.io", "v1", self.namespace, "virtualservices", name
            ),
        )

    def virtual_service_weights(self, name: str) -> list[tuple[str, int]]:
        route = self.virtual_service(name)["spec"]["http"][0]["route"]
        return [(r["destination"]["host"], r.get("weight", 0)) for r in route]


@dataclass
class EndpointHistory:
    """Ready endpoints of one Service after every EndpointSlice event, from a watch."""

    service: str
    counts: list[int] = field(default_factory=list)
    ready_pods: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    """(time, names of the ready pods behind the Service) after every change."""
    errors: list[str] = field(default_factory=list)

    def first_time(self, since: float, check: Callable[[frozenset[str]], bool]) -> float | None:
        """When, at or after `since`, the ready pods first satisfied `check`."""
        for at, pods in self.ready_pods:
            if at >= since and check(pods):
                return at
        return None

    def since_first_ready(self) -> list[int]:
        for i, count in enumerate(self.counts):
            if count > 0:
                return self.counts[i:]
        return []


class EndpointWatcher:
    """Watch a Service's EndpointSlices in a thread and record its ready endpoint count after
    every change: a gap in service shows up as a zero, however short it was."""

    def __init__(self, api: client.ApiClient, namespace: str, service: str) -> None:
        self.discovery = client.DiscoveryV1Api(api)
        self.namespace = namespace
        self.history = EndpointHistory(service)
        self._stop = threading.Event()
        self._slices: dict[str, frozenset[str]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EndpointHistory:
        self._thread.start()
        return self.history

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @staticmethod
    def _ready(slice_: Any) -> frozenset[str]:
        return frozenset(
            (e.target_ref.name if e.target_ref else ",".join(e.addresses))
            for e in slice_.endpoints or []
            if e.conditions is None or e.conditions.ready is not False
        )

    def _record(self) -> None:
        pods = frozenset().union(*self._slices.values()) if self._slices else frozenset()
        self.history.counts.append(len(pods))
        self.history.ready_pods.append((time.time(), pods))

    def _relist(self, selector: str) -> str:
        listed = self.discovery.list_namespaced_endpoint_slice(
            self.namespace, label_selector=selector
        )
        self._slices = {str(item.metadata.name): self._ready(item) for item in listed.items}
        self._record()
        return str(listed.metadata.resource_version)

    def _run(self) -> None:
        selector = f"kubernetes.io/service-name={self.history.service}"
        resource_version: str | None = None
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                if resource_version is None:
                    resource_version = self._relist(selector)
                for event in stream.stream(
                    self.discovery.list_namespaced_endpoint_slice,
                    self.namespace,
                    label_selector=selector,
                    resource_version=resource_version,
                    timeout_seconds=2,
                ):
                    obj = event["object"]
                    resource_version = obj.metadata.resource_version
                    if event["type"] == "DELETED":
                        self._slices.pop(obj.metadata.name, None)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        self._slices[obj.metadata.name] = self._ready(obj)
                    else:
                        continue
                    self._record()
                    if self._stop.is_set():
                        break
            except Exception as err:  # noqa: BLE001 - record it, then re-list from scratch
                self.history.errors.append(repr(err))
                resource_version = None
            finally:
                stream.stop()


def release_finalizers(api: client.ApiClient, namespace: str) -> None:
    """Drop the operator's finalizers from modelship objects: the test's operator has
    stopped, and nothing else would ever remove them, so the namespace could not go."""
    custom = client.CustomObjectsApi(api)
    for plural in ("modeldeployments", "driftmonitors", "retrainpolicies"):
        try:
            listed: Any = custom.list_namespaced_custom_object(
                "modelship.io", "v1alpha1", namespace, plural
            )
            items = listed["items"]
        except client.ApiException:
            continue  # the CRDs are not installed
        for item in items:
            if item["metadata"].get("finalizers"):
                custom.patch_namespaced_custom_object(
                    "modelship.io",
                    "v1alpha1",
                    namespace,
                    plural,
                    item["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                    _content_type="application/merge-patch+json",
                )
