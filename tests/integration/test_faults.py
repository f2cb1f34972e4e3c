"""Faults in the operator itself, on the local cluster: SIGKILLed at seeded random points of a
canary, a blue-green, a shadow rollout, a drift evaluation and a retrain run; two replicas
with the active one killed; children deleted or edited by hand; the namespace deleted with
work in flight. Each test asserts what the user sees afterwards and, from the API server,
that nothing was lost or duplicated. Figures: `FAULTS` lines (pytest -s)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from modelship_testing.chart import operator_release
from modelship_testing.cluster import LocalCluster
from modelship_testing.faults import (
    KillPoints,
    StatusTrail,
    event_counts,
    fraud_model,
    now,
    operator_requests,
    report,
    seeds,
    writes,
)
from modelship_testing.fixtures import OPERATOR_IDENTITY, OperatorFactory, OperatorProcess
from modelship_testing.jobs import JobRunner
from modelship_testing.objects import LABEL_MD, ModelDeployments, release_finalizers
from modelship_testing.retraining import Loop
from modelship_testing.serving import TrainedModel
from modelship_testing.stands import DriftStand
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.faults, pytest.mark.usefixtures("crds")]

PROMOTE = "modelship.io/promote"


@pytest.fixture
def mds(k8s_api: client.ApiClient, namespace: str) -> ModelDeployments:
    return ModelDeployments(k8s_api, namespace)


def children(mds: ModelDeployments) -> dict[str, list[str]]:
    """The ModelDeployment's Deployments and ReplicaSets, and every Service in the namespace."""
    selector = f"{LABEL_MD}=fraud"
    deps = mds.apps.list_namespaced_deployment(mds.namespace, label_selector=selector).items
    sets = mds.apps.list_namespaced_replica_set(mds.namespace, label_selector=selector).items
    services = mds.core.list_namespaced_service(mds.namespace).items
    return {
        "deployments": sorted(d.metadata.name for d in deps),
        "replicasets": sorted(r.metadata.name for r in sets),
        "services": sorted(s.metadata.name for s in services),
    }


def crash(process: OperatorProcess) -> None:
    """SIGKILL, then a fresh process: no shutdown, nothing remembered."""
    process.kill()
    process.start()


def new_history(status: dict[str, Any], old: str) -> list[dict[str, Any]]:
    return [h for h in status.get("history") or [] if h.get("revision") != old]


def non_decreasing(steps: list[Any]) -> bool:
    numbers = [s for s in steps if s is not None]
    return numbers == sorted(numbers)


CANARY = {
    "canary": {
        "steps": [
            {"setWeight": 25},
            {"pause": {}},
            {"setWeight": 50},
            {"pause": {}},
            {"setWeight": 75},
            {"pause": {"duration": "1s"}},
        ]
    }
}


@pytest.mark.parametrize("seed", seeds((11, 12)))
def test_canary_sigkilled_at_random_points_resumes_at_its_step_without_duplicates(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient, seed: int
) -> None:
    points = KillPoints(seed, "canary")
    running = operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 4}, "strategy": CANARY})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    resumed: list[float] = []
    with StatusTrail(k8s_api, mds.namespace, "modeldeployments", "fraud") as trail:
        mds.set_version("fraud", "2")
        points.wait(0.0, 1.5)  # somewhere in creating the canary and its first step
        crash(running)
        mds.wait_phase("fraud", "Paused", currentStep=1)
        for step in (1, 3):
            mds.annotate("fraud", PROMOTE)
            points.wait(0.0, 1.0)  # the promote being acted on, or not yet
            crash(running)
            restarted = time.monotonic()
            if step == 1:
                # A replayed promote would skip the next pause: it must hold at step 3.
                mds.wait_phase("fraud", "Paused", currentStep=3)
            else:
                mds.wait_phase("fraud", "Healthy", timeout=60)
            resumed.append(round(time.monotonic() - restarted, 1))
    status = mds.status("fraud")
    new = status["stableRevision"]
    assert new != old
    assert non_decreasing(trail.values("currentStep")), trail.values("currentStep")
    assert "RolledBack" not in trail.values("phase")
    assert [h["outcome"] for h in new_history(status, old)] == ["Promoted"]
    wait_for(lambda: mds.spec_replicas("fraud") == {old: 0, new: 4}, timeout=60,
             describe="the old revision scaled down")  # fmt: skip
    found = children(mds)
    assert found["deployments"] == sorted([f"fraud-{old}", f"fraud-{new}"])
    assert len(found["replicasets"]) == 2  # one per Deployment: no template churn
    assert set(found["services"]) <= {"fraud", "fraud-canary", "fraud-stable"}
    events = event_counts(k8s_api, mds.namespace, "fraud")
    assert events["PromotedManually"] == 2, events  # two promotes, each acted on once
    report("canary kill", seed=seed, kills=3, kill_points_s=points.taken,
           restart_to_next_state_s=resumed,
           objects_checked=sum(map(len, found.values())) + 1)  # fmt: skip


