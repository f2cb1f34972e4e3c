"""The rollout planner, walked through whole rollouts against a simulated cluster."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.modeldeployment import ModelDeploymentPhase as Phase
from modelship.api.modeldeployment import RolloutOutcome
from modelship.rollout.planner import STABLE_PODS_DEADLINE_SECONDS
from modelship.rollout.types import Control, GateResult, Verdict
from modelship_testing.rollout_sim import Cluster, spec

CANARY_STEPS: dict[str, Any] = {
    "canary": {
        "steps": [
            {"setWeight": 25},
            {"pause": {}},
            {"setWeight": 50},
            {"pause": {"duration": "5m"}},
            {"analysis": {}},
        ]
    }
}
ANALYSIS: dict[str, Any] = {
    "metrics": [{"name": "error-rate", "builtin": "errorRate", "max": 0.01}],
    "background": False,
}


def deployed(**fields: Any) -> Cluster:
    """A ModelDeployment whose first revision is up and Healthy."""
    fields.setdefault("analysis", ANALYSIS)
    cluster = Cluster(spec(**fields))
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY
    return cluster


def new_version(cluster: Cluster, version: str = "2") -> tuple[str, str]:
    old = cluster.spec_revision
    cluster.spec = cluster.spec.model_copy(
        update={"model": cluster.spec.model.model_copy(update={"version": version})}
    )
    return old, cluster.spec_revision


def test_first_revision_goes_straight_to_all_traffic() -> None:
    cluster = Cluster(spec(replicas=3))
    plan = cluster.step()
    assert plan.replicas == {cluster.spec_revision: 3}
    assert cluster.status.phase is Phase.PROGRESSING
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY
    assert cluster.status.stable_revision == cluster.spec_revision
    assert cluster.status.canary_revision is None
    assert [h.outcome for h in cluster.status.history or []] == [RolloutOutcome.PROMOTED]
    assert [e.reason for e in plan.events] == ["Deploying"]


def test_converged_object_plans_no_change() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    before = (cluster.status, cluster.state, cluster.replicas())
    plan = cluster.step()
    assert (plan.status, plan.state, cluster.replicas()) == before
    assert plan.events == []
    assert plan.requeue_after is None


def test_canary_walks_its_steps_and_promotes() -> None:
    cluster = deployed(strategy=CANARY_STEPS, analysis=ANALYSIS)
    old, new = new_version(cluster)

    cluster.converge()  # setWeight 25, then the indefinite pause
    assert cluster.status.phase is Phase.PAUSED
    assert cluster.status.current_step == 1
    assert cluster.replicas() == {old: 3, new: 1}
    assert cluster.status.canary_weight == 25

    cluster.control = Control(promote="step")
    cluster.converge()  # setWeight 50, then the 5-minute pause
    assert cluster.status.current_step == 3
    assert cluster.replicas() == {old: 2, new: 2}
    assert cluster.last is not None
    assert cluster.last.requeue_after == pytest.approx(300)

    cluster.tick(301)
    plan = cluster.converge()  # the analysis step asks for a verdict
    assert cluster.status.current_step == 4
    assert cluster.status.phase is Phase.PROGRESSING
    assert set(plan.gates) == {"step-4"}

    cluster.gates = {"step-4": GateResult(Verdict.SUCCESSFUL)}
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY
    assert cluster.status.stable_revision == new
    assert cluster.status.canary_revision is None
    assert cluster.replicas() == {old: 0, new: 4}
    assert cluster.status.history is not None
    assert cluster.status.history[0].outcome is RolloutOutcome.PROMOTED
    assert cluster.status.history[0].model_version == "2"


def test_failed_analysis_rolls_back_and_holds_the_revision() -> None:
    cluster = deployed(strategy=CANARY_STEPS, analysis=ANALYSIS)
    old, new = new_version(cluster)
    cluster.control = Control(promote="full")
    cluster.gates = {}
    cluster.step()
    cluster.state = cluster.state  # promote=full skipped every step: now promoting
    cluster.converge()
    assert cluster.status.stable_revision == new  # full promotion skips gates

    old, newer = new_version(cluster, "3")
    cluster.converge()
    cluster.control = Control(promote="step")
    cluster.converge()
    cluster.tick(301)
    cluster.converge()
    failing = GateResult(Verdict.FAILED, "error-rate 0.2 > max 0.01")
    cluster.gates = {"step-4": failing}
    plan = cluster.step()
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert plan.replicas[old] == 4
    # The canary's pods go only as the stable's come back: no moment without capacity.
    assert plan.replicas[newer] == 2
    assert plan.traffic.canary_weight == 0
    assert "error-rate 0.2 > max 0.01" in cluster.status.message
    assert any(e.reason == "RolledBack" and e.type == "Warning" for e in plan.events)
    assert cluster.status.history is not None
    assert cluster.status.history[0].outcome is RolloutOutcome.ROLLED_BACK

    cluster.gates = {}
    cluster.converge()  # no new rollout of the same revision
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.status.canary_revision is None
    assert cluster.replicas()[newer] == 0

    cluster.control = Control(retry=True)
    plan = cluster.step()
    assert cluster.status.canary_revision == newer
    assert cluster.status.current_step == 0  # waiting for the canary's pods at setWeight 25
    started = [e.message for e in plan.events if e.reason == "RolloutStarted"]
    assert started == [f"retry requested: canary of revision {newer} (model version 3)"]


def test_inconclusive_analysis_pauses_and_never_rolls_back() -> None:
    cluster = deployed(
        strategy={"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}]}}, analysis=ANALYSIS
    )
    old, new = new_version(cluster)
    cluster.gates = {"step-1": GateResult(Verdict.INCONCLUSIVE, "Prometheus unreachable")}
    plan = cluster.converge()
    assert cluster.status.phase is Phase.PAUSED
    assert "inconclusive" in cluster.status.message
    assert cluster.replicas() == {old: 2, new: 2}
    assert "step-1" in plan.gates  # still measuring, so it continues when data returns
    cluster.gates = {"step-1": GateResult(Verdict.SUCCESSFUL)}
    cluster.converge()
    assert cluster.status.stable_revision == new


def test_background_analysis_failure_aborts_at_any_step() -> None:
    cluster = deployed(strategy=CANARY_STEPS, analysis={**ANALYSIS, "background": True})
    old, new = new_version(cluster)
    plan = cluster.converge()
    assert "background" in plan.gates
    cluster.gates = {"background": GateResult(Verdict.FAILED, "p99 0.9 > max 0.25")}
    cluster.converge()
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.replicas() == {old: 4, new: 0}


def test_manual_rollback_setting_waits_for_a_person() -> None:
    cluster = deployed(
        strategy={"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}]}},
        analysis=ANALYSIS,
        rollback={"automatic": False},
    )
    old, new = new_version(cluster)
    cluster.gates = {"step-1": GateResult(Verdict.FAILED, "too many errors")}
    cluster.converge()
    assert cluster.status.phase is Phase.DEGRADED
    assert cluster.replicas() == {old: 2, new: 2}
    cluster.control = Control(abort=True)
    cluster.converge()
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.replicas() == {old: 4, new: 0}


def test_abort_returns_all_traffic_to_stable() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    old, new = new_version(cluster)
    cluster.converge()
    cluster.control = Control(abort=True)
    plan = cluster.step()
    cluster.converge()
    assert cluster.replicas() == {old: 4, new: 0}
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.status.history is not None
    assert cluster.status.history[0].outcome is RolloutOutcome.ABORTED
    assert any(e.reason == "Aborted" for e in plan.events)


def test_spec_back_to_stable_drops_the_canary_without_a_new_rollout() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    old, new = new_version(cluster)
    cluster.converge()
    new_version(cluster, "1")
    assert cluster.spec_revision == old
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY
    assert cluster.status.stable_revision == old
    assert cluster.replicas() == {old: 4, new: 0}
    assert cluster.status.history is not None
    assert cluster.status.history[0].outcome is RolloutOutcome.SUPERSEDED


def test_spec_change_mid_rollout_restarts_from_the_first_step() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    old, second = new_version(cluster)
    cluster.converge()
    cluster.control = Control(promote="step")
    cluster.converge()
    assert cluster.status.current_step == 3
    _, third = new_version(cluster, "3")
    cluster.converge()
    assert cluster.status.canary_revision == third
    assert cluster.status.current_step == 1
    assert cluster.replicas() == {old: 3, second: 0, third: 1}


@pytest.mark.parametrize(
    ("replicas", "weight", "stable", "canary"),
    [(1, 10, 1, 1), (4, 0, 4, 0), (4, 100, 0, 4), (10, 30, 7, 3), (3, 50, 2, 2)],
)
def test_weight_to_replicas(replicas: int, weight: int, stable: int, canary: int) -> None:
    steps = {"canary": {"steps": [{"setWeight": weight}, {"pause": {}}]}}
    cluster = deployed(replicas=replicas, strategy=steps)
    old, new = new_version(cluster)
    cluster.converge()
    assert cluster.status.phase is Phase.PAUSED
    assert cluster.replicas() == {old: stable, new: canary}


def test_stable_keeps_capacity_until_canary_pods_are_ready() -> None:
    cluster = deployed(strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    old, new = new_version(cluster)
    cluster.pods_become_ready = False
    plan = cluster.step()
    assert plan.replicas == {new: 2, old: 4}
    plan = cluster.step()
    assert plan.replicas[old] == 4  # none of the canary's pods is ready yet
    cluster.pods_become_ready = True
    cluster.converge()
    assert cluster.replicas() == {old: 2, new: 2}


def test_gateway_router_weights_keep_full_stable_capacity() -> None:
    steps = {
        "canary": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "steps": [{"setWeight": 20}, {"pause": {}}],
        }
    }
    cluster = deployed(strategy=steps, replicas=5)
    old, new = new_version(cluster)
    plan = cluster.step()
    assert plan.traffic.canary_weight == 0  # canary pods are not ready yet
    plan = cluster.converge()
    assert cluster.replicas() == {old: 5, new: 1}
    assert plan.traffic.canary_weight == 20
    assert plan.traffic.service_revision == old


def test_paused_annotation_holds_progress() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    new_version(cluster)
    cluster.control = Control(paused=True)
    cluster.converge()
    assert cluster.status.phase is Phase.PAUSED
    assert "modelship.io/paused" in cluster.status.message
    cluster.control = Control(paused=False)
    cluster.converge()
    assert cluster.status.current_step == 1  # the strategy's own pause


BLUE_GREEN: dict[str, Any] = {
    "blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 60}
}


def test_blue_green_switches_only_on_promotion_and_keeps_old_pods_for_the_delay() -> None:
    cluster = deployed(strategy=BLUE_GREEN)
    old, new = new_version(cluster)
    plan = cluster.converge()
    assert cluster.status.phase is Phase.PAUSED
    assert plan.traffic.service_revision == old
    assert plan.traffic.preview
    assert plan.traffic.canary_revision == new
    assert cluster.replicas() == {old: 4, new: 4}

    cluster.control = Control(promote="step")
    plan = cluster.step()
    assert plan.traffic.service_revision is None  # both revisions for a moment: no gap
    assert cluster.status.stable_revision == new
    assert plan.requeue_after == pytest.approx(2)
    cluster.tick(2)
    plan = cluster.step()
    assert plan.traffic.service_revision == new
    cluster.converge()
    assert cluster.replicas() == {old: 4, new: 4}  # kept for the scale-down delay
    cluster.tick(61)
    cluster.converge()
    assert cluster.replicas() == {old: 0, new: 4}


def test_blue_green_post_promotion_failure_switches_back_instantly() -> None:
    strategy = {"blueGreen": {"postPromotionAnalysis": {}}}
    cluster = deployed(strategy=strategy, analysis=ANALYSIS)
    old, new = new_version(cluster)
    cluster.converge()  # auto-promotion: switched, now analysing
    cluster.tick(2)
    plan = cluster.converge()
    assert plan.traffic.service_revision == new
    assert "postPromotion" in plan.gates
    cluster.gates = {"postPromotion": GateResult(Verdict.FAILED, "errors")}
    plan = cluster.step()
    assert plan.traffic.service_revision is None  # both for a moment, then the old one
    cluster.tick(2)
    plan = cluster.step()
    assert plan.traffic.service_revision == old
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert plan.replicas[old] == 4


def test_promoting_past_a_failed_analysis_reports_the_new_stable_at_once() -> None:
    strategy = {"blueGreen": {"postPromotionAnalysis": {}}}
    cluster = deployed(strategy=strategy, analysis=ANALYSIS, rollback={"automatic": False})
    old, new = new_version(cluster)
    cluster.converge()
    cluster.tick(2)
    cluster.converge()
    cluster.gates = {"postPromotion": GateResult(Verdict.FAILED, "errors")}
    cluster.converge()
    assert cluster.status.phase is Phase.DEGRADED  # waits for a person: abort or promote
    cluster.control = Control(promote="step")
    plan = cluster.step()
    assert cluster.status.stable_revision == new
    assert cluster.status.phase is Phase.HEALTHY  # not the Degraded of the pass before
    assert "abort or promote" not in cluster.status.message
    assert [e.reason for e in plan.events] == ["Promoted", "Healthy"]
    assert plan.replicas[old] == 4  # kept up for the scale-down delay


def test_blue_green_auto_promotion_after_delay() -> None:
    cluster = deployed(strategy={"blueGreen": {"autoPromotionSeconds": 120}})
    old, new = new_version(cluster)
    plan = cluster.converge()
    assert plan.requeue_after == pytest.approx(120)
    assert plan.traffic.service_revision == old
    cluster.tick(121)
    plan = cluster.converge()
    assert cluster.status.stable_revision == new


def test_rollback_to_a_revision_from_history() -> None:
    cluster = deployed()
    first = cluster.spec_revision
    _, second = new_version(cluster)
    cluster.converge()
    assert cluster.status.stable_revision == second
    cluster.control = Control(rollback_to=first)
    cluster.converge()
    assert cluster.status.stable_revision == first
    assert cluster.replicas() == {first: 4, second: 0}
    cluster.converge()  # the rollback stays in force while the spec is unchanged
    assert cluster.status.stable_revision == first
    _, third = new_version(cluster, "3")
    cluster.converge()
    assert cluster.status.stable_revision == third


def test_rollback_to_an_unknown_revision_is_reported() -> None:
    cluster = deployed()
    cluster.control = Control(rollback_to="0000000000")
    plan = cluster.step()
    assert any(e.reason == "RollbackFailed" for e in plan.events)
    assert cluster.status.phase is Phase.HEALTHY


def test_rolling_update_respects_surge() -> None:
    cluster = deployed(strategy={"rolling": {"maxSurge": 1, "maxUnavailable": 0}})
    old, new = new_version(cluster)
    cluster.pods_become_ready = False
    plan = cluster.step()
    assert plan.replicas == {new: 1, old: 4}
    cluster.pods_become_ready = True
    cluster.converge()
    assert cluster.replicas() == {old: 0, new: 4}
    assert cluster.status.stable_revision == new


def test_autoscaled_stable_leaves_replicas_to_the_hpa() -> None:
    autoscaling = {"minReplicas": 2, "maxReplicas": 10}
    cluster = Cluster(spec(serving={"replicas": 2, "autoscaling": autoscaling}))
    cluster.converge()
    cluster.autoscaled = 6
    plan = cluster.step()
    assert plan.replicas[cluster.spec_revision] is None


def test_deleted_stable_deployment_is_recreated() -> None:
    cluster = deployed()
    del cluster.revisions[cluster.spec_revision]
    created = cluster.created
    plan = cluster.step()
    assert plan.replicas == {cluster.spec_revision: 4}
    assert cluster.created == created + 1
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY


def test_old_revisions_beyond_the_history_limit_are_deleted() -> None:
    cluster = deployed(rollback={"revisionHistoryLimit": 2})
    revisions = [cluster.spec_revision]
    for version in ("2", "3", "4", "5"):
        cluster.tick(60)
        revisions.append(new_version(cluster, version)[1])
        cluster.converge()
    assert set(cluster.revisions) == {revisions[-1], revisions[-2], revisions[-3]}
    assert len(cluster.status.history or []) == 2


def test_shadow_then_canary() -> None:
    strategy = {
        "shadow": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "mirrorPercentage": 50,
            "duration": "10m",
            "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]},
        }
    }
    cluster = deployed(strategy=strategy)
    old, new = new_version(cluster)
    plan = cluster.converge()
    assert plan.traffic.mirror_percent == 50
    assert plan.traffic.service_revision == old
    assert cluster.replicas() == {old: 4, new: 2}
    cluster.tick(601)
    cluster.converge()
    assert cluster.status.phase is Phase.PAUSED  # the canary's pause
    assert cluster.replicas() == {old: 4, new: 2}


def test_shadow_drop_records_the_evaluation_and_stays_healthy() -> None:
    strategy = {
        "shadow": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "duration": "1m",
            "then": "drop",
        }
    }
    cluster = deployed(strategy=strategy)
    old, new = new_version(cluster)
    cluster.converge()
    cluster.tick(61)
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY
    assert cluster.replicas() == {old: 4, new: 4}  # the mirror moves away first
    cluster.tick(31)
    cluster.converge()
    assert cluster.replicas() == {old: 4, new: 0}
    assert cluster.status.history is not None
    assert cluster.status.history[0].outcome is RolloutOutcome.DROPPED


def test_blue_green_manual_promotion_with_a_small_preview_completes() -> None:
    strategy = {"blueGreen": {"autoPromotionEnabled": False, "previewReplicas": 1}}
    cluster = deployed(strategy=strategy)
    old, new = new_version(cluster)
    cluster.converge()
    assert cluster.replicas() == {old: 4, new: 1}
    cluster.control = Control(promote="step")
    cluster.pods_become_ready = False
    cluster.step()  # the preview scales up; its pods are not ready yet
    cluster.pods_become_ready = True
    cluster.converge()
    assert cluster.status.stable_revision == new
    assert cluster.status.phase is Phase.HEALTHY


def test_paused_annotation_holds_a_rolling_update() -> None:
    cluster = deployed(strategy={"rolling": {"maxSurge": 1, "maxUnavailable": 0}})
    old, new = new_version(cluster)
    cluster.pods_become_ready = False
    cluster.step()
    cluster.control = Control(paused=True)
    cluster.pods_become_ready = True
    cluster.converge()
    assert cluster.status.phase is Phase.PAUSED
    assert cluster.replicas() == {old: 4, new: 1}
    cluster.control = Control()
    cluster.converge()
    assert cluster.status.stable_revision == new


def test_rollback_at_full_weight_never_leaves_the_service_without_ready_pods() -> None:
    steps = {"canary": {"steps": [{"setWeight": 100}, {"analysis": {}}]}}
    cluster = deployed(strategy=steps)
    old, new = new_version(cluster)
    cluster.converge()
    assert cluster.replicas() == {old: 0, new: 4}
    cluster.gates = {"step-1": GateResult(Verdict.FAILED, "errors")}
    cluster.pods_become_ready = False
    plan = cluster.step()
    assert plan.replicas[old] == 4
    assert plan.replicas[new] == 4  # the stable has no ready pod yet
    cluster.pods_become_ready = True
    cluster.settle_pods()
    cluster.converge()
    assert cluster.replicas() == {old: 4, new: 0}


def test_abort_behind_a_gateway_keeps_canary_pods_while_the_route_moves() -> None:
    steps = {
        "canary": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "steps": [{"setWeight": 50}, {"pause": {}}],
        }
    }
    cluster = deployed(strategy=steps)
    old, new = new_version(cluster)
    cluster.converge()
    cluster.control = Control(abort=True)
    plan = cluster.step()
    assert plan.traffic.canary_weight == 0
    assert new not in plan.replicas  # untouched for now
    cluster.tick(31)
    cluster.converge()
    assert cluster.replicas() == {old: 4, new: 0}


def test_pods_that_never_become_ready_are_reported_with_what_to_check() -> None:
    from dataclasses import replace

    cluster = Cluster(spec())
    cluster.pods_become_ready = False
    cluster.step()
    assert cluster.status.phase is Phase.PROGRESSING
    revision = cluster.spec_revision
    cluster.revisions[revision] = replace(cluster.revisions[revision], stuck=True)
    cluster.step()
    assert cluster.status.phase is Phase.DEGRADED
    assert "ProgressDeadlineExceeded" in cluster.status.message
    assert "model URI" in cluster.status.message


def test_promote_while_paused_waits_for_the_pause_to_lift() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    cluster.annotations = {}
    _, new = new_version(cluster)
    cluster.converge()
    assert (cluster.status.phase, cluster.status.current_step) == (Phase.PAUSED, 1)

    cluster.annotations = {"modelship.io/paused": "true", "modelship.io/promote": "1"}
    cluster.converge()
    assert cluster.status.current_step == 1  # held by the pause annotation
    deferred = [e for e in cluster.events if e.reason == "PromoteDeferred"]
    assert len(deferred) == 1, "announced once, not on every reconcile"
    assert "acts as soon as the pause is lifted" in deferred[0].message

    cluster.annotations = {"modelship.io/promote": "1"}
    cluster.converge()
    assert cluster.status.current_step == 3  # the promote ended the pause: now the 5m pause
    assert cluster.status.canary_revision == new
    cluster.converge()
    assert cluster.status.current_step == 3  # and it acted once


def test_rollback_to_reports_the_version_it_serves() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    first = cluster.spec_revision
    new_version(cluster, "8")
    cluster.control = Control(promote="full")
    cluster.converge()
    cluster.control = Control(rollback_to=first)
    cluster.converge()
    assert cluster.status.stable_revision == first
    started = [e.message for e in cluster.events if e.reason == "RolloutStarted"]
    assert started[-1] == f"rollback requested: rollback of revision {first} (model version 1)"
    assert "(model version 1) serves all traffic" in cluster.status.message
    assert cluster.status.history is not None
    assert cluster.status.history[0].model_version == "1"


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"modelship.io/paused": "maybe"}, "modelship.io/paused='maybe' is neither true nor false"),
        ({"modelship.io/promote-ful": "1"}, "did you mean modelship.io/promote-full?"),
        ({"modelship.io/frobnicate": "x"}, "known: modelship.io/paused"),
    ],
)
def test_annotations_that_mean_nothing_are_reported_once(
    annotations: dict[str, str], expected: str
) -> None:
    cluster = deployed()
    cluster.annotations = dict(annotations)
    cluster.converge()
    cluster.converge()
    warnings = [e for e in cluster.events if e.reason == "UnrecognisedControl"]
    assert len(warnings) == 1
    assert warnings[0].type == "Warning"
    assert expected in warnings[0].message
    cluster.annotations = {}
    cluster.converge()
    cluster.annotations = dict(annotations)
    cluster.converge()
    assert len([e for e in cluster.events if e.reason == "UnrecognisedControl"]) == 2


def test_a_full_promotion_is_recorded_as_such() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    new_version(cluster)
    cluster.converge()
    cluster.pods_become_ready = False
    cluster.control = Control(promote="full")
    cluster.converge()  # all pods to the canary; they are not ready yet
    assert cluster.status.canary_revision is not None
    cluster.pods_become_ready = True
    cluster.converge()
    assert cluster.status.canary_revision is None
    assert cluster.status.history is not None
    assert cluster.status.history[0].reason == "promoted in full by modelship.io/promote-full"
    _, third = new_version(cluster, "3")
    cluster.converge()
    cluster.control = Control(promote="step")
    cluster.converge()
    cluster.tick(301)
    cluster.gates = {"step-4": GateResult(Verdict.SUCCESSFUL)}
    cluster.converge()
    assert cluster.status.stable_revision == third
    assert cluster.status.history[0].reason == "canary steps completed"


def test_status_names_the_version_that_serves() -> None:
    """VERSION in `kubectl get md` is the stable revision's model version, not the spec's."""
    cluster = deployed(strategy=CANARY_STEPS)
    first = cluster.spec_revision
    assert cluster.state.stable_version == "1"
    new_version(cluster, "8")
    cluster.converge()  # the canary of 8 waits at its pause: 1 still serves
    assert cluster.status.canary_revision is not None
    assert cluster.state.stable_version == "1"
    cluster.control = Control(promote="full")
    cluster.converge()
    assert cluster.state.stable_version == "8"
    cluster.control = Control(rollback_to=first)
    cluster.converge()
    assert cluster.spec.model.version == "8"
    assert cluster.status.stable_revision == first
    assert cluster.state.stable_version == "1"


def test_step_counts_from_one_as_the_messages_do() -> None:
    cluster = deployed(strategy=CANARY_STEPS)
    assert cluster.state.step is None  # no canary steps run
    new_version(cluster)
    cluster.converge()
    assert cluster.status.current_step == 1
    assert cluster.state.step == "2/5"
    assert cluster.status.message.startswith("step 2/5:")
    cluster.control = Control(promote="step")
    cluster.converge()
    assert (cluster.status.current_step, cluster.state.step) == (3, "4/5")
    cluster.tick(301)
    cluster.converge()
    assert (cluster.status.current_step, cluster.state.step) == (4, "5/5")
    cluster.gates = {"step-4": GateResult(Verdict.SUCCESSFUL)}
    cluster.converge()
    assert cluster.status.phase is Phase.HEALTHY
    assert (cluster.status.current_step, cluster.state.step) == (None, None)


def test_step_is_absent_without_canary_steps() -> None:
    shadow = {
        "shadow": {
            "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
            "duration": "10m",
            "canary": {"steps": [{"setWeight": 50}, {"pause": {}}]},
        }
    }
    cluster = deployed(strategy=shadow)
    new_version(cluster)
    cluster.converge()
    assert cluster.status.canary_revision is not None
    assert cluster.state.step is None  # mirroring: no canary step yet
    cluster.tick(601)
    cluster.converge()
    assert cluster.state.step == "2/2"
    rolling = deployed(replicas=4)
    new_version(rolling)
    rolling.pods_become_ready = False
    rolling.converge()
    assert rolling.status.phase is Phase.PROGRESSING
    assert rolling.state.step is None


@pytest.mark.parametrize("replicas", [2, 4])
def test_an_abort_waits_for_the_stable_to_scale_back_before_it_reports_rolled_back(
    replicas: int,
) -> None:
    steps = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}
    cluster = deployed(strategy=steps, replicas=replicas)
    old, new = new_version(cluster)
    cluster.converge()
    assert cluster.status.phase is Phase.PAUSED
    cluster.control = Control(abort=True)
    cluster.pods_become_ready = False  # the stable's new pods start slowly
    phases = []
    for _ in range(6):
        cluster.step()
        cluster.tick(31)
        phases.append(cluster.status.phase)
    assert Phase.DEGRADED not in phases, phases  # starting pods are not lost ones
    assert phases[-1] is Phase.PROGRESSING
    assert cluster.last is not None
    assert cluster.last.requeue_after is not None  # it looks again when the wait runs out
    # Pods that never become ready: Degraded once the wait is over (a Deployment scaled up
    # after a finished rollout never reports ProgressDeadlineExceeded itself).
    cluster.tick(STABLE_PODS_DEADLINE_SECONDS)
    cluster.step()
    assert cluster.status.phase is Phase.DEGRADED
    assert cluster.status.message.endswith(
        f"pods available after {STABLE_PODS_DEADLINE_SECONDS:.0f} s"
    )
    cluster.pods_become_ready = True
    cluster.converge()
    assert cluster.status.phase is Phase.ROLLED_BACK
    assert cluster.replicas() == {old: replicas, new: 0}


def test_a_stable_that_loses_a_ready_pod_is_degraded() -> None:
    from dataclasses import replace

    cluster = deployed()
    revision = cluster.spec_revision
    cluster.revisions[revision] = replace(cluster.revisions[revision], ready=3, available=3)
    cluster.pods_become_ready = False
    cluster.step()
    assert cluster.status.phase is Phase.DEGRADED
    assert cluster.status.message == f"revision {revision}: only 3/4 pods available"
    cluster.pods_become_ready = True
    cluster.step()
    cluster.step()
    assert cluster.status.phase is Phase.HEALTHY
