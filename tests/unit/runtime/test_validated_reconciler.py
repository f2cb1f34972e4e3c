"""The DriftMonitor and RetrainPolicy reconcilers end to end, against a fake status sink:
what they write, and that an idle object is never written again."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship.api import KINDS_BY_NAME
from modelship.api.resources import Kind
from modelship.controller.registration import existing_in, referenced, status_promotion_target
from modelship.planners.assessment import Existing, assess_drift_monitor, assess_retrain_policy
from modelship.planners.status import Transition
from modelship.runtime.validated import ValidatedReconciler

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
T0 = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


class FakeSink:
    """Records status patches and Events as the adapter would send them."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.events: list[tuple[str, str, str]] = []

    def patch_status(
        self, resource: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str:
        self.patches.append(dict(status))
        return str(len(self.patches))

    def post_event(self, obj: Mapping[str, Any], event: Transition) -> None:
        self.events.append((event.type, event.reason, event.message))


SINK = FakeSink()


@pytest.fixture
def events() -> list[tuple[str, str, str]]:
    SINK.patches.clear()
    SINK.events.clear()
    return SINK.events


def example(name: str, generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    body["metadata"].update(namespace="ml", generation=generation, uid="u-1")
    return body


def reconciler(kind: str, existing: Existing) -> ValidatedReconciler:
    """The validation every DriftMonitor and RetrainPolicy pass starts with."""
    assess = assess_drift_monitor if kind == "DriftMonitor" else assess_retrain_policy
    return ValidatedReconciler(KINDS_BY_NAME[kind], assess, SINK, lambda namespace: existing)


def run(body: dict[str, Any], existing: Existing, now: datetime = T0) -> dict[str, Any]:
    """One pass; applies the status patch to `body` as the API server would. Returns the
    patch written, as {"status": ...}, or {} when nothing was written."""
    before = len(SINK.patches)
    assert reconciler(body["kind"], existing).reconcile(body, now=now) is None
    if len(SINK.patches) == before:
        return {}
    status = SINK.patches[-1]
    body["status"] = {**body.get("status", {}), **status}
    return {"status": status}


ALL = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"})


@pytest.mark.parametrize(
    ("name", "phase"),
    [("driftmonitor.yaml", "Pending"), ("retrainpolicy.yaml", "Pending")],
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
    assert patch["status"] == {"observedGeneration": 2, "conditions": patch["status"]["conditions"]}
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
    assert run(fixed, ALL)["status"]["phase"] == "Pending"
    assert events[-1][:2] == ("Normal", "WaitingForFirstPass")


def test_reference_appearing_turns_the_monitor_ready(events: list[tuple[str, str, str]]) -> None:
    body = example("driftmonitor.yaml")
    patch = run(body, Existing())
    assert patch["status"]["phase"] == "Failed"  # what the Stalled condition says, too
    stalled = {c["type"]: c for c in patch["status"]["conditions"]}["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "ReferenceNotFound")
    assert run(body, Existing()) == {}
    assert run(body, Existing(model_deployments={"fraud"}))["status"]["phase"] == "Pending"
    assert [e[:2] for e in events] == [
        ("Warning", "ReferenceNotFound"),
        ("Normal", "WaitingForEvaluation"),
    ]


def test_references_of_each_kind() -> None:
    assert referenced(example("modeldeployment-canary.yaml")) == []
    assert referenced(example("driftmonitor.yaml")) == [("ModelDeployment", "fraud")]
    invalid = example("driftmonitor.yaml")
    invalid["spec"]["interval"] = "often"
    assert referenced(invalid) == []  # Stalled on its spec: nothing to wake it for
    assert referenced(example("retrainpolicy.yaml")) == [
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


def test_the_oldest_policy_promoting_into_its_status_owns_its_model_deployment() -> None:
    indexes = {
        "retrainpolicy_status_promoters": {"ml": [
            ("fraud", "2026-12-02T00:00:00Z", "young"), ("fraud", "2026-12-01T00:00:00Z", "old"),
            ("churn", "2026-12-03T00:00:00Z", "churn-retrain"),
        ]},
    }  # fmt: skip
    owners = existing_in("ml", indexes).promotion_owners
    assert owners == {"fraud": "old", "churn": "churn-retrain"}
    body = example("retrainpolicy.yaml")
    assert status_promotion_target(body) is None  # promotes into the spec
    body["spec"]["promotionTarget"] = "policyStatus"
    assert status_promotion_target(body) == "fraud"


def test_a_policy_that_lost_its_promotion_target_acts_on_nothing(
    events: list[tuple[str, str, str]],
) -> None:
    body = example("retrainpolicy.yaml")
    body["spec"]["promotionTarget"] = "policyStatus"
    taken = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"},
                     promotion_owners={"fraud": "older"})  # fmt: skip
    validated = reconciler("RetrainPolicy", taken)
    assert validated.actionable(body) is None
    patch = run(body, taken)
    stalled = {c["type"]: c for c in patch["status"]["conditions"]}["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "PromotionTargetTaken")
    owner = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"},
                     promotion_owners={"fraud": body["metadata"]["name"]})  # fmt: skip
    assert reconciler("RetrainPolicy", owner).actionable(body) is not None
