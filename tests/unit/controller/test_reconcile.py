"""The reconcile pass end to end, with kopf's Event poster replaced by a recorder."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from modelship.api import DRIFT_MONITOR, KINDS_BY_NAME, MODEL_DEPLOYMENT, RETRAIN_POLICY
from modelship.controller.handlers import existing_in, references
from modelship.controller.reconcile import reconcile
from modelship.planners.assessment import Existing

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
T0 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    recorded: list[tuple[str, str, str]] = []

    def record(body: Any, *, type: str, reason: str, message: str = "", **_: Any) -> None:
        recorded.append((type, reason, message))

    monkeypatch.setattr(kopf, "event", record)
    return recorded


def example(name: str, generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    body["metadata"].update(namespace="ml", generation=generation, uid="u-1")
    return body


def run(body: dict[str, Any], existing: Existing, now: datetime = T0) -> dict[str, Any]:
    """One pass; applies the status patch to `body` as the API server would. Returns it."""
    patch: dict[str, Any] = {}
    reconcile(KINDS_BY_NAME[body["kind"]], body, patch, existing, now=now)
    if "status" in patch:
        body["status"] = {**body.get("status", {}), **patch["status"]}
    return patch


ALL = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"})


@pytest.mark.parametrize(
    ("name", "phase"),
    [("driftmonitor.yaml", "Monitoring"), ("retrainpolicy.yaml", "Idle")],
)
def test_examples_become_ready_then_stay_untouched(
    name: str, phase: str, events: list[tuple[str, str, str]]
) -> None:
    body = example(name)
    first = run(body, ALL)
    assert first["status"]["phase"] == phase
    assert first["status"]["observedGeneration"] == 1
    assert len(events) == 1
    assert events[0][0] == "Normal"
    for minutes in (1, 60, 600):  # idle: later passes (resumes, re-lists) change nothing
        assert run(body, ALL, T0 + timedelta(minutes=minutes)) == {}
    assert len(events) == 1


def test_spec_edit_is_observed(events: list[tuple[str, str, str]]) -> None:
    body = example("driftmonitor.yaml")
    run(body, ALL)
    body["spec"]["interval"] = "10m"
    body["metadata"]["generation"] = 2
    patch = run(body, ALL, T0 + timedelta(minutes=1))
    assert patch["status"]["observedGeneration"] == 2
    assert "every 10m" in patch["status"]["message"]
    ready = {c["type"]: c for c in body["status"]["conditions"]}["Ready"]
    assert ready["lastTransitionTime"] == "2026-11-24T05:00:00Z"  # still Ready since T0
    assert len(events) == 1  # no transition, no Event


def test_invalid_spec_is_stalled_once_and_recovers(events: list[tuple[str, str, str]]) -> None:
    body = example("retrainpolicy.yaml")
    body["spec"]["triggers"]["schedule"] = "0 3 * * 9"
    patch = run(body, ALL)
    assert patch["status"]["phase"] == "Failed"
    stalled = {c["type"]: c for c in patch["status"]["conditions"]}["Stalled"]
    assert stalled["status"] == "True"
    assert stalled["reason"] == "InvalidSpec"
    assert "spec.triggers.schedule: schedule '0 3 * * 9': day of week 9" in stalled["message"]
    assert events == [("Warning", "InvalidSpec", patch["status"]["message"])]
    assert run(body, ALL, T0 + timedelta(minutes=5)) == {}  # no retry loop, no rewrite
    fixed = copy.deepcopy(body)
    fixed["spec"]["triggers"]["schedule"] = "0 3 * * 0"
    fixed["metadata"]["generation"] = 2
    assert run(fixed, ALL)["status"]["phase"] == "Idle"
    assert events[-1][:2] == ("Normal", "Armed")


def test_reference_appearing_turns_the_monitor_ready(events: list[tuple[str, str, str]]) -> None:
    body = example("driftmonitor.yaml")
    patch = run(body, Existing())
    assert patch["status"]["phase"] == "Failed"  # what the Stalled condition says, too
    stalled = {c["type"]: c for c in patch["status"]["conditions"]}["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "ReferenceNotFound")
    assert run(body, Existing()) == {}
    assert run(body, Existing(model_deployments={"fraud"}))["status"]["phase"] == "Monitoring"
    assert [e[:2] for e in events] == [("Warning", "ReferenceNotFound"), ("Normal", "Monitoring")]


def test_references_of_each_kind() -> None:
    assert references(MODEL_DEPLOYMENT.kind, example("modeldeployment-canary.yaml")["spec"]) == []
    assert references(DRIFT_MONITOR.kind, example("driftmonitor.yaml")["spec"]) == [
        ("ModelDeployment", "fraud")
    ]
    assert references(RETRAIN_POLICY.kind, example("retrainpolicy.yaml")["spec"]) == [
        ("ModelDeployment", "fraud"),
        ("DriftMonitor", "fraud-drift"),
        ("DriftMonitor", "fraud-drift"),
    ]


def test_existing_reads_names_per_namespace_from_the_indexes() -> None:
    indexes = {
        "modeldeployment_names": {"ml": ["fraud", "churn"], "other": ["x"]},
        "driftmonitor_names": {"ml": ["fraud-drift"]},
    }
    assert existing_in("ml", indexes) == Existing(
        frozenset({"fraud", "churn"}), frozenset({"fraud-drift"})
    )
    assert existing_in("nowhere", indexes) == Existing()
