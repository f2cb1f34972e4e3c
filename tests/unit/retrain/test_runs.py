"""The RetrainPolicy planner: triggers, storm control, cooldown, concurrency, the run state
machine and the circuit breaker, as a walk through plan_policy with the cluster faked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.api.modeldeployment import Model
from modelship.api.retrainpolicy import RetrainPolicySpec, RetrainPolicyStatus
from modelship.retrain.gate import gate
from modelship.retrain.jobs import JobObserved, ServingModel, label_value, new_version, run_name
from modelship.retrain.runs import (
    JOB_GRACE_SECONDS,
    NO_POD_SECONDS,
    PolicyInput,
    PolicyPlan,
    fail_active,
    plan_policy,
)
from modelship.retrain.status import policy_assessment
from modelship.retrain.triggers import schedule_due

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SERVING = ServingModel("fraud", "7", "s3://models/fraud/7/")
SPEC_MODEL = Model(name="fraud", version="7", uri="s3://models/fraud/7/")
RESULT = "s3://models/fraud/7-r1/result.json"  # run 1's result file at its output URI
TEMPLATE = {
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "train", "image": "trainer:1", "args": ["--data", "s3://d/"],
                     "env": [{"name": "MODELSHIP_TRIGGER", "value": "mine"}]}
                ]
            }
        }
    }
}  # fmt: skip


def spec(**fields: Any) -> RetrainPolicySpec:
    base = {
        "modelDeploymentRef": "fraud",
        "triggers": {"drift": {"driftMonitorRef": "fraud-drift"}},
        "cooldown": "1h",
        "job": {"template": TEMPLATE},
        "output": {"uri": "s3://models/fraud/{version}/"},
        "validation": {"minMetrics": {"accuracy": 0.9}},
        "promotion": "auto",
    }
    return RetrainPolicySpec.model_validate({**base, **fields})


def monitor(evaluated: datetime, drifted: bool, actions: list[str] | None = None) -> dict[str, Any]:
    return {"spec": {"actions": {"onDrift": actions or ["event", "retrain"]}}, "status": {
        "lastEvaluationTime": evaluated.isoformat(),
        "conditions": [
            {"type": "Drifted", "status": "True" if drifted else "False",
             "reason": "DatasetDrift" if drifted else "NoDrift", "message": ""}
        ],
        "features": [{"name": "amount", "method": "psi", "score": 0.9,
                      "severity": "critical" if drifted else "none"}],
    }}  # fmt: skip


POLICY = {
    "metadata": {
        "name": "fraud-retrain", "namespace": "ml", "uid": "u-1", "generation": 1,
        "creationTimestamp": (T0 - timedelta(days=1)).isoformat(), "annotations": {},
    }
}  # fmt: skip


class World:
    """The cluster as the planner sees it, advanced pass by pass like a reconciler."""

    def __init__(self, policy_spec: RetrainPolicySpec) -> None:
        self.spec = policy_spec
        self.status = RetrainPolicyStatus()
        self.now = T0
        self.monitors: dict[str, Any] = {"fraud-drift": monitor(T0, False)}
        self.jobs: dict[str, JobObserved] = {}
        self.created: list[dict[str, Any]] = []
        self.rollouts: dict[str, str] = {}
        self.annotations: dict[str, str] = {}
        self.generation = 1
        self.last: PolicyPlan | None = None
        self.spec_model: Model | None = SPEC_MODEL

    def evaluate(self, drifted: bool, minutes: int = 5) -> None:
        self.now += timedelta(minutes=minutes)
        self.monitors["fraud-drift"] = monitor(self.now, drifted)

    def replan(self, jobs: dict[str, JobObserved] | None = None,
               results: dict[str, str | None] | None = None) -> PolicyPlan:  # fmt: skip
        """What a pass (a restarted operator's first, say) plans from the status as written
        and the cluster's Jobs, without applying it."""
        policy = {"metadata": {**POLICY["metadata"], "annotations": dict(self.annotations),
                               "generation": self.generation}}  # fmt: skip
        return plan_policy(PolicyInput(
            spec=self.spec, status=self.status, policy=policy, now=self.now,
            monitors=self.monitors, serving=SERVING, rollouts=self.rollouts,
            jobs=self.jobs if jobs is None else jobs, validate=gate, results=results or {},
            spec_model=self.spec_model,
        ))  # fmt: skip

    def step(self, results: dict[str, str | None] | None = None) -> PolicyPlan:
        plan = self.replan(results=results)
        self.status = plan.status.model_copy(update={"observed_generation": self.generation})
        if plan.create_job is not None:
            self.created.append(plan.create_job)
            name = plan.create_job["metadata"]["name"]
            self.jobs.setdefault(name, JobObserved(name, pods=1))
        for job in plan.delete_jobs:
            self.jobs.pop(job, None)
        if plan.promote is not None and plan.promote.into_spec and self.spec_model is not None:
            self.spec_model = self.spec_model.model_copy(
                update={"version": plan.promote.version, "uri": plan.promote.uri}
            )
        self.last = plan
        return plan

    def finish_job(self, message: str | None, failed: bool = False, exit_code: int = 0,
                   job: str | None = None) -> None:  # fmt: skip
        """The active run's training Job (or `job`) ends."""
        name = job or self.status.active_run
        assert name is not None
        self.jobs[name] = JobObserved(name, succeeded=not failed, failed=failed, pods=1,
                                      termination_message=message, exit_code=exit_code,
                                      reason="BackoffLimitExceeded" if failed else "")  # fmt: skip

    def run(self, index: int = 0) -> Any:
        assert self.status.runs
        return self.status.runs[index]

    def reasons(self) -> list[str]:
        assert self.last is not None
        return [reason for _, reason, _ in self.last.events]


def result(accuracy: float, **fields: Any) -> str:
    return json.dumps({"metrics": {"accuracy": accuracy}, "baselineMetrics": {"accuracy": 0.9},
                       "artifactURI": "s3://models/fraud/7-r1/model.joblib",
                       "profileURI": "s3://models/fraud/7-r1/profile.json", **fields})  # fmt: skip


def drifted_world(policy_spec: RetrainPolicySpec | None = None) -> World:
    world = World(policy_spec or spec())
    world.step()
    world.evaluate(True)
    world.step()
    world.evaluate(True)
    world.step()
    return world


def test_drift_must_hold_for_two_evaluations_then_starts_one_run_with_the_contract_env() -> None:
    world = World(spec())
    world.step()
    world.evaluate(True)
    assert world.step().create_job is None  # one evaluation is not enough
    world.step()  # the same evaluation seen again counts once
    assert world.status.signals
    assert world.status.signals[0].consecutive == 1
    world.evaluate(True)
    plan = world.step()
    assert plan.create_job is not None
    assert world.reasons() == ["RunStarted"]
    run = world.run()
    assert (run.name, run.trigger, run.new_version, run.base_version) == (
        "fraud-retrain-1",
        "drift",
        "7-r1",
        "7",
    )
    assert "amount psi 0.9" in run.evidence
    assert world.last is not None
    assert f"({run.evidence})" in world.last.events[0][2]  # the Event says why, too
    job = plan.create_job
    assert job["metadata"]["ownerReferences"][0]["kind"] == "RetrainPolicy"
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODELSHIP_OUTPUT_URI"] == "s3://models/fraud/7-r1/"
    assert env["MODELSHIP_BASE_URI"] == "s3://models/fraud/7/"
    assert env["MODELSHIP_RUN_ID"] == "fraud-retrain-1"
    assert env["MODELSHIP_TRIGGER"] == "mine"  # the user's own value wins
    assert job["spec"]["backoffLimit"] == 0


def test_a_signal_that_stays_true_starts_no_second_run() -> None:
    world = drifted_world()
    world.finish_job(result(0.95))
    world.step()
    world.rollouts["7-r1"] = "Serving"
    world.step()
    assert world.run().outcome == "Promoted"
    for _ in range(20):  # hours of drift later, past the cooldown
        world.evaluate(True, minutes=10)
        assert world.step().create_job is None
    assert world.status.run_count == 1


def test_a_validated_run_is_promoted_and_follows_its_rollout() -> None:
    world = drifted_world()
    world.finish_job(result(0.95))
    plan = world.step()
    assert plan.promote is not None
    assert (plan.promote.version, plan.promote.uri) == (
        "7-r1",
        "s3://models/fraud/7-r1/model.joblib",
    )
    assert plan.promote.profile_config_map == "fraud-7-r1-profile"
    assert world.run().outcome == "Promoting"
    assert world.run().metrics == {"accuracy": 0.95}
    assert world.step().promote is None  # written once
    world.rollouts["7-r1"] = "RolledBack"
    world.step()
    assert world.run().outcome == "RolledBack"
    assert world.status.active_run is None
    assert world.reasons() == ["RunRolledBack"]


@pytest.mark.parametrize(
    ("message", "failed", "outcome", "text"),
    [
        (result(0.8), False, "Rejected", "accuracy 0.8 < min 0.9"),
        ("not json", False, "Failed", "the result is not JSON"),
        (None, False, None, ""),  # no message: read result.json first
        ("Traceback: boom", True, "Failed", "exit code 2"),
        (json.dumps({"metrics": {"f1": 0.9}, "artifactURI": "s3://m/1/"}), False, "Rejected",
         "accuracy not reported"),
    ],
)  # fmt: skip
def test_how_a_finished_job_ends(
    message: str | None, failed: bool, outcome: str | None, text: str
) -> None:
    world = drifted_world()
    world.finish_job(message, failed=failed, exit_code=2 if failed else 0)
    plan = world.step()
    assert plan.promote is None
    if outcome is None:
        assert plan.read_results == [RESULT]
        assert world.run().outcome == "Running"
        return
    assert world.run().outcome == outcome
    assert text in world.run().message
    assert world.status.rejections_in_a_row == 1


def test_cooldown_and_forbid_suppress_with_one_event_each() -> None:
    world = drifted_world()
    world.annotations["modelship.io/retrain"] = "now"
    plan = world.step()  # manual is not held back by cooldown, but Forbid holds it
    assert plan.create_job is None
    assert "concurrency Forbid" in world.status.last_suppressed
    assert world.reasons() == ["TriggerSuppressed"]
    assert world.step().events == []  # the same suppression again: no second Event
    world.finish_job(result(0.5))
    world.step()
    assert world.run().outcome == "Rejected"
    world.evaluate(False)
    world.step()
    world.evaluate(True)
    world.step()
    world.evaluate(True)
    world.step()
    assert "cooling down until" in world.status.last_suppressed
    world.now += timedelta(hours=1)
    world.evaluate(True)
    assert world.step().create_job is not None  # the streak that was held back fires now


def test_concurrency_replace_cancels_the_active_run_and_deletes_its_job() -> None:
    world = drifted_world(spec(concurrency="Replace"))
    world.annotations["modelship.io/retrain"] = "again"
    plan = world.step()
    assert plan.delete_jobs == ["fraud-retrain-1"]
    assert [r.outcome for r in world.status.runs or []] == ["Running", "Cancelled"]
    assert world.status.active_run == "fraud-retrain-2"


def test_restart_between_status_and_job_recreates_it_then_a_lost_job_is_cancelled() -> None:
    world = drifted_world()
    del world.jobs["fraud-retrain-1"]  # the status was written, the Job not created
    assert world.step().create_job is not None
    assert world.created[-1]["metadata"]["name"] == "fraud-retrain-1"
    del world.jobs["fraud-retrain-1"]  # deleted by someone, later on
    world.now += timedelta(seconds=JOB_GRACE_SECONDS + 1)
    assert world.step().create_job is None
    assert world.run().outcome == "Cancelled"
    assert len(world.status.runs or []) == 1


def test_the_circuit_breaker_opens_after_three_rejections_and_a_person_closes_it() -> None:
    world = World(spec(cooldown="0s", triggers={}))
    for attempt in range(3):
        world.annotations["modelship.io/retrain"] = f"try-{attempt}"
        world.step()
        world.finish_job(result(0.5))
        world.step()
    assert world.status.breaker_open
    opened = policy_assessment(world.spec, world.status, {}, world.now)
    assert (opened.phase, opened.reason, opened.warning) == ("Failed", "CircuitBreakerOpen", True)
    assert "CircuitBreakerOpen" not in world.reasons()  # one Event: the phase's transition
    world.spec = spec(cooldown="0s", triggers={"schedule": "*/5 * * * *"})
    world.generation = 2
    world.now += timedelta(minutes=5)
    world.step()
    assert world.status.breaker_open is False  # a spec change closes it
    world.status = world.status.model_copy(update={"breaker_open": True})
    world.annotations["modelship.io/reset-breaker"] = "1"
    world.step()
    assert not world.status.breaker_open
    assert world.status.rejections_in_a_row == 0


def test_manual_promotion_waits_for_approval_of_that_run() -> None:
    world = drifted_world(spec(promotion="manual"))
    world.finish_job(result(0.95))
    world.step()
    assert world.run().outcome == "AwaitingApproval"
    world.annotations["modelship.io/approve"] = "fraud-retrain-9"
    assert world.step().promote is None
    world.annotations["modelship.io/approve"] = "fraud-retrain-1"
    assert world.step().promote is not None
    assert world.run().outcome == "Promoting"


def test_schedule_fires_once_for_missed_times_and_manual_once_per_value() -> None:
    world = World(spec(triggers={"schedule": "0 3 * * *"}, cooldown="0s"))
    world.now = T0 + timedelta(days=3)  # three 03:00s missed while the operator was down
    assert world.step().create_job is not None
    assert world.run().trigger == "schedule"
    world.finish_job(result(0.95))
    world.step()
    world.rollouts["7-r1"] = "Serving"
    world.step()
    assert world.step().create_job is None
    assert world.status.next_schedule_time == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    world.annotations["modelship.io/retrain"] = "x"
    assert world.step().create_job is not None
    world.finish_job(result(0.95))
    world.step()
    world.rollouts["7-r2"] = "Serving"
    world.step()
    assert world.step().create_job is None  # the same value acts once


MINUTE = datetime(2026, 12, 3, 12, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last", "now", "due", "upcoming"),
    [
        (MINUTE - timedelta(minutes=1), MINUTE - timedelta(seconds=1), None, MINUTE),
        # Woken exactly at the scheduled time: that time is due, and acted on once.
        (MINUTE - timedelta(minutes=1), MINUTE, MINUTE, MINUTE + timedelta(minutes=1)),
        (MINUTE, MINUTE, None, MINUTE + timedelta(minutes=1)),
        (MINUTE - timedelta(minutes=1), MINUTE + timedelta(seconds=30), MINUTE,
         MINUTE + timedelta(minutes=1)),
        # Missed for an hour: the latest time, once.
        (MINUTE - timedelta(hours=1), MINUTE + timedelta(seconds=5), MINUTE,
         MINUTE + timedelta(minutes=1)),
    ],
)  # fmt: skip
def test_schedule_due_every_minute(
    last: datetime, now: datetime, due: datetime | None, upcoming: datetime
) -> None:
    assert schedule_due("* * * * *", last, T0, now) == (due, upcoming)


def test_names_and_versions() -> None:
    assert run_name("p" * 70, 12) == label_value("p" * 70)[:60] + "-12"
    assert label_value("p" * 70) != label_value("p" * 69 + "q")  # a shared prefix stays apart
    assert len(label_value("p" * 253)) == 63
    assert new_version("7", 3) == "7-r3"
    assert new_version("7-r3", 5) == "7-r5"
    assert len(new_version("v" * 63, 100)) <= 63


def test_nothing_serving_yet_suppresses() -> None:
    world = World(spec(triggers={}))
    world.annotations["modelship.io/retrain"] = "now"
    plan = plan_policy(PolicyInput(
        spec=world.spec, status=world.status, policy={"metadata": {**POLICY["metadata"],
        "annotations": world.annotations}}, now=T0, monitors={}, serving=None, rollouts={},
        jobs={},
    ))  # fmt: skip
    assert plan.create_job is None
    assert "serves nothing yet" in plan.status.last_suppressed


def test_a_monitor_without_retrain_in_its_actions_holds_the_trigger() -> None:
    world = World(spec())
    for _ in range(3):
        world.evaluate(True)
        world.monitors["fraud-drift"] = monitor(world.now, True, actions=["event"])
        assert world.step().create_job is None
    assert "does not list retrain in spec.actions.onDrift" in world.status.last_suppressed


def test_a_candidate_worse_than_the_serving_model_is_rejected_and_never_promoted() -> None:
    compare = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.01}]
    world = drifted_world(spec(validation={"compare": compare}))
    world.finish_job(result(0.85))  # baseline 0.9 on the same held-out data
    plan = world.step()
    assert plan.promote is None
    assert world.run().outcome == "Rejected"
    assert "accuracy" in world.run().validation
    assert world.run().baseline_metrics == {"accuracy": 0.9}


