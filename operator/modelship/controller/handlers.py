"""kopf handlers, registered on an explicit registry. Each is a one-liner over `reconcile`.

Writes happen only through kopf's patch, and only when the planned status differs, so an
idle object is never written. References between objects are resolved from in-memory kopf
indexes, never by reading the API. When a referenced object appears or disappears, the
objects that refer to it are re-planned at once (a DriftMonitor created before its
ModelDeployment turns Ready when the ModelDeployment is created). No timers, hence no
finalizers: deleting a resource never waits for the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from modelship.api.resources import (
    DRIFT_MONITOR,
    GROUP,
    KINDS_BY_NAME,
    MODEL_DEPLOYMENT,
    RETRAIN_POLICY,
    VERSION,
    Kind,
)
from modelship.controller import kube, metrics
from modelship.controller.reconcile import reconcile
from modelship.controller.settings import OperatorConfig
from modelship.planners.assessment import Existing

NAME_INDEXES = {
    MODEL_DEPLOYMENT.kind: "modeldeployment_names",
    DRIFT_MONITOR.kind: "driftmonitor_names",
}
# One referrers index per referring kind (kopf index ids are unique per operator).
REFERRERS_INDEXES = {
    DRIFT_MONITOR.kind: "driftmonitor_referrers",
    RETRAIN_POLICY.kind: "retrainpolicy_referrers",
}


def _names(index: Any, namespace: str | None) -> frozenset[str]:
    """Names in one namespace of a kopf index keyed by namespace."""
    return frozenset(index.get(namespace, ())) if index is not None else frozenset()


def existing_in(namespace: str | None, indexes: Mapping[str, Any]) -> Existing:
    return Existing(
        model_deployments=_names(indexes.get(NAME_INDEXES[MODEL_DEPLOYMENT.kind]), namespace),
        drift_monitors=_names(indexes.get(NAME_INDEXES[DRIFT_MONITOR.kind]), namespace),
    )


def references(kind: str, spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every object an object of `kind` refers to."""
    refs: list[tuple[str, str]] = []
    if kind in (DRIFT_MONITOR.kind, RETRAIN_POLICY.kind) and spec.get("modelDeploymentRef"):
        refs.append((MODEL_DEPLOYMENT.kind, str(spec["modelDeploymentRef"])))
    if kind == RETRAIN_POLICY.kind:
        triggers = spec.get("triggers") or {}
        for trigger in ("drift", "performance"):
            ref = (triggers.get(trigger) or {}).get("driftMonitorRef")
            if ref:
                refs.append((DRIFT_MONITOR.kind, str(ref)))
    return refs


def _name_index(namespace: str | None, name: str, **_: Any) -> dict[str | None, str]:
    return {namespace: name}


def _referrers_index(
    body: kopf.Body, namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[tuple[str | None, str, str], dict[str, Any]]:
    """(namespace, referenced kind, referenced name) -> the referring object's latest body."""
    kind = str(body.get("kind"))
    return {(namespace, ref_kind, ref): dict(body) for ref_kind, ref in references(kind, spec)}


def _on_change(kind: Kind) -> Any:
    async def reconcile_object(
        body: kopf.Body, patch: kopf.Patch, namespace: str | None, reason: str, **indexes: Any
    ) -> None:
        reconcile(kind, body, patch, existing_in(namespace, indexes), trigger=str(reason))

    return reconcile_object


def _on_referenced(kind: Kind, writer: kube.StatusWriter) -> Any:
    async def recheck_referrers(
        type: str | None, namespace: str | None, name: str, **indexes: Any
    ) -> None:
        # Existence changes only on ADDED and DELETED; the initial listing (type None) is
        # covered by the referrers' own resume handlers.
        if type not in ("ADDED", "DELETED"):
            return
        key = (namespace, kind.kind, name)
        referrers: list[Mapping[str, Any]] = []
        for index_id in REFERRERS_INDEXES.values():
            referrers.extend(indexes[index_id].get(key, ()))
        existing = existing_in(namespace, indexes)
        for referrer in referrers:
            referrer_kind = KINDS_BY_NAME[str(referrer.get("kind"))]
            status_patch: dict[str, Any] = {}
            trigger = f"{kind.kind} {name} {type.lower()}"
            reconcile(referrer_kind, referrer, status_patch, existing, trigger=trigger)
            if status_patch:
                await writer.patch_status(referrer_kind, referrer, status_patch["status"])

    return recheck_referrers


def register(
    registry: kopf.OperatorRegistry, config: OperatorConfig, writer: kube.StatusWriter
) -> None:
    """Register every handler of the operator on `registry`."""
    # ModelDeployments are reconciled by their rollout daemon (controller.rollout_handlers).
    for kind in (DRIFT_MONITOR, RETRAIN_POLICY):
        resource = (GROUP, VERSION, kind.plural)
        handler = _on_change(kind)
        # One handler for the three causes: the reconcile pass is idempotent.
        kopf.on.resume(*resource, registry=registry, id="reconcile")(handler)
        kopf.on.create(*resource, registry=registry, id="reconcile")(handler)
        kopf.on.update(*resource, registry=registry, id="reconcile")(handler)

    for kind_name, index_id in NAME_INDEXES.items():
        kind = KINDS_BY_NAME[kind_name]
        kopf.index(GROUP, VERSION, kind.plural, registry=registry, id=index_id)(_name_index)
        kopf.on.event(GROUP, VERSION, kind.plural, registry=registry, id="recheck-referrers")(
            _on_referenced(kind, writer)
        )
    for kind_name, index_id in REFERRERS_INDEXES.items():
        kind = KINDS_BY_NAME[kind_name]
        kopf.index(GROUP, VERSION, kind.plural, registry=registry, id=index_id)(_referrers_index)

    if config.metrics_port:

        @kopf.on.startup(registry=registry)
        def serve_metrics(**_: Any) -> None:
            metrics.serve(config.metrics_port)


def kopf_settings() -> kopf.OperatorSettings:
    """kopf's settings: our annotation prefix, our Event source, no log-to-Event noise."""
    settings = kopf.OperatorSettings()
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.enabled = True
    settings.posting.loggers = False  # Events come from transitions only, not from log lines
    settings.posting.reporting_component = "modelship"
    settings.posting.event_name_prefix = "modelship-"
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    # A bug in a handler is retried with back-off, never in a hot loop.
    settings.execution.default_backoff = 30
    return settings
