"""The rollback window after a promotion, walked through against the simulated cluster:
the previous revision stays warm, the new stable is still analysed, a failure returns all
traffic to the previous revision, and an expired window retires it."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.analysis import Analysis
from modelship.api.modeldeployment import ModelDeploymentPhase as Phase
from modelship.api.modeldeployment import RolloutOutcome
from modelship.rollout.types import GateResult, Verdict
from modelship.rollout.window import analysis_subject, window_metrics
from modelship_testing.rollout_sim import Cluster, spec

ANALYSIS: dict[str, Any] = {
    "metrics": [
        {"name": "error-rate", "builtin": "errorRate", "max": 0.01},
        {"name": "p99-vs-stable", "builtin": "latencyP99", "judge": {}},
    ],
    "background": False,
}
CANARY = {"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}]}}
GATEWAY = {
    "canary": {
        "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
        "steps": [{"setWeight": 50}, {"analysis": {}}],
    }
}
BLUE_GREEN = {"blueGreen": {"scaleDownDelaySeconds": 30}}
FAILED = GateResult(Verdict.FAILED, "1 failed measurement rounds over 30s windows "
                    "(failureLimit 0): error-rate: 0.2 > max 0.01 (300 requests)")  # fmt: skip


def promoted(
    strategy: dict[str, Any], previous: int | str = 1, **rollback: Any
) -> tuple[Cluster, str, str]:
    """A ModelDeployment at 4 replicas whose version 2 was just promoted, window open."""
    window = {"duration": "10m", "previousReplicas": previous}
    # Blue-green refuses a judge: it never splits live traffic between the revisions.
    analysis = (
        {**ANALYSIS, "metrics": ANALYSIS["metrics"][:1]} if "blueGreen" in strategy else ANALYSIS
    )
    cluster = Cluster(
        spec(strategy=strategy, analysis=analysis, rollback={"window": window, **rollback})
    )
    cluster.converge()
    old = cluster.spec_revision
    cluster.spec = cluster.spec.model_copy(
        update={"model": cluster.spec.model.model_copy(update={"version": "2"})}
    )
    new = cluster.spec_revision
    cluster.gates = {"step-1": GateResult(Verdict.SUCCESSFUL)}
    cluster.converge()
    cluster.gates = {}
    assert cluster.status.stable_revision == new
    assert cluster.state.window is not None
    return cluster, old, new


@pytest.mark.parametrize(
    ("strategy", "previous", "kept"),
    [
        (CANARY, 1, 1),
        (CANARY, "50%", 2),
        (CANARY, 0, 1),  # at least one warm pod, or there is nothing to return to quickly
        (CANARY, 9, 4),  # at most all
        (GATEWAY, "25%", 1),
        (BLUE_GREEN, "100%", 4),
    ],
)
def test_the_previous_revision_keeps_warm_pods_but_no_traffic(
    strategy: dict[str, Any], previous: int | str, kept: int
) -> None:
    cluster, old, new = promoted(strategy, previous)
    cluster.tick(3)  # past the main Service's switch overlap
    plan = cluster.converge()
    assert cluster.replicas() == {old: kept, new: 4}
    assert plan.traffic.service_revision == new
    assert plan.traffic.stable_revision == new
    assert plan.traffic.canary_weight == 0
    assert cluster.status.phase is Phase.HEALTHY
    assert f"rollback window open until {cluster.state.window.until.isoformat()}" in (  # type: ignore[union-attr]
        cluster.status.message
    )
    assert f"revision {old} keeps {kept} pods, analysing error-rate" in cluster.status.message
    assert plan.requeue_after == pytest.approx(597)
    opened = [e for e in cluster.events if e.reason == "RollbackWindowOpened"]
    assert len(opened) == 1


def test_the_window_analyses_the_new_stable_against_the_previous_without_judged_metrics() -> None:
    cluster, old, new = promoted(CANARY)
    plan = cluster.step()
    assert set(plan.gates) == {"background"}
    assert plan.gates["background"].metrics == ["error-rate"]
    analysed, started = analysis_subject(plan)
    assert (analysed.canary_revision, analysed.stable_revision) == (new, old)
    assert started == cluster.state.window.opened_at  # type: ignore[union-attr]
    # A canary in progress is analysed as before.
    assert plan.status.canary_revision is None


@pytest.mark.parametrize(
    ("strategy", "failed_replicas"),
    [
        # All three keep the failed pods while traffic moves: with the replicas router until
        # the Service selects the previous revision alone (a scale-down in the same pass
        # could leave it without endpoints), behind a route for the scale-down delay.
        (CANARY, 4),
        (GATEWAY, 4),
        (BLUE_GREEN, 4),
    ],
)
def test_a_failure_in_the_window_returns_traffic_to_the_previous_revision(
    strategy: dict[str, Any], failed_replicas: int
) -> None:
    cluster, old, new = promoted(strategy, previous=1)
    cluster.step()
    cluster.gates = {"background": FAILED}
    plan = cluster.step()
    assert cluster.status.stable_revision == old
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.replicas() == {old: 4, new: failed_replicas}
    assert plan.traffic.stable_revision == old
    assert plan.traffic.service_revision in (old, None)  # None: a switch's overlap moment
    assert plan.traffic.canary_weight == 0
    assert cluster.state.window is None
    assert cluster.state.held_revision == new
    entry = (cluster.status.history or [])[0]
    assert entry.outcome is RolloutOutcome.ROLLED_BACK_AFTER_PROMOTION
    assert entry.revision == new
    assert "error-rate: 0.2 > max 0.01 (300 requests)" in entry.reason
    assert "over 30s windows" in entry.reason
    events = [e for e in plan.events if e.reason == "RolledBackAfterPromotion"]
    assert [e.type for e in events] == ["Warning"]
    assert f"all traffic back to revision {old}" in events[0].message
    assert "error-rate: 0.2 > max 0.01" in cluster.status.message

    cluster.gates = {}
    if strategy is CANARY:
        # The Service selects the previous revision alone before the failed pods go.
        cluster.tick(3)
        plan = cluster.step()
        assert plan.traffic.service_revision == old
        assert cluster.replicas()[new] == 4
        plan = cluster.step()
        assert plan.traffic.service_revision == old
        assert cluster.replicas()[new] == 0
        plan = cluster.step()  # the failed pods are gone: every serving pod again
        assert plan.traffic.service_revision is None
        assert cluster.state.returned_from is None
    cluster.tick(60)
    cluster.converge()  # held: no new rollout of the failed revision
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.status.stable_revision == old
    assert cluster.replicas()[new] == 0
    assert cluster.replicas()[old] == 4


def test_a_failure_with_manual_rollback_waits_for_a_person() -> None:
    cluster, old, new = promoted(CANARY, automatic=False)
    cluster.gates = {"background": FAILED}
    cluster.step()
    assert cluster.status.phase is Phase.DEGRADED
    assert cluster.status.stable_revision == new
    assert f"modelship.io/rollback-to={old}" in cluster.status.message
    assert cluster.replicas()[old] == 1


def test_an_expired_window_retires_the_previous_revision() -> None:
    cluster, old, new = promoted(CANARY, previous=2)
    cluster.converge()
    cluster.tick(601)
    plan = cluster.converge()
    assert cluster.state.window is None
    assert cluster.replicas() == {old: 0, new: 4}
    assert plan.traffic.service_revision is None  # replicas router: every serving pod
    assert "rollback window" not in cluster.status.message
    closed = [e for e in cluster.events if e.reason == "RollbackWindowClosed"]
    assert len(closed) == 1
    assert "passed its rollback window (10m)" in closed[0].message
    # A failure after the window is an ordinary analysis matter: nothing is measured now.
    assert plan.gates == {}


def test_a_new_rollout_closes_the_window() -> None:
    cluster, _old, new = promoted(CANARY)
    cluster.spec = cluster.spec.model_copy(
        update={"model": cluster.spec.model.model_copy(update={"version": "3"})}
    )
    cluster.step()
    assert cluster.state.window is None
    assert cluster.status.stable_revision == new
    assert any(e.reason == "RollbackWindowClosed" for e in cluster.events)


def test_a_window_does_not_open_on_the_first_revision() -> None:
    cluster = Cluster(
        spec(strategy=CANARY, analysis=ANALYSIS, rollback={"window": {"duration": "5m"}})
    )
    cluster.converge()
    assert cluster.state.window is None


def test_window_metrics_leave_out_judged_ones() -> None:
    assert window_metrics(Analysis.model_validate(ANALYSIS)) == ["error-rate"]
    assert window_metrics(None) == []


def test_a_canary_at_100_percent_serves_alone_while_the_window_keeps_stable_warm() -> None:
    steps = {"canary": {"steps": [{"setWeight": 100}, {"pause": {}}]}}
    analysis = {**ANALYSIS, "metrics": ANALYSIS["metrics"][:1]}
    cluster = Cluster(
        spec(strategy=steps, analysis=analysis, rollback={"window": {"duration": "10m"}})
    )
    cluster.converge()
    old = cluster.spec_revision
    cluster.spec = cluster.spec.model_copy(
        update={"model": cluster.spec.model.model_copy(update={"version": "2"})}
    )
    new = cluster.spec_revision
    plan = cluster.converge()  # at the pause, weight 100
    assert cluster.status.canary_weight == 100
    assert cluster.replicas()[old] > 0  # warm for the window to come
    assert plan.traffic is not None
    assert plan.traffic.service_revision == new  # but serving nothing