@pytest.mark.parametrize(
    ("document", "text"),
    [
        ({"metrics": {"a": 1.0}, "artifactURI": "models/7-r1/model.joblib"}, "is not a model URI"),
        ({"metrics": {f"m{i}": 1.0 for i in range(65)}, "artifactURI": "s3://m/"}, "at most 64"),
        ({"metrics": {"a": float("nan")}, "artifactURI": "s3://m/"}, "not finite"),
    ],
)
def test_a_result_status_cannot_hold_fails_the_run(document: dict[str, Any], text: str) -> None:
    world = drifted_world()
    world.finish_job(json.dumps(document))
    assert world.step().promote is None
    assert world.run().outcome == "Failed"
    assert text in world.run().message


def test_unknown_evaluations_neither_extend_nor_end_a_drift_streak() -> None:
    world = drifted_world()  # True, True: run 1
    world.finish_job(result(0.95))
    world.step()
    world.rollouts["7-r1"] = "Serving"
    world.step()
    world.spec = spec(cooldown="0s")
    for drifted in (True, None, True, True):
        world.now += timedelta(minutes=5)
        body = monitor(world.now, bool(drifted))
        if drifted is None:
            body["status"]["conditions"][0]["status"] = "Unknown"
        world.monitors["fraud-drift"] = body
        assert world.step().create_job is None  # the same streak: no second run
    assert world.status.run_count == 1


