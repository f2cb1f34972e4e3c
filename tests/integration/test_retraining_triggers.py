"""RetrainPolicy triggers, restarts and rollbacks on the local cluster: Forbid and the cooldown
hold a second trigger back (status says when it may run), a cron schedule starts a run, an
operator killed while a Job runs picks the run up, and a candidate that validates but fails
its canary analysis is rolled back. Real operator, Job controller, trainer processes,
reference servers and Prometheus."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.jobs import JobRunner
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.retraining import Loop
from modelship_testing.revisions import ServedRevisions
from modelship_testing.serving import TrainedModel
from modelship_testing.waiters import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]

EVERY_MINUTE = "* * * * *"
# A schedule every minute fires within 60 s of any moment; the margin is the operator's.
NEXT_MINUTE = 75.0
CANARY: dict[str, Any] = {
    "serving": {"replicas": 2},
    "strategy": {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"count": 2}}]}},
    "analysis": {
        "interval": "2s", "minSamples": 10, "failureLimit": 0, "inconclusiveLimit": 5,
        "metrics": [{"name": "error-rate", "builtin": "errorRate", "max": 0.05}],
    },
}  # fmt: skip


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_forbid_holds_a_second_request_back_while_a_run_is_active(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner
) -> None:
    loop.deploy(operator)
    loop.create_policy(loop.trainer(held=True), concurrency="Forbid")
    loop.retrain("first")
    wait_for(lambda: job_runner.runs_for_job("fraud-retrain-1"), timeout=60,
             describe="the trainer of run 1 to be running")  # fmt: skip
    loop.retrain("second")
    status = loop.wait(lambda s: "Forbid" in s.get("lastSuppressed", ""), "the suppression")
    message = (
        "manual trigger did not start a run: run fraud-retrain-1 is Running (concurrency "
        "Forbid); it may run once that run ends"
    )
    assert status["lastSuppressed"] == message
    assert (status["activeRun"], status["runCount"], status["phase"]) == (
        "fraud-retrain-1", 1, "Training",
    )  # fmt: skip
    assert ("Normal", "TriggerSuppressed", message) in loop.events()

    loop.release()
    loop.ended("Promoted", timeout=120)
    # The suppressed request is not kept for later: run 1 ending starts nothing.
    assert loop.status()["runCount"] == 1
    assert loop.jobs() == ["fraud-retrain-1"]


def test_a_schedule_starts_a_run_and_its_next_time_waits_for_the_cooldown(
    loop: Loop, operator: OperatorFactory
) -> None:
    loop.deploy(operator)
    watching = loop.create_policy(triggers={"schedule": EVERY_MINUTE}, cooldown="1h")
    due = _time(watching["nextScheduleTime"])
    run = loop.ended("Promoted", timeout=NEXT_MINUTE + 60)
    assert run["trigger"] == "schedule"
    assert run["reason"].startswith(f"schedule {EVERY_MINUTE} at {due.isoformat()}")
    assert _time(run["startedAt"]) >= due

    # The next minute's time comes while the cooldown (from run 1's start) lasts.
    status = loop.wait(lambda s: s.get("lastSuppressed", "").startswith("schedule trigger"),
                       "the next scheduled time to be suppressed", timeout=NEXT_MINUTE)  # fmt: skip
    found = re.fullmatch(r"schedule trigger did not start a run: cooling down until (\S+)",
                         status["lastSuppressed"])  # fmt: skip
    assert found, status["lastSuppressed"]
    assert _time(found.group(1)) == _time(status["lastRunTime"]) + timedelta(hours=1)
    assert _time(status["lastScheduleTime"]) > due  # acted on: it does not fire again later
    assert status["phase"] == "CoolingDown"
    assert status["runCount"] == 1
    assert loop.jobs() == ["fraud-retrain-1"]
    assert "TriggerSuppressed" in {reason for _, reason, _ in loop.events()}


def test_an_operator_killed_while_its_job_runs_picks_the_run_up_after_a_restart(
    loop: Loop, operator: OperatorFactory, job_runner: JobRunner
) -> None:
    process = loop.deploy(operator)
    loop.create_policy(loop.trainer(held=True))
    loop.retrain()
    wait_for(lambda: job_runner.runs_for_job("fraud-retrain-1"), timeout=60,
             describe="the trainer of run 1 to be running")  # fmt: skip
    process.kill()  # SIGKILL to its pid: no shutdown, no last status write
    assert not process.running()
    assert loop.status()["runs"][0]["outcome"] == "Running"

    loop.release()  # the Job ends while no operator watches
    wait_for(lambda: loop.job_finished("fraud-retrain-1"), timeout=90,
             describe="the Job to finish")  # fmt: skip
    process.start()
    run = loop.ended("Promoted", timeout=120)
    assert run["name"] == "fraud-retrain-1"
    assert set(run["metrics"]) >= {"accuracy", "f1"}
    assert loop.mds.get("fraud")["spec"]["model"]["version"] == "1-r1"
    assert loop.jobs() == ["fraud-retrain-1"]  # picked up, not started again
    assert len(job_runner.runs_for_job("fraud-retrain-1")) == 1  # one trainer process
    assert loop.status()["runCount"] == 1


@pytest.mark.prometheus
def test_a_candidate_that_validates_but_fails_its_canary_analysis_is_rolled_back(
    loop: Loop, operator: OperatorFactory, prometheus: PrometheusHandle,
    revisions: ServedRevisions,
) -> None:  # fmt: skip
    loop.deploy(operator, env={"MODELSHIP_PROMETHEUS_URL": prometheus.url}, **CANARY)
    stable = loop.mds.status("fraud")["stableRevision"]
    revisions.serve(stable, "1", loop.model)
    revisions.traffic.start()
    loop.create_policy()
    loop.retrain()
    promoting = loop.ended("Promoting")
    assert promoting["validation"] == "passed all 2 checks"

    # The candidate serves its canary through a wrapper that fails half of its answers.
    canary = loop.mds.wait("fraud", lambda s: s.get("canaryRevision"),
                           "the candidate's canary revision")["canaryRevision"]  # fmt: skip
    output = loop.work / "models" / "1-r1"
    candidate = TrainedModel(output, output / "model.joblib", output / "profile.json")
    revisions.serve(canary, "1-r1", candidate, fault="Flaky")

    run = loop.ended("RolledBack", timeout=120)
    assert run["message"] == "the rollout of version 1-r1 ended RolledBack"
    status = loop.mds.wait_phase("fraud", "RolledBack")
    assert status["stableRevision"] == stable
    entry = status["history"][0]
    assert (entry["modelVersion"], entry["outcome"]) == ("1-r1", "RolledBack")
    assert "error-rate" in entry["reason"]
    assert ("Warning", "RunRolledBack") in {(t, r) for t, r, _ in loop.events()}
    assert loop.status().get("activeRun") is None
