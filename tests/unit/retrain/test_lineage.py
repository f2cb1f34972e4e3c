"""The lineage chain of a ModelDeployment's versions, from its history and its policies' runs,
and what it says when a link is missing."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.lineage_main import _name
from modelship.retrain.lineage import ROLLING_OUT, lineage, policies_named, table

RUN_3 = {
    "name": "rp-3", "trigger": "drift", "reason": "DriftMonitor fd: drift in 2 evaluations",
    "evidence": "DatasetDrift: amount psi 1.9",
    "triggerScores": [{"name": "amount", "method": "psi", "score": 1.9, "severity": "critical"}],
    "baseVersion": "7", "newVersion": "7-r3", "data": "s3://d/2026-12/ (120000 rows)",
    "metrics": {"accuracy": 0.93}, "baselineMetrics": {"accuracy": 0.9},
    "validation": "every check passed", "outcome": "Promoted",
}  # fmt: skip
POLICY = {"metadata": {"name": "rp"}, "status": {"runs": [RUN_3]}}


def md(history: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    return {"status": {"stableRevision": "b", "history": history, **status}}


def entry(revision: str, version: str, outcome: str, run: str | None = None) -> dict[str, Any]:
    found = {"revision": revision, "modelVersion": version, "modelURI": f"s3://m/{version}/",
             "outcome": outcome, "reason": "all steps passed", "startedAt": "t0",
             "finishedAt": "t1"}  # fmt: skip
    return {**found, "run": run} if run else found


@pytest.mark.parametrize(
    ("case", "history", "policies", "rows"),
    [
        ("a retrained version serving, over the one from the spec",
         [entry("b", "7-r3", "Promoted", "rp/rp-3"), entry("a", "7", "Promoted")],
         {"rp": POLICY},
         [("7-r3", True, "Promoted", "rp/rp-3", "drift", ""),
          ("7", False, "Promoted", None, "", "from spec.model")]),
        ("a rolled-back candidate is listed with the run that produced it",
         [entry("c", "7-r3", "RolledBack", "rp/rp-3"), entry("b", "7", "Promoted")],
         {"rp": POLICY},
         [("7-r3", False, "RolledBack", "rp/rp-3", "drift", ""),
          ("7", True, "Promoted", None, "", "from spec.model")]),
        ("a run gone from the policy's status",
         [entry("b", "7-r1", "Promoted", "rp/rp-1")], {"rp": POLICY},
         [("7-r1", True, "Promoted", "rp/rp-1", "", "no longer in RetrainPolicy rp")]),
        ("a deleted policy",
         [entry("b", "7-r3", "Promoted", "rp/rp-3")], {"rp": None},
         [("7-r3", True, "Promoted", "rp/rp-3", "", "RetrainPolicy rp does not exist")]),
        ("the same revision promoted twice: the newest serves",
         [entry("b", "7", "Promoted"), entry("c", "8", "Promoted"), entry("b", "7", "Promoted")],
         {}, [("7", True, "Promoted", None, "", "from spec"), ("8", False, "Promoted", None, "",
              "from spec"), ("7", False, "Promoted", None, "", "from spec")]),
    ],
)  # fmt: skip
def test_the_chain_of_each_version(case: str, history: list[dict[str, Any]],
                                   policies: dict[str, Any],
                                   rows: list[tuple[Any, ...]]) -> None:  # fmt: skip
    found = lineage(md(history), policies)
    got = [(e.version, e.serving, e.rollout, e.run, e.trigger, e.note) for e in found]
    assert [g[:5] for g in got] == [r[:5] for r in rows], case
    for (*_, note), (*_, wanted) in zip(got, rows, strict=True):
        assert wanted in note if wanted else note == "", case


def test_a_retrained_version_carries_its_whole_chain() -> None:
    [first] = lineage(md([entry("b", "7-r3", "Promoted", "rp/rp-3")]), {"rp": POLICY})
    assert first.to_json() == {
        "version": "7-r3", "revision": "b", "uri": "s3://m/7-r3/", "serving": True,
        "rollout": "Promoted", "rolloutReason": "all steps passed", "rolloutStartedAt": "t0",
        "rolloutFinishedAt": "t1", "run": "rp/rp-3", "trigger": "drift",
        "triggerReason": "DriftMonitor fd: drift in 2 evaluations",
        "evidence": "DatasetDrift: amount psi 1.9", "triggerScores": RUN_3["triggerScores"],
        "baseVersion": "7", "data": "s3://d/2026-12/ (120000 rows)",
        "metrics": {"accuracy": 0.93}, "baselineMetrics": {"accuracy": 0.9},
        "validation": "every check passed", "runOutcome": "Promoted",
    }  # fmt: skip


def test_the_version_in_rollout_comes_first() -> None:
    status = {
        "canaryRevision": "c",
        "model": {
            "version": "7-r4",
            "uri": "s3://m/7-r4/",
            "source": "RetrainPolicy",
            "run": "rp/rp-4",
        },
    }
    body = md([entry("b", "7", "Promoted")], **status)
    assert policies_named(body) == ["rp"]
    found = lineage(body, {"rp": POLICY})
    assert [(e.version, e.rollout, e.serving) for e in found] == [
        ("7-r4", ROLLING_OUT, False), ("7", "Promoted", True),
    ]  # fmt: skip


def test_the_table_has_one_row_per_version_with_metrics_and_drift() -> None:
    text = table(lineage(md([entry("b", "7-r3", "Promoted", "rp/rp-3")]), {"rp": POLICY}))
    header, row = text.splitlines()
    assert header.split() == ["VERSION", "SERVING", "ROLLOUT", "RUN", "TRIGGER", "DRIFT", "DATA",
                              "METRICS", "BASELINE", "VALIDATION"]  # fmt: skip
    for cell in ("7-r3", "yes", "rp/rp-3", "amount:psi=1.9", "accuracy=0.93", "accuracy=0.9"):
        assert cell in row


@pytest.mark.parametrize(
    ("target", "name"), [("md/fraud", "fraud"), ("fraud", "fraud"), ("modeldeployment/x", "x")]
)
def test_the_target_names_a_model_deployment(target: str, name: str) -> None:
    assert _name(target) == name


def test_another_kind_has_no_lineage() -> None:
    with pytest.raises(ValueError, match="only ModelDeployments"):
        _name("rp/fraud-retrain")