def test_a_promotion_reverted_before_it_served_ends_the_run() -> None:
    world = drifted_world()
    world.finish_job(result(0.95))
    world.step()
    plan = plan_policy(PolicyInput(
        spec=world.spec, status=world.status, policy=POLICY, now=world.now,
        monitors=world.monitors, serving=SERVING, rollouts={}, jobs=world.jobs,
        spec_model=SPEC_MODEL,
    ))  # fmt: skip
    assert plan.status.runs is not None
    assert plan.status.runs[0].outcome == "RolledBack"
    assert "spec.model.version is now 7" in plan.status.runs[0].message


def test_a_person_can_reject_a_run_awaiting_approval() -> None:
    world = drifted_world(spec(promotion="manual"))
    world.finish_job(result(0.95))
    world.step()
    world.annotations["modelship.io/reject"] = "fraud-retrain-1"
    world.step()
    assert world.run().outcome == "Cancelled"
    assert world.status.active_run is None


def test_a_cut_termination_message_is_read_whole_from_result_json() -> None:
    world = drifted_world()
    whole = result(0.95, data={"uri": "s3://datasets/fraud/2026-12/", "rows": 120000},
                   padding="x" * 5000)  # fmt: skip
    world.finish_job(whole[:4096])  # the kubelet keeps 4096 bytes
    plan = world.step()
    assert plan.read_results == [RESULT]
    plan = plan_policy(PolicyInput(
        spec=world.spec, status=world.status, policy=POLICY, now=world.now,
        monitors=world.monitors, serving=SERVING, rollouts={}, jobs=world.jobs,
        results={RESULT: whole}, validate=gate,
    ))  # fmt: skip
    assert plan.status.runs is not None
    run = plan.status.runs[0]
    assert run.outcome == "Promoting"
    assert run.data == "s3://datasets/fraud/2026-12/ (120000 rows)"


