"""kopf wiring for the three kinds, in one place: one worker per object, woken by events.

Every kind runs the same way (`runtime.worker`): a kopf daemon per object runs its worker,
which is the only writer of the object's status (and, for a ModelDeployment, its children),
so reconciles of one object never overlap. A worker wakes when its object changes (not on the
echo of its own status write), when a child Deployment changes, when an object it refers to
appears or disappears, and when its plan's clock says so.

References between objects are resolved from in-memory kopf indexes, never by reading the
API; kopf fills the indexes before any daemon starts, so a restart never reports a reference
missing that exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from modelship.adapters.kubernetes import (
    KINDS,
    WATCHED_CHILD_KINDS,
    KubernetesAdapter,
    api_client,
)
from modelship.adapters.notifications import Notifier, load_config
from modelship.adapters.prometheus import PrometheusConnections
from modelship.api.resources import (
    DRIFT_MONITOR,
    GROUP,
    KINDS_BY_NAME,
    MODEL_DEPLOYMENT,
    RETRAIN_POLICY,
    VERSION,
)
from modelship.api.retrainpolicy import PromotionTarget, RetrainPolicySpec
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.controller import startup
from modelship.controller.settings import OperatorConfig
from modelship.controller.sharding import Sharding
from modelship.driftmonitor.reconciler import drift_monitor_reconciler
from modelship.modeldeployment.analysis import PrometheusAnalysis
from modelship.modeldeployment.reconciler import RolloutReconciler
from modelship.planners.assessment import Existing, references
from modelship.retrain.jobs import LABEL_POLICY
from modelship.retrain.promoted import promotion_owner
from modelship.retrainpolicy.reconciler import retrain_policy_reconciler
from modelship.rollout.objects import LABEL_MD
from modelship.runtime.worker import Workers

# Reconciles run the blocking Kubernetes client in threads; enough of them that a thousand
# ModelDeployments converge quickly, few enough to stay small.
WORKER_THREADS = 16

NAME_INDEXES = {
    MODEL_DEPLOYMENT.kind: "modeldeployment_names",
    DRIFT_MONITOR.kind: "driftmonitor_names",
}
# One referrers index per referring kind (kopf index ids are unique per operator).
REFERRERS_INDEXES = {
    DRIFT_MONITOR.kind: "driftmonitor_referrers",
    RETRAIN_POLICY.kind: "retrainpolicy_referrers",
}
# namespace -> (ModelDeployment, creationTimestamp, name) of RetrainPolicies that promote into
# their status (promotionTarget policyStatus): the ModelDeployment follows the oldest.
PROMOTERS_INDEX = "retrainpolicy_status_promoters"


def _names(index: Any, namespace: str | None) -> frozenset[str]:
    """Names in one namespace of a kopf index keyed by namespace."""
    return frozenset(index.get(namespace, ())) if index is not None else frozenset()


def _promotion_owners(index: Any, namespace: str | None) -> dict[str, str]:
    """ModelDeployment -> the RetrainPolicy whose status promotions it serves."""
    by_md: dict[str, list[tuple[str, str]]] = {}
    for md, created, name in index.get(namespace, ()) if index is not None else ():
        by_md.setdefault(md, []).append((created, name))
    owners = {md: promotion_owner(candidates) for md, candidates in by_md.items()}
    return {md: owner for md, owner in owners.items() if owner is not None}


def existing_in(namespace: str | None, indexes: Mapping[str, Any]) -> Existing:
    return Existing(
        model_deployments=_names(indexes.get(NAME_INDEXES[MODEL_DEPLOYMENT.kind]), namespace),
        drift_monitors=_names(indexes.get(NAME_INDEXES[DRIFT_MONITOR.kind]), namespace),
        promotion_owners=_promotion_owners(indexes.get(PROMOTERS_INDEX), namespace),
    )


def status_promotion_target(body: Mapping[str, Any]) -> str | None:
    """The ModelDeployment a RetrainPolicy promotes into its own status for, if it does."""
    try:
        spec = parse_spec(RETRAIN_POLICY, body)
    except InvalidObjectError:
        return None
    if isinstance(spec, RetrainPolicySpec) and (
        spec.promotion_target is PromotionTarget.POLICY_STATUS
    ):
        return spec.model_deployment_ref
    return None


def referenced(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every object this DriftMonitor or RetrainPolicy refers to; none when
    its spec is invalid (it is Stalled on that until its spec changes)."""
    kind = KINDS_BY_NAME.get(str(body.get("kind")))
    if kind is None or kind is MODEL_DEPLOYMENT:
        return []
    try:
        spec: Any = parse_spec(kind, body)
    except InvalidObjectError:
        return []
    return [(ref.kind, ref.name) for ref in references(spec)]


