"""The plugin's screens and documents: what `get`, `history`, `drift` and `retrain` show."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from modelship.kubectl import reports, rollout_view, text
from modelship.kubectl.rollout_view import Snapshot
from modelship_testing.plugin_objects import (
    deployment,
    drift_monitor,
    history_entry,
    model_deployment,
    paused_canary,
    pod,
    retrain_policy,
    run,
)

NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def lines(renderable: Any, width: int = 140) -> list[str]:
    return [line.rstrip() for line in text.to_text(renderable, width=width).splitlines()]


def line_with(rendered: list[str], needle: str) -> str:
    found = [line for line in rendered if needle in line]
    assert len(found) == 1, (needle, rendered)
    return found[0]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (45, "45s"),
        (192, "3m12s"),
        (600, "10m"),
        (3 * 3600 + 120, "3h2m"),
        (11 * 3600 + 5, "11h"),
        (2 * 86400 + 4 * 3600, "2d4h"),
        (-5, "0s"),
    ],
)
def test_duration(seconds: float, expected: str) -> None:
    assert text.duration(seconds) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "-"), (3, "3"), (0.0012345, "0.001234"), (0.5, "0.5"), (True, "True"), ("x", "x")],
)
def test_number(value: Any, expected: str) -> None:
    assert text.number(value) == expected


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"setWeight": 25}, "setWeight 25%"),
        ({"pause": {}}, "pause (until promoted)"),
        ({"pause": {"duration": "5m"}}, "pause 5m"),
        ({"analysis": {}}, "analysis all metrics"),
        (
            {"analysis": {"metrics": ["error-rate", "p99"], "count": 3}},
            "analysis error-rate, p99 x3",
        ),
    ],
)
def test_describe_step(step: dict[str, Any], expected: str) -> None:
    assert rollout_view.describe_step(step) == expected


@pytest.mark.parametrize(
    ("status", "states"),
    [
        ({"phase": "Healthy"}, [""] * 5),  # no rollout in progress: nothing marked
        (paused_canary()["status"], ["done", "current", "pending", "pending", "pending"]),
        (
            {**paused_canary()["status"], "currentStep": 4},
            ["done", "done", "done", "done", "current"],
        ),
        ({**paused_canary()["status"], "currentStep": 5}, ["done"] * 5),  # promoting
        ({**paused_canary()["status"], "rollout": {"stage": "Shadow"}}, ["pending"] * 5),
    ],
)
def test_step_states(status: dict[str, Any], states: list[str]) -> None:
    summary = rollout_view.summarize(Snapshot(model_deployment(**status)))
    assert [row["state"] for row in summary["steps"]] == states


def canary_snapshot() -> Snapshot:
    md = paused_canary(
        measurements=[
            {
                "metric": "error-rate",
                "result": "Successful",
                "value": 0.00123,
                "stableValue": 0.001,
                "samples": 420,
                "measuredAt": "2026-01-01T12:00:10Z",
                "message": "0.00123 <= max 0.01",
            }
        ],
        analysis={"successful": 2, "failed": 0, "inconclusive": 0},
    )
    return Snapshot(
        md,
        deployments=[
            deployment("aaaa111111", "7", 3, 3),
            deployment("bbbb222222", "8", 1, 0),
            deployment("cccc333333", "6", 0, 0),
        ],
        pods=[pod("bbbb222222", "x1", ready=False, restarts=2), pod("aaaa111111", "a1", True)],
        monitors=[
            drift_monitor(
                phase="Drifted",
                samples=2400,
                lastEvaluationTime="2026-01-01T11:57:00Z",
                conditions=[{"type": "Drifted", "status": "True", "reason": "DatasetDrift"}],
                features=[
                    {
                        "name": f"f{i}",
                        "method": "psi",
                        "score": 0.5 - i / 10,
                        "severity": "critical" if i < 2 else "none",
                    }
                    for i in range(7)
                ],
                datasetDrift={"drifted": True, "share": 0.5, "driftedFeatures": 2, "features": 4},
            )
        ],
        policies=[
            retrain_policy(
                phase="Idle",
                runs=[
                    run(
                        "fraud-retrain-2",
                        "AwaitingApproval",
                        message="validated; approve with modelship.io/approve=fraud-retrain-2",
                    )
                ],
            )
        ],
    )


def test_summary_of_a_paused_canary() -> None:
    summary = rollout_view.summarize(canary_snapshot())
    json.dumps(summary)  # what -o json prints
    assert (summary["phase"], summary["step"], summary["canaryWeight"]) == ("Paused", "2/5", 25)
    assert summary["model"] == {
        "name": "fraud-detector",
        "desiredVersion": "8",
        "stableVersion": "7",
        "uri": "s3://models/fraud/8/",
    }
    revisions = [
        (r["revision"], r["role"], r["modelVersion"], r["readyReplicas"], r["replicas"])
        for r in summary["revisions"]
    ]
    assert revisions == [
        ("bbbb222222", "canary", "8", 0, 1),
        ("aaaa111111", "stable", "7", 3, 3),
        ("cccc333333", "old", "6", 0, 0),
    ]
    assert summary["revisions"][0]["pods"] == [
        {
            "name": "fraud-bbbb222222-x1",
            "status": "Running",
            "ready": False,
            "restarts": 2,
            "createdAt": "2026-01-01T11:59:00Z",
        }
    ]
    assert [f["name"] for f in summary["driftMonitors"][0]["features"]] == [
        "f0",
        "f1",
        "f2",
        "f3",
        "f4",
    ]
    assert summary["driftMonitors"][0]["featureCount"] == 7
    assert summary["retrainPolicies"][0]["runs"][0]["name"] == "fraud-retrain-2"


def test_the_screen_marks_the_current_step_and_shows_what_a_person_needs() -> None:
    shown = lines(rollout_view.render(rollout_view.summarize(canary_snapshot()), NOW))
    assert line_with(shown, "pause (until promoted)").startswith("►  2")
    assert line_with(shown, "setWeight 25%").startswith("✔  1")
    assert line_with(shown, "setWeight 50%").startswith("○  4")
    assert "kubectl modelship promote fraud" in line_with(shown, "pause (until promoted)")
    assert line_with(shown, "Weight:").split() == ["Weight:", "canary", "25%,", "stable", "75%"]
    assert line_with(shown, "bbbb222222  ").split() == ["bbbb222222", "canary", "8", "0/1", "1h"]
    assert line_with(shown, "fraud-bbbb222222-x1").split()[-4:] == ["Running", "✖", "2", "1m30s"]
    assert "1 older revision(s) scaled to zero, kept for undo" in shown
    assert line_with(shown, "error-rate  ").split()[:6] == [
        "error-rate",
        "✔",
        "Successful",
        "0.00123",
        "0.001",
        "420",
    ]
    assert "Drift fraud-drift  ✖ Drifted  Drifted=True  samples 2400  evaluated 3m30s ago" in shown
    assert "... 2 more: kubectl modelship drift fraud-drift" in "\n".join(shown)
    assert "kubectl modelship approve fraud-retrain-2" in line_with(shown, "fraud-retrain-2  ")


def test_a_timed_pause_counts_down() -> None:
    md = paused_canary(currentStep=4, rollout={"step": "5/5", "stage": "Canary"})
    shown = lines(rollout_view.render(rollout_view.summarize(Snapshot(md)), NOW))
    assert line_with(shown, "pause 1m").endswith("pause 1m  (ends in 30s)")


def test_messages_are_shown_as_written_not_as_markup() -> None:
    md = paused_canary(message="analysis: [error-rate=0 Successful] [bold]x[/bold]")
    shown = lines(rollout_view.render(rollout_view.summarize(Snapshot(md)), NOW))
    assert "[error-rate=0 Successful] [bold]x[/bold]" in line_with(shown, "Message:")


def test_a_healthy_model_deployment_marks_no_step_and_shows_no_weight() -> None:
    md = model_deployment(
        phase="Healthy", stableRevision="aaaa111111", rollout={"stableVersion": "8"}
    )
    summary = rollout_view.summarize(Snapshot(md))
    shown = lines(rollout_view.render(summary, NOW))
    assert (summary["canaryWeight"], summary["step"]) == (None, None)
    assert not [line for line in shown if line.startswith(("►", "✔  ", "○"))]
    assert "Weight:" not in "\n".join(shown)
    assert line_with(shown, "Model:").endswith("fraud-detector: stable version 8")


def test_list_rows() -> None:
    rows = rollout_view.list_rows(
        [paused_canary(), model_deployment("iris", phase="Healthy")],
        [drift_monitor(conditions=[{"type": "Drifted", "status": "False"}])],
        [retrain_policy(runs=[run("fraud-retrain-2", "Promoted")])],
    )
    fraud, iris = rows
    assert (fraud["step"], fraud["canaryWeight"], fraud["version"]) == ("2/5", 25, "7")
    assert fraud["drifted"] == ["fraud-drift=False"]
    assert fraud["lastRuns"] == ["fraud-retrain-2 Promoted"]
    assert (iris["drifted"], iris["lastRuns"], iris["step"]) == ([], [], None)
    shown = lines(rollout_view.render_list(rows, NOW, namespaces=True))
    assert shown[0].split()[:3] == ["NAMESPACE", "NAME", "STRATEGY"]
    assert line_with(shown, "fraud ").split()[:7] == [
        "ml",
        "fraud",
        "canary",
        "॥",
        "Paused",
        "2/5",
        "25%",
    ]


def test_history_numbers_oldest_first_and_marks_what_serves() -> None:
    md = model_deployment(
        phase="Healthy",
        stableRevision="bbbb222222",
        history=[
            history_entry("cccc333333", "3", "RolledBack", "2026-01-01T11:00:00Z"),
            history_entry("bbbb222222", "2", "Promoted", "2026-01-01T10:00:00Z"),
            history_entry("aaaa111111", "1", "Promoted", "2026-01-01T09:00:00Z"),
        ],
    )
    rows = reports.history_rows(md, kept=["bbbb222222", "cccc333333"])
    assert [(r["number"], r["revision"], r["serving"], r["kept"]) for r in rows] == [
        (1, "aaaa111111", False, False),
        (2, "bbbb222222", True, True),
        (3, "cccc333333", False, True),
    ]
    shown = lines(reports.render_history(rows, NOW))
    assert line_with(shown, "aaaa111111").split()[:6] == [
        "1",
        "aaaa111111",
        "(gone)",
        "1",
        "✔",
        "Promoted",
    ]
    assert "(serving)" in line_with(shown, "bbbb222222")
    assert line_with(shown, "cccc333333").split()[3:7] == ["↩", "RolledBack", "1h", "ago"]
    assert reports.render_history([], NOW) is not None
    assert lines(reports.render_history([], NOW)) == ["no rollouts recorded yet"]


def test_the_drift_report_has_every_section_present() -> None:
    monitor = drift_monitor(
        phase="Drifted",
        samples=900,
        lastEvaluationTime="2026-01-01T12:00:00Z",
        conditions=[{"type": "Drifted", "status": "True", "reason": "DatasetDrift"}],
        reference={
            "configMap": "fraud-v7-profile",
            "key": "profile.json",
            "revision": "aaaa111111",
            "modelVersion": "7",
        },
        features=[
            {
                "name": "amount",
                "method": "psi",
                "score": 0.31,
                "severity": "critical",
                "samples": 900,
            },
            {
                "name": "country",
                "method": "chi2",
                "score": 0.003,
                "pValue": 0.001,
                "severity": "warning",
            },
            {"name": "age", "method": "psi", "severity": "none", "reason": "too few samples"},
        ],
        datasetDrift={"drifted": True, "share": 0.5, "driftedFeatures": 1, "features": 2},
        prediction={"method": "jensenShannon", "score": 0.04, "severity": "none"},
        dataQuality={"missing": 0.02, "outOfRange": 0.1},
        performance={"metric": "accuracy", "value": 0.86, "samples": 300, "degraded": True},
        fairness=[
            {"attribute": "gender", "metric": "disparateImpact", "value": 0.7, "withinRange": False}
        ],
    )
    report = reports.monitor_summary(monitor)
    json.dumps(report)
    shown = lines(reports.render_drift(report, NOW))
    assert line_with(shown, "Drifted:").split() == ["Drifted:", "True", "(DatasetDrift)"]
    assert "ConfigMap fraud-v7-profile (profile.json), revision aaaa111111, model version 7" in (
        line_with(shown, "Reference:")
    )
    features = [
        line.split()[0] for line in shown[shown.index("Features (most drifted first)") + 2 :][:4]
    ]
    assert features == ["amount", "country", "age", "(prediction)"]
    assert line_with(shown, "country").split()[:5] == [
        "country",
        "chi2",
        "0.003",
        "0.001",
        "warning",
    ]
    assert line_with(shown, "age ").endswith("too few samples")
    assert line_with(shown, "missing:").split() == ["missing:", "0.02"]
    assert "accuracy 0.86 on 300 labelled predictions: degraded" in line_with(shown, "accuracy")
    assert line_with(shown, "gender").split() == ["gender", "disparateImpact", "0.7", "no"]


def test_a_drift_report_without_evaluations_says_so() -> None:
    shown = lines(reports.render_drift(reports.monitor_summary(drift_monitor()), NOW))
    assert line_with(shown, "Status:").split() == ["Status:", "◌", "Pending"]
    assert line_with(shown, "Evaluated:").split()[:2] == ["Evaluated:", "-"]
    assert not [line for line in shown if "Features" in line or "Fairness" in line]


@pytest.mark.parametrize(
    ("outcome", "message", "shown"),
    [
        (
            "AwaitingApproval",
            "validated (ok); approve with modelship.io/approve=r-1",
            "validated (ok); kubectl modelship approve r-1 (or reject r-1)",
        ),
        ("AwaitingApproval", "", "kubectl modelship approve r-1 (or reject r-1)"),
        ("Rejected", "rejected: accuracy 0.5 < 0.9", "rejected: accuracy 0.5 < 0.9"),
    ],
)
def test_run_message(outcome: str, message: str, shown: str) -> None:
    assert reports.run_message(run("r-1", outcome, message=message)) == shown


def test_policy_screen_says_when_the_breaker_is_open() -> None:
    summary = reports.policy_summary(
        retrain_policy(
            phase="Idle",
            breakerOpen=True,
            lastSuppressed="drift trigger did not start a run: the circuit breaker is open",
            runs=[run("fraud-retrain-3", "Rejected", finishedAt="2026-01-01T11:52:05Z")],
        )
    )
    shown = lines(reports.render_policy(summary, NOW))
    assert "kubectl modelship reset-breaker fraud-retrain" in line_with(shown, "Breaker:")
    assert line_with(shown, "fraud-retrain-3").split()[:9] == [
        "fraud-retrain-3",
        "manual",
        "✖",
        "Rejected",
        "7",
        "->",
        "7-r1",
        "10m",
        "ago",
    ]
    assert "2m5s" in line_with(shown, "fraud-retrain-3")


@pytest.mark.parametrize(
    ("stage", "role", "weight"),
    [
        ("Canary", "canary", ["canary", "25%,", "stable", "75%"]),
        ("Preview", "preview", ["preview", "25%,", "stable", "75%"]),
        ("Shadow", "shadow", ["mirrored", "25%,", "stable", "100%"]),
    ],
)
def test_the_new_revision_is_named_by_its_stage(stage: str, role: str, weight: list[str]) -> None:
    md = paused_canary(rollout={"stableVersion": "7", "stage": stage})
    snapshot = Snapshot(md, deployments=[deployment("bbbb222222", "8", 1, 1)])
    summary = rollout_view.summarize(snapshot)
    assert summary["revisions"][0]["role"] == role
    assert line_with(lines(rollout_view.render(summary, NOW)), "Weight:").split()[1:] == weight


def test_a_rolled_back_rollout_says_why_first_with_the_query_to_look_at() -> None:
    failed = {
        "metric": "error-rate",
        "result": "Failed",
        "value": 0.48,
        "samples": 46,
        "measuredAt": "2026-01-01T12:00:10Z",
        "message": "0.48 > max 0.02",
        "query": 'sum(rate(modelship_requests_total{revision="bbbb222222"}[2s]))',
    }
    passed = {**failed, "metric": "p99", "result": "Successful", "message": "0.1 within"}
    entry = {**history_entry("bbbb222222", "8", "RolledBack", "2026-01-01T11:00:00Z"),
             "measurements": [failed, passed]}  # fmt: skip
    md = paused_canary(phase="RolledBack", history=[entry], measurements=[])
    summary = rollout_view.summarize(Snapshot(md))
    assert [w["metric"] for w in summary["why"]] == ["error-rate"]
    shown = lines(rollout_view.render(summary, NOW))
    why = shown.index(line_with(shown, "Why:"))
    assert why < shown.index(line_with(shown, "Strategy:"))  # before the rest of the screen
    assert line_with(shown, "Why:").split()[1:] == ["error-rate:", "0.48", ">", "max", "0.02",
                                                   "(46", "requests)"]  # fmt: skip
    assert failed["query"] in line_with(shown, "Look at:")
    healthy = rollout_view.summarize(Snapshot(paused_canary(phase="Healthy")))
    assert healthy["why"] == []


def test_a_rollback_after_promotion_says_why_and_an_open_window_is_shown() -> None:
    failed = {
        "metric": "error-rate", "result": "Failed", "value": 0.3, "samples": 80,
        "measuredAt": "2026-01-01T12:00:10Z", "message": "0.3 > max 0.05",
        "query": 'sum(rate(modelship_requests_total{revision="bbbb222222"}[2s]))',
    }  # fmt: skip
    entry = {**history_entry("bbbb222222", "8", "RolledBackAfterPromotion",
                             "2026-01-01T11:00:00Z"), "measurements": [failed]}  # fmt: skip
    md = paused_canary(phase="RolledBack", history=[entry], measurements=[])
    summary = rollout_view.summarize(Snapshot(md))
    assert [w["metric"] for w in summary["why"]] == ["error-rate"]
    assert failed["query"] in line_with(lines(rollout_view.render(summary, NOW)), "Look at:")

    window = {"revision": "bbbb222222", "previous": "aaaa111111", "previousReplicas": 2,
              "openedAt": "2026-01-01T12:00:00Z", "until": "2026-01-01T12:10:00Z"}  # fmt: skip
    md = paused_canary(phase="Healthy", rollout={"stableVersion": "8", "window": window})
    shown = line_with(lines(rollout_view.render(rollout_view.summarize(Snapshot(md)), NOW)),
                      "Rollback window:")  # fmt: skip
    assert "until 2026-01-01T12:10:00Z" in shown
    assert "revision aaaa111111 keeps 2 pods" in shown


def test_a_drift_triggered_run_says_why_it_ran_and_a_rejection_why_it_failed() -> None:
    evidence = (
        "DatasetDrift: amount psi 0.31 >= critical 0.25; over the last 30m window "
        "(2400 predictions)"
    )
    rejected = run("fraud-retrain-3", "Rejected", trigger="drift", evidence=evidence,
                   message="rejected: accuracy 0.88 < min 0.91 (baseline 0.9)")  # fmt: skip
    md = paused_canary(phase="Healthy")
    snapshot = Snapshot(md, policies=[retrain_policy(phase="Idle", runs=[rejected])])
    shown = lines(rollout_view.render(rollout_view.summarize(snapshot), NOW), width=240)
    assert evidence in line_with(shown, "why fraud-retrain-3 ran:")
    assert "accuracy 0.88 < min 0.91 (baseline 0.9)" in line_with(shown, "fraud-retrain-3  ")
