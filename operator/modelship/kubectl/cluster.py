"""The plugin's one connection to the API server (the `kubernetes` client): kubeconfig and
context as kubectl reads them, the objects as plain dicts, annotation patches, and watches
that say when something changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from modelship.api.resources import GROUP, VERSION
from modelship.kubectl.actions import Patch
from modelship.kubectl.exitcodes import CommandError, ExitCode
from modelship.kubectl.rollout_view import Snapshot
from modelship.rollout.objects import LABEL_MD

Obj = dict[str, Any]
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
KINDS = {
    "modeldeployments": "modeldeployment",
    "driftmonitors": "driftmonitor",
    "retrainpolicies": "retrainpolicy",
}


@contextmanager
def api_errors(what: str) -> Iterator[None]:
    """The client's failures as CommandErrors that say what was being done."""
    try:
        yield
    except ApiException as err:
        if err.status == 404:
            raise CommandError(ExitCode.NOT_FOUND, f"{what}: not found") from None
        reason = err.reason or ""
        raise CommandError(ExitCode.API_ERROR, f"{what}: {err.status} {reason}".strip()) from None
    except (urllib3.exceptions.HTTPError, OSError) as err:
        raise CommandError(
            ExitCode.API_ERROR, f"{what}: cannot reach the API server ({type(err).__name__}: {err})"
        ) from None


def _context_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    chosen = next((c for c in contexts if c["name"] == context), None) if context else active
    if chosen is None:
        raise CommandError(ExitCode.USAGE, f"context {context!r} is not in the kubeconfig")
    return str((chosen.get("context") or {}).get("namespace") or "") or None


class Cluster:
    """The API server, with the namespace commands default to."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
        try:
            self.api: client.ApiClient = config.new_client_from_config(
                config_file=kubeconfig, context=context
            )
            default = _context_namespace(kubeconfig, context)
        except ConfigException as err:
            if kubeconfig or context or not IN_CLUSTER_NAMESPACE.exists():
                raise CommandError(ExitCode.API_ERROR, f"kubeconfig: {err}") from None
            config.load_incluster_config()
            self.api = client.ApiClient()
            default = IN_CLUSTER_NAMESPACE.read_text().strip()
        self.namespace: str = namespace or default or "default"
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def _dict(self, obj: Any) -> Obj:
        return dict(self.api.sanitize_for_serialization(obj))

    def get(self, plural: str, name: str) -> Obj:
        with api_errors(f"{KINDS[plural]} '{name}' in namespace {self.namespace}"):
            found = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
        return cast(Obj, found)

    def objects(self, plural: str, all_namespaces: bool = False) -> list[Obj]:
        where = "all namespaces" if all_namespaces else f"namespace {self.namespace}"
        with api_errors(f"listing {plural} in {where}"):
            if all_namespaces:
                listed = self.custom.list_cluster_custom_object(GROUP, VERSION, plural)
            else:
                listed = self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural
                )
        return [dict(item) for item in cast(Obj, listed).get("items") or []]

    def annotate(self, patch: Patch) -> Obj:
        """Set (or remove, for None) the patch's annotations with a merge patch."""
        body = {"metadata": {"annotations": dict(patch.annotations)}}
        with api_errors(f"annotating {KINDS[patch.plural]} '{patch.name}'"):
            patched = self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                patch.plural,
                patch.name,
                body,
                _content_type="application/merge-patch+json",
            )
        return cast(Obj, patched)

    def deployments(self, name: str) -> list[Obj]:
        with api_errors(f"listing the Deployments of modeldeployment '{name}'"):
            listed = self.apps.list_namespaced_deployment(
                self.namespace, label_selector=f"{LABEL_MD}={name}"
            )
        return [self._dict(item) for item in listed.items]

    def pods(self, name: str) -> list[Obj]:
        with api_errors(f"listing the pods of modeldeployment '{name}'"):
            listed = self.core.list_namespaced_pod(
                self.namespace, label_selector=f"{LABEL_MD}={name}"
            )
        return [self._dict(item) for item in listed.items]

    def snapshot(self, name: str) -> Snapshot:
        """A ModelDeployment and everything `get` shows around it."""
        md = self.get("modeldeployments", name)

        def refers(obj: Mapping[str, Any]) -> bool:
            return (obj.get("spec") or {}).get("modelDeploymentRef") == name

        return Snapshot(
            model_deployment=md,
            deployments=self.deployments(name),
            pods=self.pods(name),
            monitors=[m for m in self.objects("driftmonitors") if refers(m)],
            policies=[p for p in self.objects("retrainpolicies") if refers(p)],
        )

    # --- watches ----------------------------------------------------------------------------

    def follow(self, name: str, changed: threading.Event, stop: threading.Event) -> None:
        """Set `changed` whenever the ModelDeployment, its Deployments or its pods change,
        from watches in daemon threads, until `stop` is set."""
        by_label = {"label_selector": f"{LABEL_MD}={name}"}
        sources: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, str]]] = [
            (
                self.custom.list_namespaced_custom_object,
                (GROUP, VERSION, self.namespace, "modeldeployments"),
                {"field_selector": f"metadata.name={name}"},
            ),
            (self.apps.list_namespaced_deployment, (self.namespace,), by_label),
            (self.core.list_namespaced_pod, (self.namespace,), by_label),
        ]
        for list_fn, args, selector in sources:
            thread = threading.Thread(
                target=self._watch, args=(list_fn, args, selector, changed, stop), daemon=True
            )
            thread.start()

    def _watch(
        self,
        list_fn: Callable[..., Any],
        args: tuple[Any, ...],
        selector: dict[str, str],
        changed: threading.Event,
        stop: threading.Event,
    ) -> None:
        while not stop.is_set():
            stream = watch.Watch()
            try:
                for _ in stream.stream(list_fn, *args, timeout_seconds=30, **selector):
                    changed.set()
                    if stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - a broken watch is re-opened; reads report errors
                stop.wait(2)
            finally:
                stream.stop()

    def wait_for_change(self, plural: str, obj: Mapping[str, Any], seconds: float) -> None:
        """Return when `obj` (as last read) changes, or after about `seconds`: a watch from
        its resourceVersion, so nothing is polled and no change is missed."""
        meta = obj.get("metadata") or {}
        stream = watch.Watch()
        try:
            for _ in stream.stream(
                self.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                plural,
                field_selector=f"metadata.name={meta.get('name')}",
                resource_version=meta.get("resourceVersion"),
                timeout_seconds=max(int(seconds), 1),
            ):
                return
        except Exception:  # noqa: BLE001 - e.g. 410 Gone: the caller re-reads anyway
            time.sleep(min(seconds, 1.0))
        finally:
            stream.stop()