BLUE_GREEN = {"blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 2}}


@pytest.mark.parametrize("seed", seeds((21, 22)))
def test_blue_green_sigkilled_at_random_points_switches_once_and_replays_no_promote(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient, seed: int
) -> None:
    points = KillPoints(seed, "blueGreen")
    running = operator(namespaces=[mds.namespace])
    mds.create(
        "fraud", {"model": fraud_model(), "serving": {"replicas": 2}, "strategy": BLUE_GREEN}
    )
    blue = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    with StatusTrail(k8s_api, mds.namespace, "modeldeployments", "fraud") as trail:
        mds.set_version("fraud", "2")
        points.wait(0.0, 1.5)
        crash(running)
        green = mds.wait_phase("fraud", "Paused")["canaryRevision"]
        mds.annotate("fraud", PROMOTE)
        points.wait(0.0, 1.0)
        crash(running)
        mds.wait_phase("fraud", "Healthy", stableRevision=green)
        # The promote already acted on must not promote the next version by itself.
        mds.set_version("fraud", "3")
        points.wait(0.0, 1.0)
        crash(running)
        third = mds.wait_phase("fraud", "Paused")["canaryRevision"]
    assert third not in (blue, green)
    assert "RolledBack" not in trail.values("phase")
    # The switch to green selects both revisions for a moment, then green alone.
    wait_for(lambda: mds.service_selector("fraud").get("modelship.io/revision") == green,
             timeout=15, describe="the main Service to select green alone")  # fmt: skip
    wait_for(lambda: mds.spec_replicas("fraud").get(blue) == 0, timeout=30,
             describe="blue scaled down after its delay")  # fmt: skip
    found = children(mds)
    assert found["deployments"] == sorted(f"fraud-{r}" for r in (blue, green, third))
    assert len(found["replicasets"]) == 3
    assert set(found["services"]) <= {"fraud", "fraud-preview"}
    outcomes = [h["outcome"] for h in mds.status("fraud").get("history") or []
                if h.get("revision") == green]  # fmt: skip
    assert outcomes == ["Promoted"]
    report("blueGreen kill", seed=seed, kills=3, kill_points_s=points.taken,
           objects_checked=sum(map(len, found.values())) + 1)  # fmt: skip


@pytest.mark.usefixtures("gateway_api")
@pytest.mark.parametrize("seed", seeds((31, 32)))
def test_shadow_sigkilled_at_random_points_continues_as_one_canary(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient, seed: int
) -> None:
    points = KillPoints(seed, "shadow")
    running = operator(namespaces=[mds.namespace])
    strategy = {
        "shadow": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "mirrorPercentage": 30,
            "duration": "3s",
            "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]},
        }
    }
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 2}, "strategy": strategy})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    with StatusTrail(k8s_api, mds.namespace, "modeldeployments", "fraud") as trail:
        mds.set_version("fraud", "2")
        points.wait(0.0, 2.0)  # during the shadow run, or as it starts
        crash(running)
        points.wait(0.0, 2.0)
        crash(running)
        new = mds.wait_phase("fraud", "Paused", currentStep=1, timeout=60)["canaryRevision"]
        mds.annotate("fraud", PROMOTE)
        mds.wait_phase("fraud", "Healthy", stableRevision=new)
    assert "RolledBack" not in trail.values("phase")
    assert [r for r in trail.values("canaryRevision") if r] == [new]  # one shadow revision
    assert mds.http_route_weights("fraud") == [("fraud-stable", 100), ("fraud-canary", 0)]
    found = children(mds)
    assert found["deployments"] == sorted([f"fraud-{old}", f"fraud-{new}"])
    assert len(found["replicasets"]) == 2
    events = event_counts(k8s_api, mds.namespace, "fraud")
    assert events["ShadowPassed"] == 1, events
    report("shadow kill", seed=seed, kills=2, kill_points_s=points.taken,
           objects_checked=sum(map(len, found.values())) + 1)  # fmt: skip


