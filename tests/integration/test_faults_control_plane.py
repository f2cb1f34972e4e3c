"""Faults around the operator, on the local cluster: kube-apiserver and etcd restarted
mid-rollout, Prometheus flapping during analysis and drift evaluation, a concurrent writer
racing the operator (409), and the API server refusing the operator's writes (429). Each test
asserts what the user sees afterwards and that nothing was lost or duplicated. Figures:
`FAULTS` lines (pytest -s)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from kubernetes import client
from modelship_testing.chart import operator_release
from modelship_testing.cluster import LocalCluster
from modelship_testing.faults import (
    ConflictingWriter,
    KillPoints,
    StatusTrail,
    codes,
    fraud_model,
    now,
    operator_requests,
    report,
    throttled,
    writes,
)
from modelship_testing.fixtures import EXTERNAL, OPERATOR_IDENTITY, OperatorFactory
from modelship_testing.objects import LABEL_MD, ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.revisions import ServedRevisions
from modelship_testing.serving import TrainedModel
from modelship_testing.stands import DriftStand, stand_for
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.faults, pytest.mark.usefixtures("crds")]

TIMED = {
    "canary": {
        "steps": [
            {"setWeight": 25},
            {"pause": {"duration": "2s"}},
            {"setWeight": 50},
            {"pause": {"duration": "2s"}},
            {"setWeight": 75},
            {"pause": {"duration": "2s"}},
        ]
    }
}


@pytest.fixture
def mds(k8s_api: client.ApiClient, namespace: str) -> ModelDeployments:
    return ModelDeployments(k8s_api, namespace)


def deployments(mds: ModelDeployments) -> list[str]:
    listed = mds.apps.list_namespaced_deployment(mds.namespace, label_selector=f"{LABEL_MD}=fraud")
    return sorted(d.metadata.name for d in listed.items)


def promoted_once(mds: ModelDeployments, old: str) -> str:
    status = mds.status("fraud")
    new = str(status["stableRevision"])
    assert new != old
    assert [h["outcome"] for h in status.get("history") or [] if h["revision"] == new] == [
        "Promoted"
    ]
    assert deployments(mds) == sorted([f"fraud-{old}", f"fraud-{new}"])
    return new


def local_only() -> None:
    if EXTERNAL:
        pytest.skip("restarts the local cluster's own processes")


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_control_plane_restarted_mid_rollout_the_rollout_finishes(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient,
    local_cluster: LocalCluster, component: str,
) -> None:  # fmt: skip
    local_only()
    points = KillPoints(7 if component == "etcd" else 5, component)
    running = operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 2}, "strategy": TIMED})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    with StatusTrail(k8s_api, mds.namespace, "modeldeployments", "fraud") as trail:
        mds.set_version("fraud", "2")
        points.wait(0.5, 2.0)
        stopped = time.monotonic()
        local_cluster.stop(component)
        local_cluster.start(component)
        if component == "etcd":  # the API server reconnects by itself; wait until it serves
            wait_for(local_cluster._apiserver_ready, timeout=60, describe="the API server")
        back = time.monotonic()
        status = mds.wait(
            "fraud", lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != old,
            "the new revision to be stable", timeout=120,
        )  # fmt: skip
        moved = trail.first_change_after(back)
    promoted_once(mds, old)
    assert "RolledBack" not in trail.values("phase")
    steps = [s for s in trail.values("currentStep") if s is not None]
    assert steps == sorted(steps)
    assert running.running()
    report(f"{component} restart", down_s=round(back - stopped, 1),
           operator_resumed_after_s=round(moved - back, 1) if moved else None,
           watch_errors_seen=trail.errors, revision=status["stableRevision"])  # fmt: skip


# --- Prometheus flapping ---------------------------------------------------------------

ANALYSED = {
    "model": fraud_model(),
    "serving": {"replicas": 2},
    "strategy": {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"count": 3}}]}},
    "analysis": {
        "interval": "2s", "minSamples": 10, "failureLimit": 0, "inconclusiveLimit": 3,
        "metrics": [{"name": "error-rate", "builtin": "errorRate", "max": 0.05}],
    },
}  # fmt: skip


def flap(prometheus: PrometheusHandle, points: KillPoints, times: int) -> int:
    """Stop and start Prometheus `times` times at random moments; the outages injected."""
    for _ in range(times):
        points.wait(0.5, 3.0)
        prometheus.stop()
        points.wait(1.0, 4.0)
        prometheus.start()
    return times


@pytest.mark.prometheus
def test_prometheus_flapping_during_analysis_never_rolls_back(
    k8s_api: client.ApiClient, namespace: str, model: TrainedModel, operator: OperatorFactory,
    private_prometheus: PrometheusHandle,
) -> None:  # fmt: skip
    points = KillPoints(61, "prometheus flapping (analysis)")
    mds = ModelDeployments(k8s_api, namespace)
    served = ServedRevisions(private_prometheus, namespace)
    try:
        operator(namespaces=[namespace], env={"MODELSHIP_PROMETHEUS_URL": private_prometheus.url})
        mds.create("fraud", ANALYSED)
        old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
        served.serve(old, "1", model)
        served.traffic.start()
        with StatusTrail(k8s_api, namespace, "modeldeployments", "fraud") as trail:
            mds.set_version("fraud", "2")
            canary = mds.wait("fraud", lambda s: s.get("canaryRevision"), "the canary")[
                "canaryRevision"
            ]
            served.serve(canary, "2", model)
            mds.wait("fraud", lambda s: (s.get("analysis") or {}).get("successful"),
                     "a first successful round")  # fmt: skip
            outages = flap(private_prometheus, points, 2)
            private_prometheus.wait_for_target_up(served.job(canary))
            mds.wait_phase("fraud", "Healthy", stableRevision=canary, timeout=120)
        phases = trail.values("phase")
        failed = [(s.get("analysis") or {}).get("failed") or 0 for _, s in trail.statuses]
        inconclusive = max((s.get("analysis") or {}).get("inconclusive") or 0
                           for _, s in trail.statuses)  # fmt: skip
    finally:
        served.close()
    assert "RolledBack" not in phases, phases
    assert max(failed) == 0
    promoted_once(mds, old)
    report("prometheus flapping analysis", outages=outages, phases=phases,
           most_inconclusive=inconclusive, failed_rounds=max(failed))  # fmt: skip


@pytest.fixture
def private_stand(k8s_api: client.ApiClient, namespace: str, model: TrainedModel,
                  private_prometheus: PrometheusHandle) -> Iterator[DriftStand]:  # fmt: skip
    yield from stand_for(k8s_api, namespace, model, private_prometheus)


@pytest.mark.prometheus
def test_prometheus_flapping_during_drift_evaluation_never_gives_a_verdict_from_no_data(
    private_stand: DriftStand, operator: OperatorFactory, k8s_api: client.ApiClient,
    private_prometheus: PrometheusHandle,
) -> None:  # fmt: skip
    points = KillPoints(62, "prometheus flapping (drift)")
    private_stand.start(operator, minSamples=50)
    private_stand.wait_drifted("False", timeout=40)
    with StatusTrail(k8s_api, private_stand.namespace, "driftmonitors",
                     private_stand.monitor) as trail:  # fmt: skip
        outages = 0
        for _ in range(2):  # each outage lasts until an evaluation has met it
            points.wait(0.0, 5.0)
            private_prometheus.stop()
            outages += 1
            private_stand.wait_drifted("Unknown", timeout=30, reason="PrometheusUnavailable")
            private_prometheus.start()
            private_stand.wait_drifted("False", timeout=40)
    verdicts = trail.conditions("Drifted")
    assert not any(v.startswith("True") for v in verdicts), verdicts
    assert not [e for e in private_stand.events() if e[0] == "Warning"]
    report("prometheus flapping drift", outages=outages, verdicts=verdicts)


# --- a concurrent writer (409) and an API server answering 429 -----------------------------


def audited() -> None:
    if EXTERNAL or OPERATOR_IDENTITY != "chart":
        pytest.skip("reads the operator's requests from the local API server's audit log")


def test_a_concurrent_writer_gets_409s_and_the_rollout_neither_loses_nor_repeats_a_step(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient,
    local_cluster: LocalCluster,
) -> None:  # fmt: skip
    audited()
    operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 2}, "strategy": TIMED})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    since = now()
    with (
        StatusTrail(k8s_api, mds.namespace, "modeldeployments", "fraud") as trail,
        ConflictingWriter(k8s_api, mds.namespace, "modeldeployments", "fraud") as writer,
    ):
        mds.set_version("fraud", "2")
        mds.wait("fraud", lambda s: s.get("phase") == "Healthy" and s.get("stableRevision")
                 != old, "the new revision to be stable", timeout=120)  # fmt: skip
    promoted_once(mds, old)
    steps = [s for s in trail.values("currentStep") if s is not None]
    assert steps == sorted(steps), steps
    assert set(steps) >= {1, 3, 5}, steps  # every pause was seen in status: none lost
    assert writer.outcomes[409] > 0, writer.outcomes  # the race happened
    found = operator_requests(local_cluster.audit_log, operator_release([mds.namespace],
                                                                        False).username,
                              mds.namespace, since)  # fmt: skip
    answered = codes(found)
    assert not [c for c in answered if c >= 500], answered
    report("409 writer", writer_outcomes=dict(writer.outcomes), operator_codes=dict(answered),
           operator_writes=len(writes(found)), steps=steps)  # fmt: skip


def test_an_api_server_answering_429_delays_the_rollout_and_it_finishes_once_it_stops(
    mds: ModelDeployments, operator: OperatorFactory, k8s_api: client.ApiClient,
    local_cluster: LocalCluster, kubeconfig: str,
) -> None:  # fmt: skip
    audited()
    user = operator_release([mds.namespace], False).username
    running = operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": fraud_model(), "serving": {"replicas": 2}, "strategy": TIMED})
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    window = 15.0
    with throttled(kubeconfig, k8s_api, user, mds.namespace) as load:
        # The rollout's writes are refused whenever the seat is busy, most of the time.
        mds.set_version("fraud", "2")
        throttled_at = now()
        wait_for(lambda: (now() - throttled_at).total_seconds() >= window,
                 timeout=window + 5, describe="the 429 window to pass")  # fmt: skip
    lifted = time.monotonic()
    mds.wait("fraud", lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != old,
             "the new revision to be stable", timeout=120)  # fmt: skip
    finished = time.monotonic() - lifted
    promoted_once(mds, old)
    found = operator_requests(local_cluster.audit_log, user, mds.namespace, throttled_at)
    during = [r for r in found if r.received <= throttled_at + timedelta(seconds=window)]
    refusals = sum(1 for r in during if r.code == 429)
    assert refusals > 0
    assert refusals / window < 5, f"{refusals} refused writes in {window}s: a hot loop"
    assert not [r for r in found if r.code >= 500]
    assert running.running()
    report("429", refused_writes=refusals, window_s=window, load=dict(load.outcomes),
           finished_after_lift_s=round(finished, 1), codes=dict(codes(found)))  # fmt: skip