def test_a_drift_run_records_the_scores_its_trigger_fired_on() -> None:
    world = drifted_world()
    scores = world.run().trigger_scores
    assert [(s.name, s.method, s.score, s.severity) for s in scores] == [
        ("amount", "psi", 0.9, "critical")
    ]


def test_promoting_into_the_policy_status_never_writes_the_spec() -> None:
    world = drifted_world(spec(promotionTarget="policyStatus"))
    world.finish_job(result(0.95))
    plan = world.step()
    assert plan.promote is not None
    assert plan.promote.into_spec is False  # the reconciler writes only the profile ConfigMap
    promoted = world.status.promoted
    assert promoted is not None
    assert (promoted.run, promoted.version, promoted.based_on) == (
        "fraud-retrain-1", "7-r1", SPEC_MODEL,
    )  # fmt: skip
    assert promoted.profile_config_map == "fraud-7-r1-profile"
    assert world.run().outcome == "Promoting"
    assert "recorded in status.promoted" in world.run().message
    world.step()  # the spec still names 7: the run waits for its rollout, not superseded
    assert world.run().outcome == "Promoting"
    world.rollouts["7-r1"] = "Serving"
    world.step()
    assert world.run().outcome == "Promoted"
    assert world.status.promoted == promoted


def test_a_person_changing_spec_model_ends_the_promotion_for_good() -> None:
    world = drifted_world(spec(promotionTarget="policyStatus"))
    world.finish_job(result(0.95))
    world.step()
    world.spec_model = SPEC_MODEL.model_copy(update={"version": "8", "uri": "s3://m/8/"})
    world.step()
    assert world.run().outcome == "RolledBack"  # superseded before it served
    assert "spec.model.version is now 8" in world.run().message
    promoted = world.status.promoted
    assert promoted is not None
    assert "spec.model changed to version 8" in promoted.ended
    assert "PromotionEnded" in world.reasons()
    world.spec_model = SPEC_MODEL  # changed back: the promotion stays ended
    world.step()
    assert world.status.promoted == promoted
    assert "PromotionEnded" not in world.reasons()