class Indexes:
    """The operator's kopf indexes, as kopf hands them to every handler (live mappings)."""

    def __init__(self) -> None:
        self.live: dict[str, Any] = {}

    def bind(self, kwargs: Mapping[str, Any]) -> None:
        for index_id in (*NAME_INDEXES.values(), *REFERRERS_INDEXES.values(), PROMOTERS_INDEX):
            if index_id in kwargs:
                self.live[index_id] = kwargs[index_id]

    def existing(self, namespace: str) -> Existing:
        return existing_in(namespace, self.live)

    def policies(self, namespace: str, md: str) -> list[str]:
        """The RetrainPolicies that refer to a ModelDeployment."""
        index = self.live.get(REFERRERS_INDEXES[RETRAIN_POLICY.kind])
        found = index.get((namespace, MODEL_DEPLOYMENT.kind, md), ()) if index is not None else ()
        return sorted({name for kind, name in found if kind == RETRAIN_POLICY.kind})


def _name_index(namespace: str | None, name: str, **_: Any) -> dict[str | None, str]:
    return {namespace: name}


def _promoters_index(
    body: kopf.Body, namespace: str | None, name: str, meta: kopf.Meta, **_: Any
) -> dict[str | None, tuple[str, str, str]]:
    md = status_promotion_target(body)
    if md is None:
        return {}
    return {namespace: (md, str(meta.get("creationTimestamp") or ""), name)}


def _referrers_index(
    body: kopf.Body, namespace: str | None, name: str, **_: Any
) -> dict[tuple[str | None, str, str], tuple[str, str]]:
    """(namespace, referenced kind, referenced name) -> (referring kind, referring name)."""
    kind = str(body.get("kind"))
    return {(namespace, ref_kind, ref): (kind, name) for ref_kind, ref in referenced(body)}


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> dict[str, Workers]:
    """Register every handler of the operator on `registry`, after claiming its ports."""
    startup.claim_ports(config)
    adapter = KubernetesAdapter(api_client(WORKER_THREADS))
    # Every Event the operator records may be a notification: queued here, sent by the
    # notifier's own threads, never on a reconcile's time.
    notifier = Notifier(load_config(config.notifications_config), adapter.secret_value,
                        adapter.post_event)  # fmt: skip
    adapter.on_event(notifier.notify)
    connections = PrometheusConnections(
        config.prometheus_url,
        adapter.secret_value,
        config.prometheus_bearer_token_file,
        config.prometheus_ca_file,
    )
    indexes = Indexes()
    workers = {
        MODEL_DEPLOYMENT.kind: Workers(
            MODEL_DEPLOYMENT.kind,
            RolloutReconciler(
                adapter, PrometheusAnalysis(connections), config.server_image, indexes.policies
            ),
        ),
        DRIFT_MONITOR.kind: Workers(
            DRIFT_MONITOR.kind, drift_monitor_reconciler(adapter, connections, indexes.existing)
        ),
        RETRAIN_POLICY.kind: Workers(
            RETRAIN_POLICY.kind, retrain_policy_reconciler(adapter, indexes.existing)
        ),
    }

    @kopf.on.startup(registry=registry)
    async def size_thread_pool(**_: Any) -> None:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="reconcile")
        )

    for kind_name, kind_workers in workers.items():
        _register_kind(
            registry, KINDS_BY_NAME[kind_name].plural, kind_workers, indexes, config.sharding
        )

    # A child changed (a Deployment's pods became ready, a Job finished): wake its owner.
    _wake_owner(registry, ("apps", "v1", "deployments"), LABEL_MD, workers[MODEL_DEPLOYMENT.kind])
    _wake_owner(registry, ("batch", "v1", "jobs"), LABEL_POLICY, workers[RETRAIN_POLICY.kind])
    for kind in WATCHED_CHILD_KINDS:
        _wake_on_hand_edits(registry, kind, adapter, workers[MODEL_DEPLOYMENT.kind])

    for kind_name, index_id in NAME_INDEXES.items():
        plural = KINDS_BY_NAME[kind_name].plural
        kopf.index(GROUP, VERSION, plural, registry=registry, id=index_id)(_name_index)
        kopf.on.event(GROUP, VERSION, plural, registry=registry, id="wake-referrers")(
            _wake_referrers(kind_name, workers)
        )
    for kind_name, index_id in REFERRERS_INDEXES.items():
        plural = KINDS_BY_NAME[kind_name].plural
        kopf.index(GROUP, VERSION, plural, registry=registry, id=index_id)(_referrers_index)
    policies = (GROUP, VERSION, RETRAIN_POLICY.plural)
    kopf.index(*policies, registry=registry, id=PROMOTERS_INDEX)(_promoters_index)
    kopf.on.event(*policies, registry=registry, id="wake-promotion-targets")(
        _wake_promotion_targets(workers)
    )

    @kopf.on.startup(registry=registry)
    async def check_crds(memo: kopf.Memo, **_: Any) -> None:
        # Report at once, then keep looking in the background.
        memo["crd_check"] = asyncio.create_task(
            startup.watch_crds(
                startup.required_crds(config), adapter.crd, startup.CRD_RECHECK_SECONDS
            )
        )

    @kopf.on.cleanup(registry=registry)
    async def stop_background(memo: kopf.Memo, **_: Any) -> None:
        task = memo.get("crd_check")
        if task is not None:
            task.cancel()
        connections.close()
        # Deliveries still queued are lost (docs/operating.md); a hung POST is not waited out.
        await asyncio.to_thread(notifier.close, 1.0)

    return workers