@pytest.mark.prometheus
@pytest.mark.parametrize("seed", seeds((41, 42)))
def test_drift_evaluation_sigkilled_at_random_points_neither_repeats_nor_invents_a_verdict(
    stand: DriftStand, operator: OperatorFactory, k8s_api: client.ApiClient, seed: int
) -> None:
    points = KillPoints(seed, "drift")
    started: list[OperatorProcess] = []

    def keep(namespaces: list[str] | None = None, extra_args: list[str] | None = None,
             env: dict[str, str] | None = None) -> OperatorProcess:  # fmt: skip
        started.append(operator(namespaces=namespaces, extra_args=extra_args, env=env))
        return started[-1]

    stand.start(keep, minSamples=50)  # type: ignore[arg-type]
    stand.wait_drifted("False", timeout=40)
    with StatusTrail(k8s_api, stand.namespace, "driftmonitors", stand.monitor) as trail:
        for _ in range(2):
            points.wait(0.0, 10.0)  # anywhere in an evaluation interval (10 s)
            crash(started[0])
        restarted, evaluated = time.monotonic(), stand.status()["lastEvaluationTime"]
        # A restart on the loaded 2-core machine takes a few seconds to import, up to ~30.
        wait_for(lambda: stand.status()["lastEvaluationTime"] > evaluated, timeout=60,
                 describe="a fresh evaluation after the last restart")  # fmt: skip
        fresh = round(time.monotonic() - restarted, 1)
        stand.wait_drifted("False", timeout=20)
    times = [t for t in trail.values("lastEvaluationTime") if t]
    assert times == sorted(times)
    assert not any(c.startswith("True") for c in trail.conditions("Drifted")), trail.conditions(
        "Drifted"
    )
    assert not [e for e in stand.events() if e[0] == "Warning"]
    report("drift kill", seed=seed, kills=2, kill_points_s=points.taken,
           evaluations_seen=len(times), restart_to_evaluation_s=fresh)  # fmt: skip


