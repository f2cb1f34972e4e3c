"""The Kubernetes adapter: the operator's one client, and every read and write it makes.

No decisions here. Children: the planner says which replicas and manifests are wanted; this
module compares each manifest's content hash with the live object's and writes only when they
differ, so a converged object costs reads only when something wakes it, and no writes at
all. Status: a merge patch of the status subresource of any of the three kinds (each object's
status has this one writer). Events, Secrets, referenced objects and CRDs are read and
written here too, with one configuration loaded in one order (`api_client`).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from modelship import metrics
from modelship.api.resources import API_VERSION
from modelship.api.resources import Kind as Resource
from modelship.planners.children import Seen, foreign_change, restore_patch
from modelship.retrain.jobs import LABEL_POLICY, JobObserved, label_value
from modelship.rollout.objects import (
    ANNOTATION_HASH,
    ANNOTATION_IMAGE,
    ANNOTATION_URI,
    ANNOTATION_VERSION,
    LABEL_MD,
    LABEL_REVISION,
    PROFILE_PATH_ENV,
    PROFILE_VOLUME,
)
from modelship.rollout.references import UNCHECKED, Kind
from modelship.rollout.types import PlannedEvent, RevisionObserved

MERGE_PATCH = "application/merge-patch+json"
# Enough pooled connections for the reconcile threads (runtime.registration.WORKER_THREADS).
POOL_SIZE = 16


class NoClusterError(RuntimeError):
    """Neither a kubeconfig nor an in-cluster service account is available."""


def api_client(pool_size: int = POOL_SIZE) -> client.ApiClient:
    """A client configured as kubectl would be: $KUBECONFIG, ~/.kube/config or in-cluster."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException as err:
            raise NoClusterError(
                "no Kubernetes configuration: set KUBECONFIG (or ~/.kube/config), or run in "
                f"a pod with a service account ({err})"
            ) from err
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


class SecretUnreadableError(RuntimeError):
    """A Secret, or the key asked for, is missing or may not be read."""


class ChildRejectedError(RuntimeError):
    """The API server refused a child object: the user's spec (a pod template override, a
    quota, a policy) or the cluster, not the operator, has to change."""

    reason = "ChildRejected"


class MissingKindError(ChildRejectedError):
    """The cluster does not serve a kind the plan needs (e.g. no Gateway API CRDs)."""

    reason = "MissingAPI"


@contextmanager
def refusals(kind: str, name: str) -> Iterator[None]:
    """Turn the API server's refusal of a write (400, 403, 422) into ChildRejectedError,
    with the server's own message."""
    try:
        yield
    except ApiException as err:
        if err.status not in (400, 403, 422):
            raise
        try:
            detail = json.loads(err.body or "{}").get("message") or err.reason
        except ValueError:
            detail = err.reason
        raise ChildRejectedError(f"the API server refused {kind} {name}: {detail}") from err


@dataclass(frozen=True)
class KindAccess:
    """How to reach one kind of child through the generic API client."""

    api_version: str
    plural: str

    @property
    def base(self) -> str:
        prefix = "/api" if self.api_version == "v1" else "/apis"
        return f"{prefix}/{self.api_version}"


