"""kopf wiring for ModelDeployment rollouts: one daemon per object, woken by events.

The daemon is the only writer of a ModelDeployment's status and children, so reconciles of
one object never overlap. It wakes when the object changes (spec, annotations), when one of
its Deployments changes (pods became ready), and when the plan's clock says so.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import client, config

from modelship.api.resources import GROUP, MODEL_DEPLOYMENT, VERSION
from modelship.controller.analysis import PrometheusAnalysis
from modelship.controller.children import ChildrenAdapter
from modelship.controller.rollouts import RolloutDriver, RolloutReconciler
from modelship.controller.settings import OperatorConfig
from modelship.rollout.objects import LABEL_MD

# Reconciles run the blocking Kubernetes client in threads; enough of them that a thousand
# ModelDeployments converge quickly, few enough to stay small.
WORKER_THREADS = 16


class NoClusterError(RuntimeError):
    """Neither a kubeconfig nor an in-cluster service account is available."""


def api_client(pool_size: int = WORKER_THREADS) -> client.ApiClient:
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


def register(registry: kopf.OperatorRegistry, settings: OperatorConfig) -> RolloutDriver:
    adapter = ChildrenAdapter(api_client())
    analysis = PrometheusAnalysis(adapter, settings.prometheus_url)
    driver = RolloutDriver(RolloutReconciler(adapter, analysis, settings.server_image))
    resource = (GROUP, VERSION, MODEL_DEPLOYMENT.plural)

    @kopf.on.startup(registry=registry)
    async def size_thread_pool(**_: Any) -> None:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="reconcile")
        )

    @kopf.daemon(*resource, registry=registry, id="rollout", cancellation_timeout=10.0)
    async def rollout(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
        await driver.run(body, stopped)

    @kopf.on.event(*resource, registry=registry, id="wake-on-change")
    def wake_on_change(namespace: str | None, name: str | None, meta: kopf.Meta, **_: Any) -> None:
        # The echo of our own status write changes nothing the plan reads: no pass (and
        # no reads) for it.
        if (
            namespace
            and name
            and not driver.reconciler.own_write(namespace, name, meta.get("resourceVersion"))
        ):
            driver.wake(namespace, name)

    @kopf.on.event(
        "apps",
        "v1",
        "deployments",
        registry=registry,
        id="wake-owner",
        labels={LABEL_MD: kopf.PRESENT},
    )
    def wake_owner(namespace: str | None, labels: kopf.Labels, **_: Any) -> None:
        owner = labels.get(LABEL_MD)
        if namespace and owner:
            driver.wake(namespace, owner)

    return driver
