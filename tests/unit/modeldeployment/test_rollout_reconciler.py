"""The rollout reconciler against a fake Kubernetes adapter: what it writes, and what it does
not write, when the cluster lacks something the spec needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.adapters.kubernetes import KINDS, ChildRejectedError, MissingKindError
from modelship.analysis.types import GateResult, Verdict
from modelship.api.resources import Kind
from modelship.modeldeployment.analysis import AnalysisOutcome
from modelship.modeldeployment.reconciler import REFERENCE_RECHECK_SECONDS, RolloutReconciler
from modelship.rollout.types import PlannedEvent, RevisionObserved
from modelship.runtime.worker import RESYNC_SECONDS

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeAdapter:
    """Records writes; serves the kinds and referenced objects it is given."""

    def __init__(self, served: Iterable[str] = KINDS, objects: Mapping[Any, Any] = ()) -> None:
        self.served = set(served)
        self.objects: dict[tuple[str, str], frozenset[str]] = dict(objects)
        self.writes: list[str] = []
        self.events: list[PlannedEvent] = []
        self.status: dict[str, Any] = {}
        self.deployments: dict[str, RevisionObserved] = {}
        self.created: list[str] = []
        self.version = "100"
        self.reads = 0

    def data_keys(self, namespace: str, kind: str, name: str) -> frozenset[str] | None:
        return self.objects.get((kind, name))

    def require_kinds(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            if kind not in self.served:
                version = KINDS[kind].api_version
                raise MissingKindError(f"the cluster does not serve {version} {kind}")

    def revisions(self, namespace: str, name: str) -> dict[str, RevisionObserved]:
        return dict(self.deployments)

    def autoscaled_replicas(self, namespace: str, name: str) -> int | None:
        return None

    def create_deployment(self, manifest: Mapping[str, Any]) -> None:
        self.writes.append(f"create Deployment {manifest['metadata']['name']}")
        revision = manifest["spec"]["template"]["metadata"]["labels"]["modelship.io/revision"]
        self.created.append(revision)
        annotations = manifest["metadata"]["annotations"]
        self.deployments[revision] = RevisionObserved(
            revision, manifest["spec"]["replicas"],
            model_version=annotations["modelship.io/model-version"],
        )  # fmt: skip

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.writes.append(f"scale {name} {replicas}")
        revision = name.removeprefix("fraud-")
        if revision in self.deployments:
            self.deployments[revision] = dataclasses.replace(
                self.deployments[revision], replicas=replicas
            )

    def delete_deployment(self, namespace: str, name: str) -> None:
        self.writes.append(f"delete {name}")

    def ensure(self, manifest: Mapping[str, Any], verify: bool = False) -> bool:
        self.require_kinds([manifest["kind"]])  # as a create of an unserved kind fails
        self.writes.append(f"ensure {manifest['kind']} {manifest['metadata']['name']}")
        return True

    def remove_stale(self, *args: Any, **kwargs: Any) -> None:
        pass

    def remember_new(self, namespace: str, name: str) -> None:
        pass

    def forget(self, namespace: str, name: str) -> None:
        pass

    def patch_status(
        self, resource: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str:
        self.status = {k: v for k, v in {**self.status, **status}.items() if v is not None}
        self.version = str(int(self.version) + 1)
        return self.version

    def read(self, resource: Kind, namespace: str, name: str) -> dict[str, Any]:
        self.reads += 1
        current = body({"model": MODEL}, self.status)
        current["metadata"]["resourceVersion"] = self.version
        return current

    def post_event(self, md: Mapping[str, Any], event: PlannedEvent) -> None:
        self.events.append(event)


class NoAnalysis:
    def evaluate(self, *args: Any, **kwargs: Any) -> AnalysisOutcome:
        return AnalysisOutcome()


def body(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "modelship.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "fraud", "namespace": "ml", "uid": "u-1", "generation": 1},
        "spec": spec,
        "status": status or {},
    }


MODEL = {"name": "fraud", "version": "1", "uri": "s3://models/fraud/1/"}
GATEWAY = {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}}
CANARY = {"canary": {"traffic": GATEWAY, "steps": [{"setWeight": 50}]}}


def reconcile(adapter: FakeAdapter, spec: dict[str, Any]) -> float | None:
    reconciler = RolloutReconciler(adapter, NoAnalysis(), "modelship/server:test")  # type: ignore[arg-type]
    return reconciler.reconcile(body(spec), now=T0)


def conditions(adapter: FakeAdapter) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in adapter.status["conditions"]}


def test_a_router_whose_api_is_missing_creates_nothing() -> None:
    adapter = FakeAdapter(served=set(KINDS) - {"HTTPRoute"})
    reconcile(adapter, {"model": MODEL, "strategy": CANARY})
    assert adapter.writes == []
    assert adapter.status["phase"] == "Failed"
    assert conditions(adapter)["Stalled"] == ("True", "MissingAPI")
    assert "does not serve gateway.networking.k8s.io/v1 HTTPRoute" in adapter.status["message"]


def test_the_same_spec_with_the_api_served_creates_its_children() -> None:
    adapter = FakeAdapter()
    reconcile(adapter, {"model": MODEL, "strategy": CANARY})
    assert any(w.startswith("create Deployment fraud-") for w in adapter.writes)
    assert "ensure HTTPRoute fraud" in adapter.writes


@pytest.mark.parametrize(
    ("spec", "objects", "expected"),
    [
        (
            {"model": {**MODEL, "profileRef": {"configMap": "nope"}}},
            {},
            'spec.model.profileRef: ConfigMap "nope" does not exist',
        ),
        (
            {"model": MODEL, "security": {"authSecretRef": {"name": "token", "key": "api"}}},
            {("Secret", "token"): frozenset({"token"})},
            'spec.security.authSecretRef: Secret "token" has no key "api" (keys: token)',
        ),
        (
            {
                "model": MODEL,
                "analysis": {
                    "prometheus": {"bearerTokenSecretRef": {"name": "prom"}},
                    "metrics": [{"name": "e", "builtin": "errorRate", "max": 0.1}],
                },
            },
            {},
            'spec.analysis.prometheus.bearerTokenSecretRef: Secret "prom" does not exist',
        ),
        (
            {"model": {**MODEL, "uri": "pvc://models/fraud/1"}},
            {},
            'spec.model.uri: PersistentVolumeClaim "models" does not exist',
        ),
        (
            {
                "model": MODEL,
                "serving": {"template": {"spec": {"serviceAccountName": "reader"}}},
            },
            {},
            'spec.serving.template: ServiceAccount "reader" does not exist',
        ),
    ],
)
def test_a_missing_reference_is_named_and_nothing_is_created(
    spec: dict[str, Any], objects: dict[Any, Any], expected: str
) -> None:
    adapter = FakeAdapter(objects=objects)
    assert reconcile(adapter, spec) == REFERENCE_RECHECK_SECONDS
    assert adapter.writes == []
    assert adapter.status["phase"] == "Degraded"
    assert conditions(adapter)["Stalled"] == ("True", "ReferenceNotFound")
    assert expected in adapter.status["message"]
    assert [(e.type, e.reason) for e in adapter.events] == [("Warning", "ReferenceNotFound")]


def test_a_reference_that_appears_lets_the_rollout_start() -> None:
    adapter = FakeAdapter()
    spec = {"model": {**MODEL, "profileRef": {"configMap": "profile"}}}
    reconcile(adapter, spec)
    assert adapter.writes == []
    adapter.objects[("ConfigMap", "profile")] = frozenset({"profile.json"})
    reconciler = RolloutReconciler(adapter, NoAnalysis(), "img")  # type: ignore[arg-type]
    reconciler.reconcile(body(spec, adapter.status), now=T0)
    assert any(w.startswith("create Deployment fraud-") for w in adapter.writes)
    assert adapter.status["phase"] == "Progressing"


class Refusing(FakeAdapter):
    """The API server refuses every Service (a policy, say)."""

    def ensure(self, manifest: Mapping[str, Any], verify: bool = False) -> bool:
        if manifest["kind"] == "Service":
            raise ChildRejectedError("the API server refused Service fraud: denied by policy")
        return super().ensure(manifest, verify)


def test_a_refused_child_is_reported_once_and_not_retried_in_a_loop() -> None:
    adapter = Refusing()
    reconciler = RolloutReconciler(adapter, NoAnalysis(), "img")  # type: ignore[arg-type]
    assert reconciler.reconcile(body({"model": MODEL}), now=T0) == RESYNC_SECONDS
    assert adapter.status["phase"] == "Failed"
    assert conditions(adapter)["Stalled"] == ("True", "ChildRejected")
    assert "denied by policy" in adapter.status["message"]
    assert [(e.type, e.reason) for e in adapter.events] == [("Warning", "ChildRejected")]
    written = dict(adapter.status)
    current = body({"model": MODEL}, adapter.status)
    current["metadata"]["resourceVersion"] = adapter.version
    assert reconciler.reconcile(current, now=T0 + timedelta(minutes=10)) == RESYNC_SECONDS
    assert adapter.status == written
    assert len(adapter.events) == 1  # the same refusal: no second Event, no status write


class Gated:
    """Analysis that is still running its gate, with the next round due in 12 s."""

    def evaluate(self, md: Any, spec: Any, status: Any, gates: Any, *args: Any) -> Any:
        running = {key: GateResult(Verdict.RUNNING, "1/3 successful rounds") for key in gates}
        return AnalysisOutcome(verdicts=running, next_round_in=12.0)


def test_the_next_analysis_round_is_the_requeue_while_a_gate_stands() -> None:
    adapter = FakeAdapter()
    reconciler = RolloutReconciler(adapter, Gated(), "img")  # type: ignore[arg-type]
    strategy = {"canary": {"steps": [{"setWeight": 20}, {"analysis": {}}, {"setWeight": 50}]}}
    analysis = {"metrics": [{"name": "e", "builtin": "errorRate", "max": 0.1}]}
    spec = {"model": MODEL, "strategy": strategy, "analysis": analysis}
    # First the stable revision, then version 2 as a canary, until it stands at its gate.
    delays = []
    for version in ("1", "2"):
        spec["model"] = {**MODEL, "version": version, "uri": f"s3://models/fraud/{version}/"}
        for _ in range(6):
            delays.append(reconciler.reconcile(stale_free(adapter, spec), now=T0))
            adapter.deployments = {  # pods become ready
                r: dataclasses.replace(o, ready=o.replicas, available=o.replicas)
                for r, o in adapter.deployments.items()
            }
    assert adapter.status["currentStep"] == 1
    assert delays[-1] == 12.0


def stale_free(adapter: FakeAdapter, spec: dict[str, Any]) -> dict[str, Any]:
    """The object as the watch delivers it after our last write."""
    current = body(spec, adapter.status)
    current["metadata"]["resourceVersion"] = adapter.version
    return current


def test_a_wake_before_the_watch_delivers_our_write_reads_the_object_first() -> None:
    adapter = FakeAdapter()
    reconciler = RolloutReconciler(adapter, NoAnalysis(), "img")  # type: ignore[arg-type]
    stale = body({"model": MODEL})
    reconciler.reconcile(stale, now=T0)
    assert reconciler.own_write("ml", "fraud", adapter.version)
    assert adapter.reads == 0
    reconciler.reconcile(stale, now=T0)  # woken by a Deployment, the watch still behind
    assert adapter.reads == 1


class WithPolicy(FakeAdapter):
    """A cluster with one RetrainPolicy that promoted version 1-r1 into its status."""

    def __init__(self) -> None:
        super().__init__(objects={("ConfigMap", "fraud-1-r1-profile"): frozenset({"profile.json"})})
        self.policy = {
            "apiVersion": "modelship.io/v1alpha1", "kind": "RetrainPolicy",
            "metadata": {"name": "rp", "namespace": "ml",
                         "creationTimestamp": "2026-12-01T00:00:00Z"},
            "spec": {"modelDeploymentRef": "fraud", "promotion": "auto",
                     "promotionTarget": "policyStatus",
                     "job": {"template": {"spec": {"template": {"spec": {
                         "containers": [{"name": "t"}]}}}}},
                     "output": {"uri": "s3://m/{version}/"}},
            "status": {"promoted": {"run": "rp-1", "version": "1-r1", "uri": "s3://m/1-r1/",
                                    "profileConfigMap": "fraud-1-r1-profile", "basedOn": MODEL,
                                    "promotedAt": "2026-12-01T11:00:00Z"}},
        }  # fmt: skip

    def read(self, resource: Kind, namespace: str, name: str) -> dict[str, Any]:
        if resource.kind == "RetrainPolicy":
            return self.policy
        return super().read(resource, namespace, name)


def test_a_promotion_in_a_policy_status_serves_until_a_person_changes_spec_model() -> None:
    adapter = WithPolicy()
    reconciler = RolloutReconciler(adapter, NoAnalysis(), "img", lambda ns, md: ["rp"])  # type: ignore[arg-type]
    reconciler.reconcile(body({"model": MODEL}), now=T0)
    assert [d.model_version for d in adapter.deployments.values()] == ["1-r1"]
    model = adapter.status["model"]
    assert (model["version"], model["source"], model["run"]) == ("1-r1", "RetrainPolicy", "rp/rp-1")
    assert [e.reason for e in adapter.events if e.reason.startswith("Model")] == [
        "ModelFromRetrainPolicy"
    ]
    changed = {**MODEL, "version": "2", "uri": "s3://models/fraud/2/"}
    adapter.events.clear()
    fresh = RolloutReconciler(adapter, NoAnalysis(), "img", lambda ns, md: ["rp"])  # type: ignore[arg-type]
    fresh.reconcile(body({"model": changed}, dict(adapter.status)), now=T0 + timedelta(minutes=1))
    assert adapter.created[-1] != adapter.created[0]  # a new revision, from the spec
    assert adapter.deployments[adapter.created[-1]].model_version == "2"
    model = adapter.status["model"]
    assert (model["version"], model["source"]) == ("2", "Spec")
    assert model.get("run") is None  # merge-patched away
    assert [e.reason for e in adapter.events if e.reason.startswith("Model")] == ["ModelFromSpec"]


class Judging:
    """Passes every gate of the canary; after the promotion, fails once told to."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str | None, Any]] = []
        self.fail = False

    def evaluate(self, md: Any, spec: Any, status: Any, gates: Any, started: Any, now: Any) -> Any:
        self.asked.append((status.canary_revision, status.stable_revision, started))
        failed = GateResult(Verdict.FAILED, "1 failed measurement rounds: e: 0.5 > max 0.1")
        found = {
            key: failed if self.fail and key == "background" else GateResult(Verdict.SUCCESSFUL)
            for key in gates
        }
        return AnalysisOutcome(verdicts=found, next_round_in=5.0)