def test_a_refused_profile_restores_the_promotion_before() -> None:
    world = drifted_world(spec(promotionTarget="policyStatus"))
    world.finish_job(result(0.95))
    world.step()
    world.rollouts["7-r1"] = "Serving"
    world.step()
    before = world.status.promoted
    world.annotations["modelship.io/retrain"] = "again"
    world.spec = spec(promotionTarget="policyStatus", cooldown="0s")
    world.step()
    world.finish_job(result(0.96))
    plan = world.step()
    assert plan.status.promoted is not None
    assert plan.status.promoted.run == "fraud-retrain-2"
    fail_active(plan, "the API server refused ConfigMap fraud-7-r2-profile", world.now)
    assert plan.status.promoted == before
    assert plan.status.runs is not None
    assert plan.status.runs[0].outcome == "Failed"


def test_a_policy_promoting_into_the_spec_keeps_no_promotion_in_status() -> None:
    world = drifted_world(spec(promotionTarget="policyStatus"))
    world.finish_job(result(0.95))
    world.step()
    assert world.status.promoted is not None
    world.spec = spec(promotionTarget="spec")
    world.step()
    assert world.status.promoted is None


# --- validation.job: the independent evaluation ----------------------------------------------

HELD_OUT = "s3://datasets/fraud/golden/"
EVALUATOR = {"spec": {"template": {"spec": {"containers": [
    {"name": "evaluate", "image": "trainer:1", "command": ["python", "evaluate.py"]},
]}}}}  # fmt: skip
EVALUATION = "fraud-retrain-1-eval"
EVALUATION_RESULT = "s3://models/fraud/7-r1/evaluation/result.json"
COMPARED = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.01}]