@pytest.mark.parametrize("seed", seeds((51, 52)))
def test_retrain_run_sigkilled_at_random_points_makes_one_job_and_one_promotion(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner, seed: int
) -> None:
    points = KillPoints(seed, "retrain")
    running = loop.deploy(operator)
    loop.create_policy(loop.trainer(held=True))
    loop.retrain()
    points.wait(0.0, 1.5)  # around the run's status write and its Job's creation
    crash(running)
    wait_for(lambda: job_runner.runs_for_job("fraud-retrain-1"), timeout=60,
             describe="the trainer of run 1 to be running")  # fmt: skip
    loop.release()
    points.wait(0.0, 3.0)  # the trainer finishing, validation, or the promotion
    crash(running)
    run = loop.ended("Promoted", timeout=120)
    assert run["name"] == "fraud-retrain-1"
    assert loop.jobs() == ["fraud-retrain-1"]
    assert len(job_runner.runs_for_job("fraud-retrain-1")) == 1  # one trainer process
    status = loop.status()
    assert status["runCount"] == 1  # the manual trigger was not replayed
    assert loop.mds.get("fraud")["spec"]["model"]["version"] == "1-r1"
    loop.mds.wait_phase("fraud", "Healthy", timeout=60)
    rollouts = [h for h in loop.mds.status("fraud").get("history") or []
                if h.get("modelVersion") == "1-r1"]  # fmt: skip
    assert len(rollouts) == 1
    report("retrain kill", seed=seed, kills=2, kill_points_s=points.taken,
           jobs=len(loop.jobs()), trainer_processes=1, runs=status["runCount"])  # fmt: skip


# --- two replicas ------------------------------------------------------------------------

PEERING = "modelship"
RESUMED = "Resuming operations after the pause"  # kopf's words when a replica becomes active
# kopf's peering lifetime (60 s): a SIGKILLed replica's claim lasts that long at most.
TAKEOVER_BOUND_S = 75.0


@pytest.mark.slow
def test_active_replica_killed_mid_rollout_the_standby_takes_over_without_double_action(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient
) -> None:
    custom = client.CustomObjectsApi(k8s_api)
    wait_for(lambda: custom.create_namespaced_custom_object(
        "kopf.dev", "v1", mds.namespace, "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}},
    ), timeout=30, describe="the KopfPeering object")  # fmt: skip

    def replica(priority: int) -> OperatorProcess:
        args = ["--peering", PEERING, "--peering-priority", str(priority)]
        return operator(namespaces=[mds.namespace], extra_args=args)

    high = replica(200)
    wait_for(lambda: RESUMED in high.log_tail(400), timeout=30, describe="high to be active")
    low = replica(100)
    steps = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75},
                                  {"pause": {}}]}}  # fmt: skip
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 4}, "strategy": steps})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    mds.set_version("fraud", "2")
    new = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
    # Both running: only the active one acts.
    assert '"msg": "worker started"' not in low.log_tail(2000)
    high.kill()
    killed = time.monotonic()
    wait_for(lambda: RESUMED in low.log_tail(400), timeout=TAKEOVER_BOUND_S,
             describe="the standby to take over")  # fmt: skip
    takeover = time.monotonic() - killed
    mds.annotate("fraud", PROMOTE)
    mds.wait_phase("fraud", "Paused", currentStep=3)
    acted = time.monotonic() - killed
    mds.annotate("fraud", PROMOTE)
    status = mds.wait_phase("fraud", "Healthy", stableRevision=new)
    assert [h["outcome"] for h in new_history(status, old)] == ["Promoted"]
    found = children(mds)
    assert found["deployments"] == sorted([f"fraud-{old}", f"fraud-{new}"])
    assert len(found["replicasets"]) == 2
    assert event_counts(k8s_api, mds.namespace, "fraud")["PromotedManually"] == 2
    report("peering", takeover_s=round(takeover, 1), first_action_after_kill_s=round(acted, 1),
           bound_s=TAKEOVER_BOUND_S, objects_checked=sum(map(len, found.values())) + 1)  # fmt: skip


# --- children deleted or edited by hand -------------------------------------------------


def operator_user(namespaces: list[str], peering: bool = False) -> str:
    return operator_release(namespaces, peering).username


