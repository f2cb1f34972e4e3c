"""The RetrainPolicy reconciler against a fake Kubernetes adapter: what it reads, and the
restart-safe order of its writes (a run in status before its Job; the promotion with its
profile ConfigMap)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException
from modelship.adapters.kubernetes import ChildRejectedError
from modelship.api.resources import Kind
from modelship.planners.assessment import Existing
from modelship.planners.status import Transition
from modelship.retrain.jobs import JobObserved
from modelship.retrain.serving import SERVING, rollout_outcomes, serving_model
from modelship.retrainpolicy.reconciler import RetrainPolicyReconciler
from prometheus_client import REGISTRY

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MD = {
    "spec": {"model": {"name": "fraud", "version": "8", "uri": "file:///models/8/"}},
    "status": {
        "phase": "Healthy", "stableRevision": "abc",
        "history": [{"revision": "abc", "modelVersion": "7", "modelURI": "file:///models/7/",
                     "outcome": "Promoted"}],
    },
}  # fmt: skip


class FakeK8s:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.status: dict[str, Any] = {}
        self.jobs_by_name: dict[str, JobObserved] = {}
        self.events: list[Transition] = []
        self.refuse = False
        self.model: dict[str, Any] | None = None
        self.config_maps: dict[str, dict[str, Any]] = {}
        self.policy: dict[str, Any] | None = None
        self.version = "0"

    def read(self, resource: Kind, namespace: str, name: str) -> dict[str, Any]:
        if resource.kind == "ModelDeployment":
            return MD
        if resource.kind == "RetrainPolicy" and self.policy is not None:
            meta = {**self.policy["metadata"], "resourceVersion": self.version}
            return {**self.policy, "status": dict(self.status), "metadata": meta}
        raise ApiException(status=404)

    def jobs(self, namespace: str, policy: str, uid: str | None = None) -> dict[str, JobObserved]:
        return dict(self.jobs_by_name)

    def create_job(self, manifest: Mapping[str, Any]) -> None:
        self.calls.append(f"create Job {manifest['metadata']['name']}")
        if self.refuse:
            raise ChildRejectedError("the API server refused Job p-1: spec.template: invalid")
        self.jobs_by_name[manifest["metadata"]["name"]] = JobObserved(manifest["metadata"]["name"])

    def delete_job(self, namespace: str, name: str) -> None:
        self.calls.append(f"delete Job {name}")

    def apply_config_map(self, manifest: Mapping[str, Any]) -> None:
        self.calls.append(f"apply ConfigMap {manifest['metadata']['name']}")
        self.config_maps[manifest["metadata"]["name"]] = dict(manifest["data"])

    def patch_model(self, namespace: str, name: str, model: Mapping[str, Any]) -> None:
        self.calls.append(f"patch ModelDeployment {name}")
        self.model = dict(model)

    def patch_status(
        self, resource: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str:
        self.calls.append("patch status")
        self.status = {k: v for k, v in {**self.status, **status}.items() if v is not None}
        self.version = str(len(self.calls))
        return self.version

    def post_event(self, obj: Mapping[str, Any], event: Transition) -> None:
        self.events.append(event)


def policy(fake: FakeK8s, output: str, target: str = "spec", **annotations: str) -> dict[str, Any]:
    """The policy as the watch delivers it, caught up with the fake's last status write."""
    body = _policy(fake, output, **annotations)
    body["spec"]["promotionTarget"] = target
    body["metadata"]["resourceVersion"] = fake.version
    fake.policy = body
    return body


def _policy(fake: FakeK8s, output: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelship.io/v1alpha1", "kind": "RetrainPolicy",
        "metadata": {"name": "p", "namespace": "ml", "uid": "u", "generation": 1,
                     "creationTimestamp": T0.isoformat(), "annotations": annotations},
        "spec": {
            "modelDeploymentRef": "fraud",
            "job": {"template": {"spec": {"template": {"spec": {"containers": [
                {"name": "t", "image": "trainer", "command": ["python", "train.py"]}]}}}}},
            "output": {"uri": output},
            "validation": {"minMetrics": {"accuracy": 0.9}},
            "promotion": "auto",
        },
        "status": dict(fake.status),
    }  # fmt: skip


def trained(fake: FakeK8s, tmp_path: Path) -> Path:
    """Run p-1's Job succeeded: the trainer wrote its result to result.json only, and its
    profile beside it. Forgets the calls made so far."""
    folder = tmp_path / "7-r1"
    folder.mkdir()
    (folder / "profile.json").write_text('{"profile": true}')
    (folder / "result.json").write_text(json.dumps({
        "metrics": {"accuracy": 0.95}, "artifactURI": f"file://{folder}/model.joblib",
        "profileURI": f"file://{folder}/profile.json",
    }))  # fmt: skip
    fake.jobs_by_name["p-1"] = JobObserved("p-1", succeeded=True)
    fake.calls.clear()
    return folder


def reconciler(fake: FakeK8s) -> RetrainPolicyReconciler:
    existing = Existing(model_deployments={"fraud"})
    return RetrainPolicyReconciler(fake, lambda namespace: existing)  # type: ignore[arg-type]