KINDS: dict[str, KindAccess] = {
    "Deployment": KindAccess("apps/v1", "deployments"),
    "Service": KindAccess("v1", "services"),
    "HorizontalPodAutoscaler": KindAccess("autoscaling/v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": KindAccess("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": KindAccess("networking.k8s.io/v1", "networkpolicies"),
    "HTTPRoute": KindAccess("gateway.networking.k8s.io/v1", "httproutes"),
    "VirtualService": KindAccess("networking.istio.io/v1", "virtualservices"),
}


# Children whose hand edits and deletions wake their ModelDeployment (Deployments wake it on
# every change: their readiness drives the rollout).
WATCHED_CHILD_KINDS = (
    "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "HTTPRoute",
    "VirtualService",
)  # fmt: skip


# API versions every supported Kubernetes serves; others (CRDs) are looked up in discovery.
BUILT_IN = frozenset({"v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"})
# Objects a ModelDeployment refers to, by kind: their path under /api/v1/namespaces/NS/.
REFERENCED: dict[str, str] = {
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "ServiceAccount": "serviceaccounts",
}
# A kind found missing is asked about again after this long (its CRDs may get installed).
MISSING_KIND_RECHECK_SECONDS = 30.0


# The remembered hash of a child someone else changed: matches no manifest, so it is read.
UNKNOWN_CONTENT = ""
Owner = tuple[str, str]
"""(namespace, name) of the ModelDeployment that owns a child."""


def _job_observed(job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> JobObserved:
    """What the planner needs of a Job and its pods: done or not, and the last finished
    container's termination message and exit code."""
    status = job.get("status") or {}
    conditions = {
        c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"
    }
    failed = conditions.get("Failed") or {}
    terminated: list[Mapping[str, Any]] = []
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            state = (container.get("state") or {}).get("terminated")
            if state:
                terminated.append(state)
    terminated.sort(key=lambda s: str(s.get("finishedAt") or ""))
    last = terminated[-1] if terminated else {}
    started = status.get("startTime")
    created = job["metadata"].get("creationTimestamp")
    return JobObserved(
        name=str(job["metadata"]["name"]),
        succeeded="Complete" in conditions or "SuccessCriteriaMet" in conditions,
        failed=bool(failed),
        reason=str(failed.get("reason") or ""),
        message=str(failed.get("message") or ""),
        termination_message=last.get("message"),
        exit_code=last.get("exitCode"),
        started_at=datetime.fromisoformat(started) if started else None,
        pods=len(pods),
        created_at=datetime.fromisoformat(created) if created else None,
    )


class JobsMixin:
    """Jobs of RetrainPolicies, and the ModelDeployment writes a promotion makes."""

    call: Any
    _wrote: Any

    def jobs(self, namespace: str, policy: str, uid: str | None = None) -> dict[str, JobObserved]:
        """The policy's Jobs by name: labelled for it and, when `uid` is given, owned by this
        incarnation of it (not a deleted namesake's Job still being collected)."""
        selector = [("labelSelector", f"{LABEL_POLICY}={label_value(policy)}")]
        listed = self.call("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs", query=selector)
        pods = self.call("GET", f"/api/v1/namespaces/{namespace}/pods", query=selector)
        by_job: dict[str, list[Mapping[str, Any]]] = {}
        for pod in pods.get("items", []):
            # By the Job that owns it: a run's training and evaluation Jobs share its label.
            for owner in (pod.get("metadata") or {}).get("ownerReferences") or []:
                if owner.get("kind") == "Job":
                    by_job.setdefault(str(owner.get("name")), []).append(pod)
        out = {}
        for job in listed.get("items", []):
            name = job["metadata"]["name"]
            owners = {o.get("uid") for o in job["metadata"].get("ownerReferences") or []}
            if uid is None or uid in owners:
                out[name] = _job_observed(job, by_job.get(name, []))
        return out

    def create_job(self, manifest: Mapping[str, Any]) -> None:
        meta = manifest["metadata"]
        self._wrote("create")
        try:
            with refusals("Job", meta["name"]):
                self.call(
                    "POST",
                    f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs",
                    body=dict(manifest),
                )
        except ApiException as err:
            if err.status != 409:  # already there: a restart between status and create
                raise

    def delete_job(self, namespace: str, name: str) -> None:
        self._wrote("delete")
        try:
            self.call(
                "DELETE", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
                query=[("propagationPolicy", "Background")],
            )  # fmt: skip
        except ApiException as err:
            if err.status != 404:
                raise

    def apply_config_map(self, manifest: Mapping[str, Any]) -> None:
        """Create a ConfigMap, or replace its data when it exists."""
        meta = manifest["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/configmaps"
        self._wrote("create")
        try:
            with refusals("ConfigMap", meta["name"]):
                self.call("POST", path, body=dict(manifest))
        except ApiException as err:
            if err.status != 409:
                raise
            with refusals("ConfigMap", meta["name"]):
                self.call("PATCH", f"{path}/{meta['name']}", body={"data": manifest["data"]},
                          content_type=MERGE_PATCH)  # fmt: skip

    def patch_model(self, namespace: str, name: str, model: Mapping[str, Any]) -> None:
        """Merge-patch a ModelDeployment's spec.model (promotion auto: the one spec field
        the operator edits, and only where the user opted in)."""
        self._wrote("patch")
        with refusals("ModelDeployment", name):
            self.call(
                "PATCH", f"/apis/{API_VERSION}/namespaces/{namespace}/modeldeployments/{name}",
                body={"spec": {"model": dict(model)}}, content_type=MERGE_PATCH,
            )  # fmt: skip


def _mounted_profile(deployment: Mapping[str, Any]) -> tuple[str, str] | None:
    """(ConfigMap, key) of the profile a revision's pods mount (rollout.objects' layout)."""
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    config_map = next(
        (
            (v.get("configMap") or {}).get("name")
            for v in pod.get("volumes") or []
            if v.get("name") == PROFILE_VOLUME
        ),
        None,
    )
    path = next(
        (
            e.get("value")
            for c in pod.get("containers") or []
            for e in c.get("env") or []
            if e.get("name") == PROFILE_PATH_ENV
        ),
        None,
    )
    if not config_map or not path:
        return None
    return str(config_map), str(path).rsplit("/", 1)[-1]


class KubernetesAdapter(JobsMixin):
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._served: dict[str, float | None] = {}
        """kind -> None when served, else the monotonic time it was last found missing."""
        self.writes = 0
        """API writes made (also exported as modelship_api_writes_total)."""
        # Worker threads share these; one object's reconciles never overlap, so a lock
        # around the per-owner entries is enough.
        self._lock = threading.Lock()
        self._known: dict[Owner, dict[tuple[str, str], str]] = {}
        """owner -> (kind, name) -> content hash known to be live."""
        self._wanted: dict[Owner, set[tuple[str, str]]] = {}
        """owner -> (kind, name) of the children last wanted."""
        self._written: dict[Owner, dict[tuple[str, str], Seen]] = {}
        """owner -> (kind, name) -> (resourceVersion, generation) of this process's last
        write of it, or of the last status-only change it saw."""
        self._changes: dict[Owner, dict[tuple[str, str], int]] = {}
        """owner -> (kind, name) -> changes by others seen so far."""
        self._event_listeners: list[Callable[[Mapping[str, Any], PlannedEvent], None]] = []
        """Called with every Event before it is posted (notifications): must not block."""

    def on_event(self, listener: Callable[[Mapping[str, Any], PlannedEvent], None]) -> None:
        """Hear of every Event the operator records, with the object as it was read."""
        self._event_listeners.append(listener)

    def _wrote(self, verb: str) -> None:
        self.writes += 1
        metrics.API_WRITES.labels(verb).inc()

    # --- generic REST -------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
    ) -> Any:
        """One request with the client's credentials; the decoded JSON answer."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        method, url, headers, payload, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(
            method, url, header_params=headers, body=payload, post_params=post, _request_timeout=30
        )
        response.read()  # type: ignore[no-untyped-call]
        if response.status >= 400:
            raise ApiException(http_resp=response)
        return json.loads(response.data) if response.data else None

    def _path(self, kind: str, namespace: str, name: str | None = None) -> str:
        access = KINDS[kind]
        path = f"{access.base}/namespaces/{namespace}/{access.plural}"
        return f"{path}/{name}" if name else path

    # --- reading ------------------------------------------------------------------------
    def revisions(self, namespace: str, md_name: str) -> dict[str, RevisionObserved]:
        """Every revision Deployment of the ModelDeployment, by revision."""
        listed = self.call(
            "GET",
            self._path("Deployment", namespace),
            query=[("labelSelector", f"{LABEL_MD}={md_name}")],
        )
        out = {}
        for dep in listed.get("items", []):
            meta, status = dep["metadata"], dep.get("status") or {}
            revision = (meta.get("labels") or {}).get(LABEL_REVISION)
            if not revision:
                continue
            annotations = meta.get("annotations") or {}
            created = meta.get("creationTimestamp")
            out[revision] = RevisionObserved(
                revision=revision,
                replicas=int(dep["spec"].get("replicas") or 0),
                ready=int(status.get("readyReplicas") or 0),
                available=int(status.get("availableReplicas") or 0),
                current=int(status.get("observedGeneration") or 0)
                >= int(meta.get("generation") or 0),
                model_version=annotations.get(ANNOTATION_VERSION, ""),
                model_uri=annotations.get(ANNOTATION_URI, ""),
                image=annotations.get(ANNOTATION_IMAGE, ""),
                created_at=datetime.fromisoformat(created) if created else None,
                stuck=any(
                    c.get("type") == "Progressing"
                    and c.get("status") == "False"
                    and c.get("reason") == "ProgressDeadlineExceeded"
                    for c in status.get("conditions") or []
                ),
                profile=_mounted_profile(dep),
            )
        return out

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's data, or None when it does not exist."""
        try:
            found = self.call("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        data: dict[str, str] = found.get("data") or {}
        return data

    def data_keys(self, namespace: str, kind: Kind, name: str) -> frozenset[str] | None:
        """The keys of a referenced object (none for claims and accounts); None when it does
        not exist; UNCHECKED when the operator may not read it (its RBAC lacks the kind)."""
        try:
            found = self.call("GET", f"/api/v1/namespaces/{namespace}/{REFERENCED[kind]}/{name}")
        except ApiException as err:
            if err.status == 404:
                return None
            if err.status == 403:
                return UNCHECKED
            raise
        return frozenset({**(found.get("data") or {}), **(found.get("binaryData") or {})})

    def require_kinds(self, kinds: Iterable[str]) -> None:
        """Raise MissingKindError for the first kind the cluster does not serve, before
        anything is written (a refused strategy creates nothing)."""
        for kind in sorted(set(kinds)):
            access = KINDS[kind]
            if access.api_version in BUILT_IN:
                continue
            missing_since = self._served.get(kind, 0.0)
            if missing_since is None:
                continue
            if missing_since and time.monotonic() - missing_since < MISSING_KIND_RECHECK_SECONDS:
                raise MissingKindError(f"the cluster does not serve {access.api_version} {kind}")
            try:
                listed = self.call("GET", access.base)
            except ApiException as err:
                if err.status != 404:
                    raise
                listed = {}
            served = any(r.get("kind") == kind for r in listed.get("resources") or [])
            self._served[kind] = None if served else time.monotonic()
            if not served:
                raise MissingKindError(f"the cluster does not serve {access.api_version} {kind}")

    def autoscaled_replicas(self, namespace: str, name: str) -> int | None:
        try:
            hpa = self.call("GET", self._path("HorizontalPodAutoscaler", namespace, name))
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        desired = (hpa.get("status") or {}).get("desiredReplicas")
        return int(desired) if desired is not None else None

    # --- Deployments --------------------------------------------------------------------
    def create_deployment(self, manifest: Mapping[str, Any]) -> None:
        meta = manifest["metadata"]
        self._wrote("create")
        try:
            with refusals("Deployment", meta["name"]):
                self.call("POST", self._path("Deployment", meta["namespace"]), body=dict(manifest))
        except ApiException as err:
            if err.status != 409:  # already there: a restart raced a watch event
                raise

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self._wrote("patch")
        with refusals("Deployment", name):
            self.call(
                "PATCH",
                self._path("Deployment", namespace, name),
                body={"spec": {"replicas": replicas}},
                content_type=MERGE_PATCH,
            )

    def delete_deployment(self, namespace: str, name: str) -> None:
        self._wrote("delete")
        try:
            self.call("DELETE", self._path("Deployment", namespace, name))
        except ApiException as err:
            if err.status != 404:
                raise

    # --- other children -----------------------------------------------------------------
    def ensure(self, manifest: Mapping[str, Any], verify: bool = False) -> bool:
        """Create the object, or update it when its content hash differs; True if written.

        Hashes this process wrote or saw are remembered, so a converged object costs no
        request at all; `verify` reads the live object anyway (the periodic resync, which
        also repairs a child someone deleted or edited)."""
        meta = manifest["metadata"]
        kind, namespace, name = manifest["kind"], meta["namespace"], meta["name"]
        owner = (namespace, meta["labels"][LABEL_MD])
        key, want = (kind, name), meta["annotations"][ANNOTATION_HASH]
        known = self._known_for(owner)
        if not verify and known.get(key) == want:
            return False
        changes = self._changes_of(owner, key)  # a change seen while this runs: read again
        if key not in known and not verify and self._create(kind, manifest):
            self._settle(owner, key, want, changes)
            return True
        try:
            live = self.call("GET", self._path(kind, namespace, name))
        except ApiException as err:
            if err.status != 404:
                raise
            self._create(kind, manifest, exists_ok=False)
            self._settle(owner, key, want, changes)
            return True
        patch = restore_patch(manifest, live, ANNOTATION_HASH)
        if patch is not None:
            self._wrote("patch")
            with refusals(kind, name):
                written = self.call(
                    "PATCH", self._path(kind, namespace, name), body=patch, content_type=MERGE_PATCH
                )
            self._remember_written(kind, namespace, owner[1], name, written)
        self._settle(owner, key, want, changes)
        return patch is not None

    def _changes_of(self, owner: Owner, key: tuple[str, str]) -> int:
        with self._lock:
            return self._changes.get(owner, {}).get(key, 0)

    def _settle(self, owner: Owner, key: tuple[str, str], want: str, changes: int) -> None:
        """Remember the child's content as `want`, unless someone changed it meanwhile."""
        with self._lock:
            if self._changes.get(owner, {}).get(key, 0) == changes:
                self._known.setdefault(owner, {})[key] = want

    def _remember_written(
        self, kind: str, namespace: str, md_name: str, name: str, written: Any
    ) -> None:
        meta = (written or {}).get("metadata") or {}
        seen = Seen(str(meta.get("resourceVersion")), meta.get("generation"))
        with self._lock:
            self._written.setdefault((namespace, md_name), {})[(kind, name)] = seen

    def child_changed(
        self,
        kind: str,
        namespace: str,
        md_name: str,
        name: str,
        meta: Mapping[str, Any],
        deleted: bool = False,
    ) -> bool:
        """A watched child changed (`meta`: its metadata in the watch event). True, with its
        content marked unknown so the owner's next pass reads the live object (no create
        first) and restores it, when it is someone else's change (`foreign_change`); owners
        nothing is remembered of are left alone (their next pass reads every child)."""
        key = (kind, name)
        version, generation = str(meta.get("resourceVersion")), meta.get("generation")
        with self._lock:
            owner = (namespace, md_name)
            if owner not in self._known and owner not in self._wanted:
                return False
            seen = self._written.get(owner, {}).get(key)
            wanted = key in self._wanted.get(owner, {key})
            if not foreign_change(seen, version, generation, deleted, wanted):
                if seen is not None and not deleted:  # a status write: its version is known now
                    self._written[owner][key] = Seen(version, generation)
                return False
            self._known.setdefault(owner, {})[key] = UNKNOWN_CONTENT
            changes = self._changes.setdefault(owner, {})
            changes[key] = changes.get(key, 0) + 1
        return True

    def _known_for(self, owner: Owner) -> dict[tuple[str, str], str]:
        with self._lock:
            return self._known.setdefault(owner, {})

    def _create(self, kind: str, manifest: Mapping[str, Any], exists_ok: bool = True) -> bool:
        """POST the object; False when it exists already (and `exists_ok`)."""
        self._wrote("create")
        meta = manifest["metadata"]
        try:
            with refusals(kind, meta["name"]):
                written = self.call(
                    "POST", self._path(kind, meta["namespace"]), body=dict(manifest)
                )
        except ApiException as err:
            if err.status == 409 and exists_ok:
                return False
            if err.status == 404:
                raise MissingKindError(
                    f"the cluster does not serve {KINDS[kind].api_version} {kind}"
                ) from err
            raise
        labels = meta.get("labels") or {}
        if LABEL_MD in labels:
            self._remember_written(kind, meta["namespace"], labels[LABEL_MD], meta["name"], written)
        return True

    def remove_stale(
        self,
        namespace: str,
        md_name: str,
        wanted: Iterable[Mapping[str, Any]],
        kinds: Iterable[str],
        verify: bool = False,
    ) -> None:
        """Delete children of these kinds that the plan no longer wants (e.g. an HPA after
        autoscaling was removed): those this process created and no longer wants, or, when
        it has no memory of the object or `verify`, every labelled one it does not want."""
        keep = {(m["kind"], m["metadata"]["name"]) for m in wanted}
        owner = (namespace, md_name)
        with self._lock:
            previous = self._wanted.get(owner)
            self._wanted[owner] = keep
        if previous is not None and not verify:
            for kind, name in previous - keep:
                self._delete(kind, owner, name)
            return
        for kind in kinds:
            try:
                listed = self.call(
                    "GET",
                    self._path(kind, namespace),
                    query=[("labelSelector", f"{LABEL_MD}={md_name}")],
                )
            except ApiException as err:
                if err.status == 404:  # the kind is not installed (e.g. no Gateway API)
                    continue
                raise
            for item in listed.get("items", []):
                if (kind, item["metadata"]["name"]) not in keep:
                    self._delete(kind, owner, item["metadata"]["name"])

    def remember_new(self, namespace: str, md_name: str) -> None:
        """A ModelDeployment seen for the first time has no children yet: nothing to list."""
        with self._lock:
            self._wanted.setdefault((namespace, md_name), set())

    def forget(self, namespace: str, md_name: str) -> None:
        """Drop what is remembered of exactly this ModelDeployment's children (deleted, or
        the periodic resync); other objects' entries are untouched."""
        with self._lock:
            self._wanted.pop((namespace, md_name), None)
            self._known.pop((namespace, md_name), None)
            self._written.pop((namespace, md_name), None)
            self._changes.pop((namespace, md_name), None)

    def _delete(self, kind: str, owner: Owner, name: str) -> None:
        self._wrote("delete")
        self._known_for(owner).pop((kind, name), None)
        try:
            self.call("DELETE", self._path(kind, owner[0], name))
        except ApiException as err:
            if err.status != 404:
                raise

    # --- the operator's own objects ------------------------------------------------------
    @staticmethod
    def _own_path(resource: Resource, namespace: str, name: str) -> str:
        return f"/apis/{API_VERSION}/namespaces/{namespace}/{resource.plural}/{name}"

    def patch_status(
        self, resource: Resource, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str:
        """Merge-patch the status subresource; returns the object's new resourceVersion."""
        self._wrote("patch-status")
        patched = self.call(
            "PATCH",
            self._own_path(resource, namespace, name) + "/status",
            body={"status": dict(status)},
            content_type=MERGE_PATCH,
        )
        return str(patched["metadata"]["resourceVersion"])

    def read(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        """A fresh copy of one of our objects (when the watch has not caught up yet)."""
        found: dict[str, Any] = self.call("GET", self._own_path(resource, namespace, name))
        return found

    def secret_value(self, namespace: str, name: str, key: str) -> str:
        """One key of a Secret, decoded as text."""
        try:
            secret = self.call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except ApiException as err:
            # The exception's text carries headers and body; the status says what matters.
            what = "does not exist" if err.status == 404 else f"cannot be read: HTTP {err.status}"
            raise SecretUnreadableError(f"Secret {name} {what}") from err
        except Exception as err:
            raise SecretUnreadableError(f"cannot read Secret {name}: {err}") from err
        data = (secret.get("data") or {}).get(key)
        if data is None:
            raise SecretUnreadableError(f"Secret {name} has no key {key}")
        return base64.b64decode(data).decode()

    def crd(self, name: str) -> Mapping[str, Any] | None:
        """A CustomResourceDefinition by name, or None when it does not exist."""
        try:
            found: Mapping[str, Any] = self.call(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return found

    def post_event(self, md: Mapping[str, Any], event: PlannedEvent) -> None:
        for listener in self._event_listeners:
            listener(md, event)
        meta = md["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._wrote("event")
        self.call(
            "POST",
            f"/api/v1/namespaces/{meta['namespace']}/events",
            body={
                "metadata": {"generateName": f"{meta['name']}."},
                "involvedObject": {
                    "apiVersion": md.get("apiVersion"),
                    "kind": md.get("kind"),
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid"),
                },
                "reason": event.reason,
                "message": event.message[:1024],
                "type": event.type,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "source": {"component": "modelship"},
                "reportingComponent": "modelship",
                "reportingInstance": "modelship",
            },
        )