def test_in_the_rollback_window_the_new_stable_is_analysed_and_a_failure_returns() -> None:
    adapter, judge = FakeAdapter(), Judging()
    reconciler = RolloutReconciler(adapter, judge, "img")  # type: ignore[arg-type]
    spec = {
        "model": MODEL,
        "serving": {"replicas": 2},
        "strategy": {"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}]}},
        "analysis": {
            "metrics": [{"name": "e", "builtin": "errorRate", "max": 0.1}],
            "background": False,
        },
        "rollback": {"window": {"duration": "10m", "previousReplicas": 1}},
    }

    def settle() -> None:
        adapter.deployments = {
            r: dataclasses.replace(o, ready=o.replicas, available=o.replicas)
            for r, o in adapter.deployments.items()
        }

    revisions = []
    for version in ("1", "2"):
        spec["model"] = {**MODEL, "version": version, "uri": f"s3://models/fraud/{version}/"}
        for _ in range(6):
            reconciler.reconcile(stale_free(adapter, spec), now=T0)
            settle()
        revisions.append(adapter.status["stableRevision"])
    old, new = revisions
    window = adapter.status["rollout"]["window"]
    assert (window["revision"], window["previous"]) == (new, old)
    assert {r: o.replicas for r, o in adapter.deployments.items()} == {old: 1, new: 2}
    assert judge.asked[-1][:2] == (new, old)  # the new stable, against the previous revision
    assert judge.asked[-1][2] == datetime.fromisoformat(window["openedAt"])

    judge.fail = True
    reconciler.reconcile(stale_free(adapter, spec), now=T0)
    assert adapter.status["stableRevision"] == old
    assert adapter.status["phase"] == "RolledBack"
    assert adapter.status["history"][0]["outcome"] == "RolledBackAfterPromotion"
    assert [e.reason for e in adapter.events][-1:] == ["RolledBackAfterPromotion"]
    # The failed pods stay until the main Service selects the previous revision alone.
    assert {r: o.replicas for r, o in adapter.deployments.items()} == {old: 2, new: 2}
    settle()
    later = T0 + timedelta(seconds=3)
    for _ in range(2):
        reconciler.reconcile(stale_free(adapter, spec), now=later)
    assert {r: o.replicas for r, o in adapter.deployments.items()} == {old: 2, new: 0}