def _register_kind(
    registry: kopf.OperatorRegistry,
    plural: str,
    workers: Workers,
    indexes: Indexes,
    sharding: Sharding,
) -> None:
    resource = (GROUP, VERSION, plural)

    # Sharded: a worker (the one writer of an object's status and children) only for the
    # objects this shard owns; kopf stops it when the object's key moves to another shard.
    def owned(namespace: str | None, labels: kopf.Labels, **_: Any) -> bool:
        return sharding.owns(namespace, labels)

    when = owned if sharding.sharded else None

    @kopf.daemon(*resource, registry=registry, id="reconcile", cancellation_timeout=10.0,
                 when=when)  # fmt: skip
    async def reconcile(body: kopf.Body, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
        indexes.bind(kwargs)
        await workers.run(body, stopped)

    @kopf.on.event(*resource, registry=registry, id="wake-on-change", when=when)
    def wake_on_change(namespace: str | None, name: str | None, meta: kopf.Meta, **_: Any) -> None:
        workers.changed(namespace, name, meta.get("resourceVersion"))


def _wake_owner(
    registry: kopf.OperatorRegistry, resource: tuple[str, str, str], label: str, owners: Workers
) -> None:
    """Wake the worker named by `label` on every change of a labelled child."""

    def wake(namespace: str | None, labels: kopf.Labels, **_: Any) -> None:
        owner = labels.get(label)
        if namespace and owner:
            owners.wake(namespace, owner)

    kopf.on.event(*resource, registry=registry, id=f"wake-{resource[2]}-owner",
                  labels={label: kopf.PRESENT})(wake)  # fmt: skip


def _wake_on_hand_edits(
    registry: kopf.OperatorRegistry, kind: str, adapter: KubernetesAdapter, owners: Workers
) -> None:
    """Wake a ModelDeployment when one of its children of `kind` is edited or deleted by
    someone else, so it is restored at once; the echoes of the operator's own writes, and
    the listing at start (every child is compared on the first pass anyway), wake nothing."""
    access = KINDS[kind]

    # A coroutine: kopf runs it on its event loop, where waking a worker is safe.
    async def changed(
        type: str | None, namespace: str | None, name: str | None, labels: kopf.Labels,
        meta: kopf.Meta, **_: Any,
    ) -> None:  # fmt: skip
        owner = labels.get(LABEL_MD)
        if type is None or not namespace or not name or not owner:
            return
        if adapter.child_changed(kind, namespace, owner, name, meta, deleted=type == "DELETED"):
            owners.wake(namespace, owner)

    kopf.on.event(access.api_version, access.plural, registry=registry,
                  id=f"wake-{access.plural}-owner",
                  labels={LABEL_MD: kopf.PRESENT})(changed)  # fmt: skip


def _wake_referrers(kind_name: str, workers: Mapping[str, Workers]) -> Any:
    def wake_referrers(type: str | None, namespace: str | None, name: str, **kwargs: Any) -> None:
        # Existence changes only on ADDED and DELETED; the initial listing (type None) is
        # covered by the referrers' own first pass. A RetrainPolicy also reads what the
        # objects it refers to say (a monitor's verdict, a rollout's outcome): every change.
        if type is None:
            return
        key = (namespace, kind_name, name)
        for index_id in REFERRERS_INDEXES.values():
            for referrer_kind, referrer in kwargs[index_id].get(key, ()):
                existence = type in ("ADDED", "DELETED")
                if namespace and (existence or referrer_kind == RETRAIN_POLICY.kind):
                    workers[referrer_kind].wake(namespace, referrer)

    return wake_referrers


def _wake_promotion_targets(workers: Mapping[str, Workers]) -> Any:
    """A RetrainPolicy changed: its ModelDeployment reads its status (a promotion into it)
    and its runs (lineage), and the other policies promoting into their status for the same
    ModelDeployment may now conflict with it, or no longer."""
    targets: dict[tuple[str, str], str] = {}
    """(namespace, policy) -> the ModelDeployment it referred to last (a changed reference
    wakes the old one too, whose promotion ends)."""

    def wake(type: str | None, body: kopf.Body, namespace: str | None, name: str,
             **kwargs: Any) -> None:  # fmt: skip
        if not namespace:
            return
        md = str((body.get("spec") or {}).get("modelDeploymentRef") or "")
        if type is None:  # the initial listing: every worker's first pass reads what it
            if md:  # needs; remember the reference, so a later change wakes the old target
                targets[(namespace, name)] = md
            return
        before = targets.pop((namespace, name), None)
        if type != "DELETED" and md:
            targets[(namespace, name)] = md
        for target in {md, before} - {"", None}:
            workers[MODEL_DEPLOYMENT.kind].wake(namespace, str(target))
        for other_md, _, other in kwargs[PROMOTERS_INDEX].get(namespace, ()):
            if other != name and other_md in (md, before):
                workers[RETRAIN_POLICY.kind].wake(namespace, other)

    return wake
