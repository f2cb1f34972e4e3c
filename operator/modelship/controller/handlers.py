"""kopf handlers, registered on an explicit registry. Each is a one-liner over `reconcile`.

Writes happen only through kopf's patch, and only when the planned status differs, so an
idle object is never written. References between objects are resolved from in-memory kopf
indexes, never by reading the API. When a referenced object appears or disappears, the
objects that refer to it are re-planned at once (a DriftMonitor created before its
ModelDeployment turns Ready when the ModelDeployment is created). No timers, hence no
finalizers: deleting a resource never waits for the operator.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf
import structlog

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

log = structlog.get_logger("modelship.operator")

CRD_INSTALL_COMMAND = "kubectl apply --server-side -f crds/"
CRD_RECHECK_SECONDS = 30.0
PEERING_GROUP = "kopf.dev"

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
    """Register every handler of the operator on `registry`, after claiming its ports."""
    claim_ports(config)
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

    @kopf.on.startup(registry=registry)
    async def check_crds(memo: kopf.Memo, **_: Any) -> None:
        # Report at once, then keep looking in the background: kopf serves each kind as soon
        # as its CRD appears, so the operator need not restart.
        memo["crd_check"] = asyncio.create_task(
            watch_crds(required_crds(config), _crd_reader(), CRD_RECHECK_SECONDS)
        )

    @kopf.on.cleanup(registry=registry)
    async def stop_crd_check(memo: kopf.Memo, **_: Any) -> None:
        task = memo.get("crd_check")
        if task is not None:
            task.cancel()


def claim_ports(config: OperatorConfig) -> None:
    """Serve /metrics, and check that the health port is free, before anything else starts.

    A port in use is a mistake to fix, not something to retry: exit with a message naming
    the flag, before any reconcile (run.main builds the registry, and with it this, before it
    starts kopf). kopf binds the health port itself once it runs.
    """
    for port, flag, env in (
        (config.metrics_port, "--metrics-port", "MODELSHIP_METRICS_PORT"),
        (config.health_port, "--health-port", "MODELSHIP_HEALTH_PORT"),
    ):
        if not port:
            continue
        try:
            if flag == "--metrics-port":
                metrics.serve(port)
            else:
                _check_free(port)
        except OSError as err:
            reason = (
                "is in use"
                if err.errno == errno.EADDRINUSE
                else f"cannot be opened ({err.strerror or err})"
            )
            message = f"port {port} {reason}; choose another with {flag} / {env}"
            log.error("cannot start", error=message)
            raise SystemExit(f"modelship operator: {message}") from None


def _check_free(port: int) -> None:
    """Raise OSError unless `port` can be bound on every interface (as kopf's server does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("0.0.0.0", port))


def required_crds(config: OperatorConfig) -> list[str]:
    """The CRDs this operator needs: its three kinds, and kopf's peering kind when peering."""
    names = [kind.crd_name for kind in KINDS_BY_NAME.values()]
    if config.peering:
        plural = "clusterkopfpeerings" if config.clusterwide else "kopfpeerings"
        names.append(f"{plural}.{PEERING_GROUP}")
    return names


CRDReader = Callable[[str], Mapping[str, Any] | None]
"""Reads a CRD by name: its body, or None when it does not exist."""


def missing_crds(names: Sequence[str], read: CRDReader) -> list[str]:
    """The CRDs of `names` that are absent or not yet Established."""
    missing = []
    for name in names:
        crd = read(name)
        conditions = ((crd or {}).get("status") or {}).get("conditions") or []
        established = any(
            c.get("type") == "Established" and c.get("status") == "True" for c in conditions
        )
        if not established:
            missing.append(name)
    return missing


async def watch_crds(names: Sequence[str], read: CRDReader, interval: float) -> None:
    """Log the missing CRDs (error level, each by name, with the command that installs them)
    every `interval` seconds until they are all there, then say so once."""
    reported = False
    while True:
        try:
            missing = await asyncio.to_thread(missing_crds, names, read)
        except Exception as err:  # noqa: BLE001 - the API may be briefly unreachable
            if getattr(err, "status", None) == 403:
                log.warning("cannot check the CRDs: forbidden", error=str(err).strip())
                return
            log.warning("cannot check the CRDs", error=str(err), retry_in_seconds=interval)
        else:
            if not missing:
                if reported:
                    log.info("CRDs installed", crds=list(names))
                return
            reported = True
            log.error(
                "CRDs not installed; waiting for them",
                missing=missing,
                install=CRD_INSTALL_COMMAND,
                retry_in_seconds=interval,
            )
        await asyncio.sleep(interval)


def _crd_reader() -> CRDReader:
    """Reads CRDs with the operator's own Kubernetes configuration."""
    from kubernetes import client

    from modelship.controller.rollout_handlers import api_client

    api = client.ApiextensionsV1Api(api_client(pool_size=1))

    def read(name: str) -> Mapping[str, Any] | None:
        try:
            crd = api.read_custom_resource_definition(name)
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise
        body: Mapping[str, Any] = api.api_client.sanitize_for_serialization(crd)
        return body

    return read


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
