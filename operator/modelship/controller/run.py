"""`modelship operator`: parse settings, set up logging, run kopf with our registry."""

from __future__ import annotations

import contextlib
import os
import sys

import kopf
import structlog

from modelship import __version__
from modelship import logging as mslogging
from modelship.adapters.kubernetes import NoClusterError
from modelship.adapters.notifications import NotificationsConfigError
from modelship.controller import kopf_fixes, registration, startup
from modelship.controller.settings import OperatorConfig, parse


def build_registry(config: OperatorConfig) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    # Log in as the kubernetes client does: $KUBECONFIG, ~/.kube/config or the pod's account.
    kopf.on.login(registry=registry)(kopf.login_via_client)
    registration.register(registry, config)
    return registry


def main(argv: list[str]) -> int:
    config = parse(argv, os.environ)
    mslogging.configure(config.log_level, config.log_format)
    log = structlog.get_logger("modelship.operator")
    log.info(
        "starting",
        version=__version__,
        namespaces=list(config.namespaces) or "all",
        peering=config.peering or "standalone",
        prometheus_url=config.prometheus_url,
    )
    liveness = f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None
    try:
        registry = build_registry(config)
    except (NoClusterError, NotificationsConfigError) as err:
        log.error("cannot start", error=str(err))
        print(f"modelship operator: {err}", file=sys.stderr)
        return 1
    kopf_fixes.watch_namespaces_until_gone()
    with contextlib.suppress(KeyboardInterrupt):
        kopf.run(
            registry=registry,
            settings=startup.kopf_settings(),
            standalone=config.standalone,
            peering_name=config.peering,
            priority=config.peering_priority,
            clusterwide=config.clusterwide,
            namespaces=list(config.namespaces),
            liveness_endpoint=liveness,
        )
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
