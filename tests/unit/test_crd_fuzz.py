"""Whatever the CRD schemas admit, the operator plans a status: each kind's reconciler, against
the fake adapters of its own unit tests, never raises on a spec generated from crds/*.yaml; an
invalid spec is Stalled with a message, a valid one gets a phase and kstatus conditions.

The specs come from modelship_testing.crd_strategies. A draw also decides whether the objects
a spec refers to exist, and repairs the one rule each kind's generated specs almost never
meet by chance (a reference to the fakes' ModelDeployment; `{version}` in an output URI), so
that most cases reach the planners past validation.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modelship.api import KINDS_BY_NAME
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.driftmonitor.reconciler import DriftMonitorReconciler
from modelship.modeldeployment.reconciler import RolloutReconciler
from modelship.planners.assessment import Existing
from modelship.retrain.jobs import JobObserved
from modelship.retrainpolicy.reconciler import RetrainPolicyReconciler
from modelship.rollout.references import UNCHECKED
from modelship_testing.crd_strategies import specs

from tests.unit.drift.test_monitor_reconciler import FakeCluster, FakePrometheus
from tests.unit.modeldeployment.test_rollout_reconciler import T0, FakeAdapter, NoAnalysis
from tests.unit.retrain.test_policy_reconciler import FakeK8s

CASES = 300
FUZZ = settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KSTATUS = {"Ready", "Reconciling", "Stalled"}


@pytest.fixture(scope="module")
def outcomes() -> Iterator[Counter[str]]:
    counted: Counter[str] = Counter()
    yield counted
    print(f"\nCRD fuzz outcomes: {dict(sorted(counted.items()))}")


def body(
    kind: str,
    name: str,
    spec: dict[str, Any],
    status: dict[str, Any] | None = None,
    version: str = "1",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "modelship.io/v1alpha1", "kind": kind,
        "metadata": {"name": name, "namespace": "ml", "uid": "u-1", "generation": 1,
                     "resourceVersion": version, "creationTimestamp": T0.isoformat(),
                     "annotations": annotations or {}},
        "spec": spec, "status": status or {},
    }  # fmt: skip


def check(kind: str, obj: dict[str, Any], status: dict[str, Any], outcomes: Counter[str]) -> None:
    """A planned status: a phase and the kstatus conditions; Stalled always says why, and an
    invalid spec is always Stalled."""
    assert status.get("phase"), status
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    assert set(conditions) >= KSTATUS, conditions
    stalled = conditions["Stalled"]["status"] == "True"
    if stalled:
        assert conditions["Stalled"]["message"], conditions
    try:
        parse_spec(KINDS_BY_NAME[kind], obj)
    except InvalidObjectError:
        invalid = True
    else:
        invalid = False
    if invalid:
        assert stalled, f"an invalid spec is not Stalled: {status}"
        outcomes[f"{kind} invalid, Stalled"] += 1
        return
    outcomes[f"{kind} {status['phase']}{', Stalled' if stalled else ''}"] += 1


class EverythingExists(FakeAdapter):
    """Every ConfigMap, Secret, claim and ServiceAccount a spec names exists."""

    def data_keys(self, namespace: str, kind: str, name: str) -> frozenset[str] | None:
        return UNCHECKED


@FUZZ
@given(spec=specs("ModelDeployment"), references_exist=st.booleans())
def test_any_model_deployment_gets_a_planned_status(
    spec: dict[str, Any], references_exist: bool, outcomes: Counter[str]
) -> None:
    adapter = EverythingExists() if references_exist else FakeAdapter()
    reconciler = RolloutReconciler(adapter, NoAnalysis(), "modelship/server:test")  # type: ignore[arg-type]
    first = body("ModelDeployment", "fraud", spec)
    reconciler.reconcile(first, now=T0)
    check("ModelDeployment", first, adapter.status, outcomes)
    # The pods it created become ready: the rollout's next step is planned too.
    for revision, observed in adapter.deployments.items():
        adapter.deployments[revision] = dataclasses.replace(
            observed, ready=observed.replicas, available=observed.replicas
        )
    second = body("ModelDeployment", "fraud", spec, dict(adapter.status), adapter.version)
    reconciler.reconcile(second, now=T0.replace(minute=5))
    check("ModelDeployment", second, adapter.status, outcomes)


@FUZZ
@given(spec=specs("DriftMonitor"), ours=st.booleans())
def test_any_drift_monitor_gets_a_planned_status(
    spec: dict[str, Any], ours: bool, outcomes: Counter[str]
) -> None:
    if ours:
        spec = {**spec, "modelDeploymentRef": "fraud"}  # the fakes' ModelDeployment
    cluster, prometheus = FakeCluster(), FakePrometheus()
    existing = Existing(model_deployments={"fraud"})
    reconciler = DriftMonitorReconciler(cluster, prometheus, lambda ns: existing)  # type: ignore[arg-type]
    obj = body("DriftMonitor", "fraud-drift", spec)
    reconciler.reconcile(obj, now=T0)
    check("DriftMonitor", obj, cluster.status, outcomes)


metric_values = st.floats(-1e6, 1e6, allow_nan=False)


@FUZZ
@given(
    spec=specs("RetrainPolicy"),
    ours=st.booleans(),
    metrics=st.dictionaries(st.sampled_from(["accuracy", "auc", "rmse", "f1"]), metric_values),
    baseline=st.none() | st.dictionaries(st.sampled_from(["accuracy", "auc"]), metric_values),
)
def test_any_retrain_policy_gets_a_planned_status(
    spec: dict[str, Any],
    ours: bool,
    metrics: dict[str, float],
    baseline: dict[str, float] | None,
    outcomes: Counter[str],
) -> None:
    if ours:
        output = {**spec.get("output", {}), "uri": "s3://models/fraud/{version}/"}
        spec = {**spec, "modelDeploymentRef": "fraud", "output": output}
    fake = FakeK8s()
    existing = Existing(model_deployments={"fraud"}, drift_monitors={"fraud-drift"})
    reconciler = RetrainPolicyReconciler(fake, lambda ns: existing)  # type: ignore[arg-type]
    manual = {"modelship.io/retrain": "1"}  # a run now, whatever the triggers say
    first = body("RetrainPolicy", "p", spec, annotations=manual)
    reconciler.reconcile(first, now=T0)
    check("RetrainPolicy", first, fake.status, outcomes)
    # Its Job succeeds and reports metrics: validation and promotion are planned.
    result: dict[str, Any] = {"metrics": metrics, "artifactURI": "s3://models/fraud/9/"}
    if baseline is not None:
        result["baselineMetrics"] = baseline
    for name in fake.jobs_by_name:
        fake.jobs_by_name[name] = JobObserved(name, succeeded=True,
                                              termination_message=json.dumps(result))  # fmt: skip
    second = body("RetrainPolicy", "p", spec, dict(fake.status), fake.version, manual)
    reconciler.reconcile(second, now=T0.replace(minute=5))
    check("RetrainPolicy", second, fake.status, outcomes)