def evaluated_spec(job: dict[str, Any] | None = None, **fields: Any) -> RetrainPolicySpec:
    evaluation = {"template": EVALUATOR, "heldOutURI": HELD_OUT} if job is None else job
    return spec(validation={"minMetrics": {"accuracy": 0.85}, "compare": COMPARED,
                            "job": evaluation}, **fields)  # fmt: skip


def measured(accuracy: float, baseline: float = 0.9) -> str:
    return json.dumps({"metrics": {"accuracy": accuracy},
                       "baselineMetrics": {"accuracy": baseline}})  # fmt: skip


def env_of(job: dict[str, Any]) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def test_the_evaluation_jobs_metrics_are_judged_not_the_trainers() -> None:
    world = drifted_world(evaluated_spec())
    world.finish_job(result(0.99))  # the trainer's claim
    plan = world.step()
    assert plan.promote is None
    run = world.run()
    assert run.outcome == "Evaluating"
    assert run.evaluation is not None
    assert (run.evaluation.job_name, run.evaluation.held_out_uri) == (EVALUATION, HELD_OUT)
    assert run.evaluation.trainer_metrics == {"accuracy": 0.99}
    assert run.metrics is None  # nothing judged yet
    assert run.artifact_uri == "s3://models/fraud/7-r1/model.joblib"
    assert world.reasons() == ["RunEvaluating"]
    assert policy_assessment(world.spec, world.status, {}, world.now).phase == "Validating"
    job = plan.create_job
    assert job is not None
    assert job["metadata"]["name"] == EVALUATION
    assert job["metadata"]["labels"]["modelship.io/run"] == "fraud-retrain-1"
    assert job["metadata"]["labels"]["modelship.io/stage"] == "evaluation"
    env = env_of(job)
    assert env["MODELSHIP_CANDIDATE_URI"] == "s3://models/fraud/7-r1/model.joblib"
    assert env["MODELSHIP_CANDIDATE_VERSION"] == "7-r1"
    assert (env["MODELSHIP_BASE_URI"], env["MODELSHIP_BASE_VERSION"]) == (SERVING.uri, "7")
    assert env["MODELSHIP_HELD_OUT_URI"] == HELD_OUT
    assert env["MODELSHIP_OUTPUT_URI"] == "s3://models/fraud/7-r1/evaluation/"
    assert env["MODELSHIP_TERMINATION_LOG"] == "/dev/termination-log"

    world.finish_job(measured(0.86), job=EVALUATION)  # worse than the serving model's 0.9
    plan = world.step()
    run = world.run()
    assert plan.promote is None
    assert run.outcome == "Rejected"
    assert run.metrics == {"accuracy": 0.86}
    assert run.baseline_metrics == {"accuracy": 0.9}
    assert "accuracy 0.86" in run.message
    assert run.evaluation is not None
    assert run.evaluation.trainer_metrics == {"accuracy": 0.99}  # kept: what it claimed