def test_the_run_is_in_status_before_its_job_and_a_promotion_brings_its_profile(
    tmp_path: Path,
) -> None:
    fake = FakeK8s()
    output = f"file://{tmp_path}/{{version}}/"
    reconciler(fake).reconcile(policy(fake, output, **{"modelship.io/retrain": "1"}), now=T0)
    assert fake.calls == ["patch status", "create Job p-1"]
    run = fake.status["runs"][0]
    assert (run["name"], run["baseVersion"], run["newVersion"]) == ("p-1", "7", "7-r1")
    assert fake.status["phase"] == "Training"
    folder = trained(fake, tmp_path)
    body = policy(fake, output, **{"modelship.io/retrain": "1"})
    reconciler(fake).reconcile(body, now=T0 + timedelta(minutes=3))
    assert fake.calls == [
        "apply ConfigMap fraud-7-r1-profile", "patch ModelDeployment fraud", "patch status",
    ]  # fmt: skip
    assert fake.config_maps["fraud-7-r1-profile"] == {"profile.json": '{"profile": true}'}
    assert fake.model == {
        "version": "7-r1", "uri": f"file://{folder}/model.joblib",
        "profileRef": {"configMap": "fraud-7-r1-profile", "key": "profile.json"},
    }  # fmt: skip
    assert fake.status["runs"][0]["outcome"] == "Promoting"
    assert fake.status["phase"] == "Promoting"


def retrain_events(reason: str) -> float:
    found = REGISTRY.get_sample_value("modelship_retrain_events_total", {"reason": reason})
    return found or 0.0


def test_a_refused_job_fails_its_run_visibly(tmp_path: Path) -> None:
    fake = FakeK8s()
    fake.refuse = True
    body = policy(fake, f"file://{tmp_path}/{{version}}/", **{"modelship.io/retrain": "1"})
    failed_before = retrain_events("RunFailed")
    reconciler(fake).reconcile(body, now=T0)
    # The Event is counted too, for dashboards and the ModelshipRetrainFailed alert.
    assert retrain_events("RunFailed") == failed_before + 1
    assert fake.status["runs"][0]["outcome"] == "Failed"
    assert "spec.template: invalid" in fake.status["runs"][0]["message"]
    assert fake.status.get("activeRun") is None
    assert ("Warning", "RunFailed") in [(e.type, e.reason) for e in fake.events]


def test_what_serves_comes_from_the_stable_revisions_history() -> None:
    serving = serving_model(MD)
    assert serving is not None
    assert (serving.version, serving.uri) == ("7", "file:///models/7/")
    assert serving_model({"spec": MD["spec"], "status": {}}) is None


def test_a_version_in_its_rollback_window_is_not_final_until_it_closes() -> None:
    status: dict[str, Any] = dict(MD["status"])  # type: ignore[call-overload]
    history = [{"revision": "def", "modelVersion": "8", "outcome": "Promoted"},
               *status["history"]]  # fmt: skip
    promoted = {**status, "stableRevision": "def", "history": history}
    assert rollout_outcomes({**MD, "status": promoted})["8"] == SERVING
    window = {"window": {"revision": "def", "previous": "abc"}}
    pending = rollout_outcomes({**MD, "status": {**promoted, "rollout": window}})
    assert "8" not in pending  # its run keeps following the rollout
    back = [{"revision": "def", "modelVersion": "8", "outcome": "RolledBackAfterPromotion"},
            *history]  # fmt: skip
    rolled_back = {**status, "phase": "RolledBack", "history": back}
    assert rollout_outcomes({**MD, "status": rolled_back})["8"] == "RolledBackAfterPromotion"


def test_a_run_that_ends_clears_the_active_run_in_status(tmp_path: Path) -> None:
    fake = FakeK8s()
    output = f"file://{tmp_path}/{{version}}/"
    reconciler(fake).reconcile(policy(fake, output, **{"modelship.io/retrain": "1"}), now=T0)
    assert fake.status["activeRun"] == "p-1"
    fake.jobs_by_name["p-1"] = JobObserved("p-1", failed=True, exit_code=1, reason="Backoff")
    reconciler(fake).reconcile(policy(fake, output, **{"modelship.io/retrain": "1"}), now=T0)
    assert fake.status["runs"][0]["outcome"] == "Failed"
    assert "activeRun" not in fake.status  # cleared by an explicit null in the merge patch
    assert fake.status["phase"] == "CoolingDown"  # the default cooldown, 6h


def test_promoting_into_the_policy_status_writes_the_profile_and_status_only(
    tmp_path: Path,
) -> None:
    fake = FakeK8s()
    output = f"file://{tmp_path}/{{version}}/"
    ask = {"modelship.io/retrain": "1"}
    reconciler(fake).reconcile(policy(fake, output, "policyStatus", **ask), now=T0)
    trained(fake, tmp_path)
    body = policy(fake, output, "policyStatus", **ask)
    reconciler(fake).reconcile(body, now=T0 + timedelta(minutes=3))
    assert fake.calls == ["apply ConfigMap fraud-7-r1-profile", "patch status"]
    assert fake.model is None  # the ModelDeployment's spec is never written
    promoted = fake.status["promoted"]
    assert (promoted["run"], promoted["version"], promoted["profileConfigMap"]) == (
        "p-1", "7-r1", "fraud-7-r1-profile",
    )  # fmt: skip
    assert promoted["basedOn"]["version"] == "8"  # MD's spec.model, not what serves (7)
    assert fake.status["runs"][0]["outcome"] == "Promoting"
