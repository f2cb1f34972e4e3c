"""What each steering command writes, refuses, and reads back from the operator's answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.kubectl import actions
from modelship.kubectl.actions import Patch, Refusal
from modelship.kubectl.exitcodes import ExitCode
from modelship_testing.plugin_objects import (
    history_entry,
    model_deployment,
    paused_canary,
    retrain_policy,
    run,
)

NOW = datetime(2026, 1, 1, 12, 0, 30, 123456, tzinfo=UTC)
STAMP = "2026-01-01T12:00:30.123456Z"
HEALTHY = {"phase": "Healthy", "stableRevision": "aaaa111111"}


def patch(decision: Patch | Refusal) -> Patch:
    assert isinstance(decision, Patch), decision
    return decision


def refusal(decision: Any) -> Refusal:
    assert isinstance(decision, Refusal), decision
    return decision


def test_each_control_value_is_fresh() -> None:
    assert actions.stamp(NOW) == STAMP
    assert actions.stamp(NOW + timedelta(microseconds=1)) != STAMP


@pytest.mark.parametrize(
    ("md", "full", "annotations", "said"),
    [
        (paused_canary(), False, {"modelship.io/promote": STAMP}, "promoted: step 2/5 ends"),
        (paused_canary(), True, {"modelship.io/promote-full": STAMP}, "skipping every remaining"),
        (
            model_deployment(
                annotations={"modelship.io/paused": "true"}, **{**paused_canary()["status"]}
            ),
            False,
            {"modelship.io/promote": STAMP, "modelship.io/paused": None},
            "and resumed: modelship.io/paused removed",
        ),
    ],
)
def test_promote_writes_the_promote_annotation(
    md: dict[str, Any], full: bool, annotations: dict[str, Any], said: str
) -> None:
    written = patch(actions.promote(md, full, NOW))
    assert (written.plural, written.name) == ("modeldeployments", "fraud")
    assert written.annotations == annotations
    assert said in written.said


@pytest.mark.parametrize("verb", ["promote", "abort"])
def test_promote_and_abort_refuse_without_a_rollout_in_progress(verb: str) -> None:
    md = model_deployment(**HEALTHY)
    decision = actions.promote(md, False, NOW) if verb == "promote" else actions.abort(md, NOW)
    refused = refusal(decision)
    assert refused.code is ExitCode.NOT_APPLICABLE
    assert refused.message == (
        f"nothing to {verb}: modeldeployment 'fraud' is Healthy with no rollout in progress"
    )


def test_abort_writes_a_fresh_abort() -> None:
    assert patch(actions.abort(paused_canary(), NOW)).annotations == {"modelship.io/abort": STAMP}


@pytest.mark.parametrize(
    ("annotations", "expected", "said"),
    [
        ({}, {"modelship.io/paused": "true"}, "paused"),
        ({"modelship.io/paused": "true"}, {}, "is already paused"),
        ({"modelship.io/paused": "yes"}, {}, "is already paused"),
    ],
)
def test_pause(annotations: dict[str, str], expected: dict[str, str], said: str) -> None:
    written = actions.pause(model_deployment(annotations=annotations, **HEALTHY))
    assert written.annotations == expected
    assert written.said == f"modeldeployment 'fraud' {said}"


@pytest.mark.parametrize(
    ("annotations", "status", "expected", "said"),
    [
        ({"modelship.io/paused": "true"}, HEALTHY, {"modelship.io/paused": None}, "resumed"),
        ({}, HEALTHY, {}, "was not paused"),
        # A pause step is not lifted by resume: the user is told what does lift it.
        (
            {"modelship.io/paused": "true"},
            paused_canary()["status"],
            {"modelship.io/paused": None},
            "resumed; a pause step (step 2/5) still waits for `kubectl modelship promote fraud`",
        ),
    ],
)
def test_resume(
    annotations: dict[str, str], status: dict[str, Any], expected: dict[str, Any], said: str
) -> None:
    written = actions.resume(model_deployment(annotations=annotations, **status))
    assert written.annotations == expected
    assert written.said == f"modeldeployment 'fraud' {said}"


def test_retry_needs_a_held_revision() -> None:
    held = model_deployment(phase="RolledBack", rollout={"heldRevision": "bbbb222222"})
    written = patch(actions.retry(held, NOW))
    assert written.annotations == {"modelship.io/retry": STAMP}
    assert "revision bbbb222222 rolls out again" in written.said
    refused = refusal(actions.retry(model_deployment(**HEALTHY), NOW))
    assert refused.code is ExitCode.NOT_APPLICABLE
    assert "holds no aborted or rolled-back revision" in refused.message


# history oldest first: 1 v1 aaaa, 2 v2 bbbb (rolled back), 3 v3 cccc, 4 v4 dddd (serving)
HISTORY = [
    history_entry("dddd444444", "4", "Promoted", "2026-01-01T11:00:00Z"),
    history_entry("cccc333333", "3", "Promoted", "2026-01-01T10:00:00Z"),
    history_entry("bbbb222222", "2", "RolledBack", "2026-01-01T09:00:00Z"),
    history_entry("aaaa111111", "1", "Promoted", "2026-01-01T08:00:00Z"),
]
KEPT = ["aaaa111111", "bbbb222222", "cccc333333", "dddd444444"]
SERVING = model_deployment(phase="Healthy", stableRevision="dddd444444", history=HISTORY)


@pytest.mark.parametrize(
    ("md", "kept", "to", "expected"),
    [
        (SERVING, KEPT, None, "cccc333333"),  # the one that served before
        (SERVING, KEPT, "1", "aaaa111111"),  # a number from `history`
        (SERVING, KEPT, "2", "bbbb222222"),
        (SERVING, KEPT, "aaaa111111", "aaaa111111"),
        (SERVING, KEPT, "cccc", "cccc333333"),  # a unique prefix
        (
            SERVING,
            KEPT,
            "4",
            Refusal(ExitCode.NOT_APPLICABLE, "revision dddd444444 already serves"),
        ),
        (SERVING, KEPT, "9", ExitCode.NOT_FOUND),
        (SERVING, KEPT, "ffff", ExitCode.NOT_FOUND),
        (SERVING, KEPT, "abc", ExitCode.NOT_FOUND),  # too short to be a prefix
        (SERVING, ["dddd444444", "cccc333333"], "1", ExitCode.NOT_APPLICABLE),  # Deployment gone
        # While a canary runs, undo returns to what serves.
        (
            model_deployment(
                phase="Paused",
                stableRevision="dddd444444",
                canaryRevision="eeee555555",
                history=HISTORY,
            ),
            [*KEPT, "eeee555555"],
            None,
            "dddd444444",
        ),
        (
            model_deployment(phase="Healthy", stableRevision="aaaa111111", history=HISTORY[-1:]),
            ["aaaa111111"],
            None,
            ExitCode.NOT_APPLICABLE,  # nothing earlier
        ),
    ],
)
def test_undo_target(md: dict[str, Any], kept: list[str], to: str | None, expected: Any) -> None:
    target = actions.undo_target(md, kept, to)
    if isinstance(expected, str | Refusal):
        assert target == expected
    else:
        assert refusal(target).code is expected


def test_undo_prefix_shared_by_two_revisions_is_ambiguous() -> None:
    md = model_deployment(
        phase="Healthy",
        stableRevision="abcd000001",
        history=[
            history_entry("abcd000001", "2", "Promoted", "2026-01-01T09:00:00Z"),
            history_entry("abcd000002", "1", "Promoted", "2026-01-01T08:00:00Z"),
        ],
    )
    refused = refusal(actions.undo_target(md, ["abcd000001", "abcd000002"], "abcd"))
    assert refused.message == "revision 'abcd' is ambiguous: abcd000001, abcd000002"


def test_undo_writes_a_rollback_that_acts_once_per_call() -> None:
    first = patch(actions.undo(SERVING, KEPT, "1", NOW))
    again = patch(actions.undo(SERVING, KEPT, "1", NOW + timedelta(seconds=1)))
    assert first.annotations == {"modelship.io/rollback-to": f"aaaa111111:{STAMP}"}
    assert first.annotations != again.annotations
    assert first.said == "modeldeployment 'fraud' rolling back to revision aaaa111111"


POLICIES = [
    retrain_policy("fraud-retrain", "fraud"),
    retrain_policy("churn-a", "churn"),
    retrain_policy("churn-b", "churn"),
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fraud-retrain", "fraud-retrain"),
        ("fraud", "fraud-retrain"),  # the one policy of ModelDeployment fraud
        (
            "churn",
            Refusal(
                ExitCode.NOT_APPLICABLE,
                "modeldeployment 'churn' has several RetrainPolicies (churn-a, churn-b): name one",
            ),
        ),
        (
            "iris",
            Refusal(
                ExitCode.NOT_FOUND,
                "no RetrainPolicy 'iris', and none refers to a ModelDeployment 'iris'",
            ),
        ),
    ],
)
def test_resolve_policies(name: str, expected: Any) -> None:
    found = actions.resolve(name, POLICIES, "RetrainPolicy", "RetrainPolicies")
    if isinstance(expected, Refusal):
        assert found == expected
    else:
        assert not isinstance(found, Refusal)
        assert found["metadata"]["name"] == expected


def test_retrain_asks_with_a_fresh_value_and_reads_the_answer() -> None:
    written, value = actions.retrain(POLICIES[0], NOW)
    assert written.annotations == {"modelship.io/retrain": value}
    assert value == STAMP
    reason = f"requested with modelship.io/retrain={value}"
    started = retrain_policy(
        handled={"retrain": value}, runs=[run("fraud-retrain-3", "Running", reason=reason)]
    )
    suppressed = retrain_policy(
        handled={"retrain": value}, lastSuppressed="manual trigger did not start a run: x"
    )
    assert actions.retrain_answer(retrain_policy(), value) is None  # not acted on yet
    assert actions.retrain_answer(retrain_policy(handled={"retrain": "older"}), value) is None
    assert actions.retrain_answer(started, value) == (
        ExitCode.OK,
        "run fraud-retrain-3 started: version 7 -> 7-r1, Job fraud-retrain-3",
    )
    assert actions.retrain_answer(suppressed, value) == (
        ExitCode.NOT_APPLICABLE,
        "no run started: manual trigger did not start a run: x",
    )


def test_reset_breaker_only_when_open() -> None:
    closed = actions.reset_breaker(retrain_policy(), NOW)
    opened = actions.reset_breaker(retrain_policy(breakerOpen=True), NOW)
    assert closed.annotations == {}
    assert opened.annotations == {"modelship.io/reset-breaker": STAMP}


@pytest.mark.parametrize(
    ("approve", "outcome", "expected"),
    [
        (True, "AwaitingApproval", {"modelship.io/approve": "fraud-retrain-2"}),
        (False, "AwaitingApproval", {"modelship.io/reject": "fraud-retrain-2"}),
        (True, "Rejected", ExitCode.NOT_APPLICABLE),
        (False, "Promoted", ExitCode.NOT_APPLICABLE),
    ],
)
def test_approve_and_reject_answer_only_a_run_that_waits(
    approve: bool, outcome: str, expected: Any
) -> None:
    policies = [retrain_policy(runs=[run("fraud-retrain-2", outcome)])]
    found = actions.find_run("fraud-retrain-2", policies)
    assert isinstance(found, actions.FoundRun)
    decision = actions.decide(found, approve)
    if isinstance(expected, dict):
        assert patch(decision).annotations == expected
        assert patch(decision).name == "fraud-retrain"
    else:
        assert refusal(decision).code is expected
        assert f"is {outcome}, not AwaitingApproval" in refusal(decision).message


def test_a_run_nobody_has_is_not_found() -> None:
    found = actions.find_run("nope-1", [retrain_policy(runs=[run("fraud-retrain-2", "Running")])])
    assert refusal(found).code is ExitCode.NOT_FOUND


def test_decision_answer_waits_for_the_outcome_to_move() -> None:
    waiting = retrain_policy(runs=[run("fraud-retrain-2", "AwaitingApproval")])
    promoting = retrain_policy(runs=[run("fraud-retrain-2", "Promoting", message="written")])
    assert actions.decision_answer(waiting, "fraud-retrain-2") is None
    assert actions.decision_answer(promoting, "fraud-retrain-2") == (
        ExitCode.OK,
        "run fraud-retrain-2 is Promoting: written",
    )


@pytest.mark.parametrize(
    ("md", "finished", "code"),
    [
        (model_deployment(phase="Healthy"), True, ExitCode.OK),
        (
            model_deployment(phase="RolledBack", message="error-rate 0.4 > max 0.02"),
            True,
            ExitCode.NOT_HEALTHY,
        ),
        (model_deployment(phase="Degraded"), True, ExitCode.NOT_HEALTHY),
        (model_deployment(phase="Failed"), True, ExitCode.NOT_HEALTHY),
        (model_deployment(phase="Progressing"), False, ExitCode.TIMEOUT),
        (paused_canary(), False, ExitCode.TIMEOUT),
        (model_deployment(phase="Pending"), False, ExitCode.TIMEOUT),
        # Healthy while a canary still runs is not the end (blue-green preview, a new step).
        (model_deployment(phase="Healthy", canaryRevision="bbbb222222"), False, ExitCode.TIMEOUT),
        # A status from before the last spec change says nothing of the new rollout.
        (
            {
                **model_deployment(phase="Healthy"),
                "status": {"phase": "Healthy", "observedGeneration": 1},
            },
            False,
            ExitCode.TIMEOUT,
        ),
    ],
)
def test_rollout_verdict(md: dict[str, Any], finished: bool, code: ExitCode) -> None:
    verdict = actions.rollout_verdict(md)
    assert (verdict.finished, verdict.code) == (finished, code)


def test_rollout_verdict_line_says_phase_and_message() -> None:
    md = model_deployment(phase="RolledBack", message="error-rate 0.4 > max 0.02")
    assert actions.rollout_verdict(md).line == "RolledBack: error-rate 0.4 > max 0.02"
    stale = {**md, "status": {"observedGeneration": 1}}
    assert actions.rollout_verdict(stale).line == "waiting for the operator to observe generation 2"


@pytest.mark.parametrize(
    ("annotations", "handled", "pending"),
    [
        ({}, {}, []),
        ({"modelship.io/rollback-to": "aaaa:1"}, {}, ["modelship.io/rollback-to"]),
        ({"modelship.io/rollback-to": "aaaa:1"}, {"rollbackTo": "aaaa:1"}, []),
        ({"modelship.io/abort": "2"}, {"abort": "1"}, ["modelship.io/abort"]),
        # A promote held by modelship.io/paused has been seen: it waits for the pause.
        ({"modelship.io/promote": "5"}, {"promote": "4", "deferredPromote": "5"}, []),
        (
            {"modelship.io/promote-full": "5", "modelship.io/retry": "1"},
            {"retry": "1"},
            ["modelship.io/promote-full"],
        ),
        ({"modelship.io/paused": "true"}, {}, []),  # a state, not a one-shot control
    ],
)
def test_a_healthy_phase_before_the_operator_acted_on_a_control_is_not_the_end(
    annotations: dict[str, str], handled: dict[str, str], pending: list[str]
) -> None:
    md = model_deployment(annotations=annotations, phase="Healthy", rollout={"handled": handled})
    assert actions.unhandled_controls(md) == pending
    verdict = actions.rollout_verdict(md)
    assert verdict.finished is not pending
    if pending:
        assert verdict.line == f"waiting for the operator to act on {', '.join(pending)}"