def test_an_evaluation_that_confirms_the_candidate_promotes_it() -> None:
    world = drifted_world(evaluated_spec())
    world.finish_job(result(0.5))  # the trainer's own numbers are not what is judged
    world.step()
    world.finish_job(measured(0.95), job=EVALUATION)
    plan = world.step()
    assert plan.promote is not None
    assert world.run().outcome == "Promoting"
    assert world.run().metrics == {"accuracy": 0.95}


@pytest.mark.parametrize(
    ("held_out", "reported", "used"),
    [
        (HELD_OUT, "s3://models/fraud/7-r1/held-out.csv", HELD_OUT),  # the policy's wins
        (None, "s3://models/fraud/7-r1/held-out.csv", "s3://models/fraud/7-r1/held-out.csv"),
        (None, None, None),
    ],
)
def test_the_held_out_data_is_the_policys_else_the_trainers(
    held_out: str | None, reported: str | None, used: str | None
) -> None:
    job = {"template": EVALUATOR, **({"heldOutURI": held_out} if held_out else {})}
    world = drifted_world(evaluated_spec(job))
    data = {"data": {"uri": "s3://d/", "rows": 10, "heldOutURI": reported}} if reported else {}
    world.finish_job(result(0.95, **data))
    plan = world.step()
    if used is None:
        assert plan.create_job is None
        assert world.run().outcome == "Failed"
        assert "set validation.job.heldOutURI" in world.run().message
        return
    assert plan.create_job is not None
    assert env_of(plan.create_job)["MODELSHIP_HELD_OUT_URI"] == used


@pytest.mark.parametrize(
    ("message", "failed", "text"),
    [
        ("evaluate: cannot read s3://datasets/", True, "the evaluation Job failed (exit code 1)"),
        ("not json", False, "the evaluation Job's result: the result is not JSON"),
        (json.dumps({"baselineMetrics": {}}), False, "the result has no metrics"),
    ],
)
def test_a_failed_or_malformed_evaluation_fails_the_run(
    message: str, failed: bool, text: str
) -> None:
    world = drifted_world(evaluated_spec())
    world.finish_job(result(0.95))
    world.step()
    world.finish_job(message, failed=failed, exit_code=1 if failed else 0, job=EVALUATION)
    assert world.step().promote is None
    assert world.run().outcome == "Failed"
    assert text in world.run().message
    assert world.status.rejections_in_a_row == 1