@pytest.mark.usefixtures("gateway_api")
def test_children_deleted_or_edited_by_hand_are_restored_without_a_fight(
    mds: ModelDeployments, operator: OperatorFactory, local_cluster: LocalCluster
) -> None:
    if OPERATOR_IDENTITY != "chart":
        pytest.skip("counts the operator's writes in the audit log: needs the chart identity")
    operator(namespaces=[mds.namespace])
    strategy = {
        "canary": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}],
        }
    }
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 2}, "strategy": strategy})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    mds.set_version("fraud", "2")
    new = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
    user, since = operator_user([mds.namespace]), now()
    wanted = mds.spec_replicas("fraud")

    # A Deployment deleted, another one scaled by hand: the operator is woken by both.
    mds.apps.delete_namespaced_deployment(f"fraud-{new}", mds.namespace)
    mds.apps.patch_namespaced_deployment_scale(f"fraud-{old}", mds.namespace,
                                               {"spec": {"replicas": 7}})  # fmt: skip
    edited = time.monotonic()
    wait_for(lambda: mds.spec_replicas("fraud") == wanted, timeout=30,
             describe="the deleted canary recreated and the stable scale restored")  # fmt: skip
    restored = time.monotonic() - edited
    # The HTTPRoute's weights and the canary Service's selector edited by hand (their hash
    # annotations kept), the stable Service deleted: each restored at once (they are watched).
    route = mds.custom.get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", mds.namespace, "httproutes", "fraud")  # fmt: skip
    wanted_weights = mds.http_route_weights("fraud")
    for backend in route["spec"]["rules"][0]["backendRefs"]:
        backend["weight"] = 90 if backend["name"] == "fraud-stable" else 10
    edited = time.monotonic()
    mds.custom.replace_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", mds.namespace, "httproutes", "fraud", route)  # fmt: skip
    wanted_selector = mds.core.read_namespaced_service("fraud-canary", mds.namespace).spec.selector
    elsewhere = {"spec": {"selector": {LABEL_MD: "someone-else"}}}
    mds.core.patch_namespaced_service("fraud-canary", mds.namespace, elsewhere)
    mds.core.delete_namespaced_service("fraud-stable", mds.namespace)
    wait_for(lambda: mds.http_route_weights("fraud") == wanted_weights
             and mds.core.read_namespaced_service("fraud-canary", mds.namespace).spec.selector
             == wanted_selector and "fraud-stable" in children(mds)["services"],
             timeout=30, describe="the HTTPRoute and the Services restored")  # fmt: skip
    routing_restored = time.monotonic() - edited
    wait_for(lambda: all(s == r for s, r in mds.replicas("fraud").values()), timeout=30,
             describe="the restored pods ready")  # fmt: skip
    # The window after the repairs: the operator must go quiet (no fight, no hot loop).
    window = 10.0
    settled = now()
    wait_for(lambda: (now() - settled).total_seconds() >= window, timeout=window + 5,
             describe="the quiet window to pass")  # fmt: skip
    window_writes = [r for r in writes(operator_requests(local_cluster.audit_log, user,
                                                         mds.namespace, settled))
                     if r.permission[1] != "events"]  # fmt: skip
    # The restored pods becoming ready are reported (a status write or two); a fight or a hot
    # loop would be a write every pass, dozens in the window.
    assert len(window_writes) <= 5, [r.permission for r in window_writes]
    mds.annotate("fraud", PROMOTE)
    mds.wait_phase("fraud", "Paused", currentStep=3)
    assert mds.http_route_weights("fraud") == [("fraud-stable", 50), ("fraud-canary", 50)]

    repairs = writes(operator_requests(local_cluster.audit_log, user, mds.namespace, since))
    by_kind: dict[str, int] = {}
    for request in repairs:
        by_kind[request.permission[1]] = by_kind.get(request.permission[1], 0) + 1
    assert by_kind.get("services", 0) == 2, by_kind  # the deleted one, the selector: no more
    report("hand edits", deployments_restored_within_s=round(restored, 1),
           routing_restored_within_s=round(routing_restored, 1),
           writes_in_quiet_window=[r.permission[1] for r in window_writes],
           writes_total=by_kind)  # fmt: skip


