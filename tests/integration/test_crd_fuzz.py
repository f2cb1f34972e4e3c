"""Whatever the real API server accepts, the real operator reconciles: specs generated from the
CRD schemas (modelship_testing.crd_strategies) are created in one namespace; every one the API
server admits is observed at its generation and reports Ready, Stalled with a message, or a
rollout in progress with a message, and the operator's log holds no traceback.

A bounded number of cases per kind (the unit fuzz, tests/unit/test_crd_fuzz.py, runs many
more against fakes). Replica counts are capped at 3 so that a case costs seconds, not pods.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from modelship_testing.crd_strategies import specs
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.waiters import wait_for

from tests.integration.test_operator import Objects, load

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.usefixtures("crds")]

CASES_PER_KIND = 20
MAX_REPLICAS = 3
NAMES = {"ModelDeployment": "md", "DriftMonitor": "dm", "RetrainPolicy": "rp"}
FUZZ = settings(
    max_examples=CASES_PER_KIND,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # each case is an object in the cluster: nothing to shrink
    suppress_health_check=list(HealthCheck),
)


def capped(spec: dict[str, Any]) -> dict[str, Any]:
    """A ModelDeployment spec with at most MAX_REPLICAS pods (order of min and max kept)."""
    serving = dict(spec.get("serving") or {})
    if isinstance(serving.get("replicas"), int):
        serving["replicas"] = min(serving["replicas"], MAX_REPLICAS)
    if serving.get("autoscaling"):
        scaling = dict(serving["autoscaling"])
        for bound in ("minReplicas", "maxReplicas"):
            if isinstance(scaling.get(bound), int):
                scaling[bound] = min(scaling[bound], MAX_REPLICAS)
        serving["autoscaling"] = scaling
    return {**spec, "serving": serving} if serving else spec


def ours(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Point a spec at the namespace's ModelDeployment and DriftMonitor, and meet the one rule
    a generated RetrainPolicy almost never meets by chance."""
    if kind == "DriftMonitor":
        return {**spec, "modelDeploymentRef": "fraud"}
    if kind == "RetrainPolicy":
        triggers = {
            name: {**value, "driftMonitorRef": "fraud-drift"} if isinstance(value, dict) else value
            for name, value in (spec.get("triggers") or {}).items()
        }
        output = {**spec.get("output", {}), "uri": "s3://models/fraud/{version}/"}
        return {**spec, "modelDeploymentRef": "fraud", "triggers": triggers, "output": output}
    return spec


def settled(body: dict[str, Any]) -> str | None:
    """How an object ended up, once the operator has observed its generation: Ready, Stalled
    with a message, or Reconciling (a rollout waiting at a pause) with a message."""
    status = body.get("status") or {}
    if status.get("observedGeneration") != body["metadata"]["generation"]:
        return None
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    for state in ("Ready", "Stalled", "Reconciling"):
        condition = conditions.get(state, {})
        if condition.get("status") == "True" and (state == "Ready" or condition.get("message")):
            return state
    return None


def test_whatever_the_api_server_accepts_the_operator_reconciles(
    k8s_api: client.ApiClient, namespace: str, operator: OperatorFactory
) -> None:
    objects = Objects(k8s_api, namespace)
    objects.create_example("modeldeployment-canary.yaml")  # fraud, with its profile ConfigMap
    objects.create(load("driftmonitor.yaml"))  # fraud-drift
    handle = operator(namespaces=[objects.namespace])
    accepted: list[tuple[str, str]] = []
    tried: Counter[str] = Counter()
    refusals: Counter[int] = Counter()

    def create(kind: str, spec: dict[str, Any], point_at_ours: bool) -> None:
        if point_at_ours:
            spec = ours(kind, spec)
        if kind == "ModelDeployment":
            spec = capped(spec)
        name = f"fuzz-{NAMES[kind]}-{tried[kind]}"
        tried[kind] += 1
        body = {"apiVersion": "modelship.io/v1alpha1", "kind": kind,
                "metadata": {"name": name}, "spec": spec}  # fmt: skip
        try:
            objects.create(body)
        except ApiException as err:
            refusals[err.status] += 1  # by the schema or a CEL rule: 422, never a 500
            tried[f"{kind} refused"] += 1
            return
        accepted.append((kind, name))

    for kind in NAMES:
        FUZZ(given(st.just(kind), specs(kind), st.booleans())(create))()
    outcomes: Counter[str] = Counter()
    for kind, name in accepted:
        found = wait_for(lambda k=kind, n=name: settled(objects.get(k, n)), timeout=120,
                         describe=f"{kind} {name} to report Ready or Stalled")  # fmt: skip
        outcomes[f"{kind} {found}"] += 1
    print(f"\nCRD fuzz against the API server: tried {dict(tried)}, accepted {len(accepted)}, "
          f"outcomes {dict(sorted(outcomes.items()))}")  # fmt: skip
    assert set(refusals) <= {422}, refusals
    assert [tried[k] for k in NAMES] == [CASES_PER_KIND] * 3
    assert accepted, "the API server accepted no generated spec"
    log = handle.log_path.read_text(errors="replace")
    assert "Traceback" not in log, handle.log_tail()
    assert "reconcile failed" not in log, handle.log_tail()
