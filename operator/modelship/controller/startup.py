"""What the operator checks as it starts: its ports are free, its CRDs are installed; and
kopf's settings. A port in use exits at once with the flag to change; missing CRDs are named
until they appear (kopf serves each kind as soon as its CRD does, no restart needed).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf
import structlog

from modelship import metrics
from modelship.api.resources import GROUP, KINDS_BY_NAME
from modelship.controller.settings import OperatorConfig

log = structlog.get_logger("modelship.operator")

CRD_INSTALL_COMMAND = "kubectl apply --server-side -f crds/"
CRD_RECHECK_SECONDS = 30.0
PEERING_GROUP = "kopf.dev"


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