def test_a_job_deleted_by_hand_is_recreated_once_and_the_run_finishes(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner
) -> None:
    loop.deploy(operator)
    loop.create_policy(loop.trainer(held=True))
    loop.retrain()
    wait_for(lambda: job_runner.runs_for_job("fraud-retrain-1"), timeout=60,
             describe="the trainer of run 1 to be running")  # fmt: skip
    first = loop.batch.read_namespaced_job("fraud-retrain-1", loop.namespace).metadata.uid
    loop.batch.delete_namespaced_job("fraud-retrain-1", loop.namespace,
                                     propagation_policy="Background")  # fmt: skip

    def recreated() -> bool:
        job = loop.batch.read_namespaced_job("fraud-retrain-1", loop.namespace)
        return bool(job.metadata.uid != first)

    wait_for(recreated, timeout=30, describe="the Job recreated (within the run's grace)")
    loop.release()
    run = loop.ended("Promoted", timeout=120)
    assert run["name"] == "fraud-retrain-1"
    assert loop.jobs() == ["fraud-retrain-1"]
    assert loop.status()["runCount"] == 1
    report("job deleted", jobs=1, runs=1, outcome=run["outcome"])


# --- the namespace deleted with work in flight -------------------------------------------

NAMESPACE_GONE_BOUND_S = 60.0


@pytest.mark.parametrize("scope", ["cluster-wide", "namespaced"])
def test_namespace_deleted_with_a_rollout_and_a_run_in_flight_goes_away(
    k8s_api: client.ApiClient, operator: OperatorFactory, model: TrainedModel, tmp_path: Path,
    kubeconfig: str, scope: str,
) -> None:  # fmt: skip
    core = client.CoreV1Api(k8s_api)
    name = f"t-faults-ns-{int(time.time() * 1000) % 10**8}"
    core.create_namespace(client.V1Namespace(
        metadata=client.V1ObjectMeta(name=name, labels={"modelship.io/test": "true"})))  # fmt: skip
    wait_for(lambda: core.read_namespaced_service_account("default", name), timeout=30,
             describe="the default ServiceAccount")  # fmt: skip
    runner = JobRunner(k8s_api, [name], tmp_path / "jobs")
    gone = False
    with runner:
        try:
            work = Loop(k8s_api, name, model, tmp_path, kubeconfig)

            def scoped(namespaces: list[str] | None = None, extra_args: list[str] | None = None,
                       env: dict[str, str] | None = None) -> OperatorProcess:  # fmt: skip
                watched = namespaces if scope == "namespaced" else None
                return operator(namespaces=watched, extra_args=extra_args, env=env)

            running = work.deploy(scoped, strategy=CANARY)  # type: ignore[arg-type]
            work.create_policy(work.trainer(held=True))
            work.retrain()
            wait_for(lambda: runner.runs_for_job("fraud-retrain-1"), timeout=60,
                     describe="the trainer running")  # fmt: skip
            work.mds.set_version("fraud", "2")
            work.mds.wait_phase("fraud", "Paused", currentStep=1)
            deleted = time.monotonic()
            core.delete_namespace(name)

            def absent() -> bool:
                try:
                    core.read_namespace(name)
                except client.ApiException as err:
                    return err.status == 404
                return False

            wait_for(absent, timeout=NAMESPACE_GONE_BOUND_S,
                     describe=f"namespace {name} to be gone")  # fmt: skip
            gone = True
            took = time.monotonic() - deleted
            assert running.running()
            # Writes into the terminating namespace are refused (403) until it is gone: each
            # refused pass is logged and retried after 10 s, never in a loop.
            failed = sum(1 for line in running.log_tail(5000).splitlines()
                         if '"reconcile failed"' in line and name in line)  # fmt: skip
            assert failed <= 3 * (took / 10 + 1), failed
        finally:
            if not gone:
                release_finalizers(k8s_api, name)
                core.delete_namespace(name)
    report("namespace deleted", scope=scope, gone_within_s=round(took, 1), failed_passes=failed,
           bound_s=NAMESPACE_GONE_BOUND_S)  # fmt: skip