def test_an_evaluation_without_a_termination_message_is_read_from_its_result_json() -> None:
    world = drifted_world(evaluated_spec())
    world.finish_job(result(0.95))
    world.step()
    world.finish_job(None, job=EVALUATION)
    plan = world.step()
    assert plan.read_results == [EVALUATION_RESULT]
    assert world.run().outcome == "Evaluating"
    world.step(results={EVALUATION_RESULT: measured(0.8)})
    assert world.run().outcome == "Rejected"
    assert world.run().metrics == {"accuracy": 0.8}


def test_a_restart_in_every_state_of_an_evaluated_run_never_makes_a_second_job() -> None:
    """After every pass, a restarted operator plans again from the status as written: it
    makes no Job that exists, and re-makes (by the same name) one whose creation was lost."""
    world = drifted_world(evaluated_spec())

    def restart() -> None:
        made = world.last.create_job if world.last else None
        again = world.replan().create_job
        assert again is None or again["metadata"]["name"] not in world.jobs, world.run().outcome
        if made is not None:  # the status was written; the Job's creation never landed
            name = made["metadata"]["name"]
            lost = {k: v for k, v in world.jobs.items() if k != name}
            recreated = world.replan(jobs=lost).create_job
            assert recreated is not None
            assert recreated["metadata"]["name"] == name

    outcomes = []
    restart()  # Running
    world.finish_job(result(0.99))
    restart()  # Running, its Job done: judged by the next pass
    world.step()
    restart()  # Evaluating
    world.finish_job(None, job=EVALUATION)
    world.step()
    outcomes.append(world.run().outcome)
    restart()  # Evaluating, its result.json still to be read
    world.step(results={EVALUATION_RESULT: measured(0.95)})
    outcomes.append(world.run().outcome)
    restart()  # Promoting
    world.rollouts["7-r1"] = "Serving"
    world.step()
    outcomes.append(world.run().outcome)
    restart()  # Promoted
    assert outcomes == ["Evaluating", "Promoting", "Promoted"]
    assert [job["metadata"]["name"] for job in world.created] == ["fraud-retrain-1", EVALUATION]


def test_a_deleted_evaluation_job_is_recreated_at_first_and_cancels_the_run_later() -> None:
    world = drifted_world(evaluated_spec())
    world.finish_job(result(0.95))
    world.step()
    del world.jobs[EVALUATION]
    world.now += timedelta(seconds=JOB_GRACE_SECONDS + 1)
    assert world.step().create_job is None
    assert world.run().outcome == "Cancelled"
    assert world.run().message == "its evaluation Job was deleted"


def test_replace_and_the_history_limit_delete_both_jobs_of_a_run() -> None:
    world = drifted_world(evaluated_spec(concurrency="Replace", historyLimit=1))
    world.finish_job(result(0.95))
    world.step()  # run 1 is Evaluating
    world.annotations["modelship.io/retrain"] = "again"
    plan = world.step()
    assert sorted(plan.delete_jobs) == sorted(["fraud-retrain-1", EVALUATION] * 2)
    assert [r.name for r in world.status.runs or []] == ["fraud-retrain-2"]


def test_a_job_without_a_pod_is_said_in_status_until_its_pod_comes() -> None:
    world = drifted_world()
    job = world.status.active_run
    assert job is not None
    world.jobs[job] = JobObserved(job)  # admission refuses its pods
    plan = world.step()
    assert world.run().message == "training"
    assert plan.requeue_after is not None
    assert plan.requeue_after <= NO_POD_SECONDS
    world.now += timedelta(seconds=NO_POD_SECONDS)
    world.step()
    assert world.run().message.startswith(f"its Job {job} has no pod 30 s after it was created")
    assert f"kubectl describe job {job}" in world.run().message
    assert world.reasons() == ["JobHasNoPod"]
    world.step()
    assert world.reasons() == []  # said once
    assert world.run().outcome == "Running"  # the cause may be fixed: the run goes on
    world.jobs[job] = JobObserved(job, pods=1)
    world.step()
    assert world.run().message == "training"
