"""ModelDeployments, DriftMonitors and RetrainPolicies as the API server returns them (plain
dicts), built for the kubectl plugin's table tests."""

from __future__ import annotations

from typing import Any

from modelship.rollout.objects import ANNOTATION_VERSION, LABEL_REVISION

Obj = dict[str, Any]
STEPS: list[Obj] = [
    {"setWeight": 25},
    {"pause": {}},
    {"analysis": {"metrics": ["error-rate"]}},
    {"setWeight": 50},
    {"pause": {"duration": "1m"}},
]


def model_deployment(
    name: str = "fraud",
    annotations: dict[str, str] | None = None,
    generation: int = 2,
    steps: list[Obj] | None = None,
    **status: Any,
) -> Obj:
    """A canary ModelDeployment; `status` fields as camelCase keywords."""
    return {
        "apiVersion": "modelship.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {
            "name": name,
            "namespace": "ml",
            "generation": generation,
            "annotations": annotations or {},
            "creationTimestamp": "2026-01-01T10:00:00Z",
        },
        "spec": {
            "model": {"name": "fraud-detector", "version": "8", "uri": "s3://models/fraud/8/"},
            "strategy": {"canary": {"steps": STEPS if steps is None else steps}},
        },
        "status": {"observedGeneration": generation, **status},
    }


def paused_canary(**status: Any) -> Obj:
    """Step 2 (an indefinite pause) of a canary of version 8 over a stable version 7."""
    fields: Obj = {
        "phase": "Paused",
        "message": "step 2/5: paused until promoted",
        "stableRevision": "aaaa111111",
        "canaryRevision": "bbbb222222",
        "currentStep": 1,
        "canaryWeight": 25,
        "currentStepStartedAt": "2026-01-01T12:00:00Z",
        "rollout": {"stableVersion": "7", "step": "2/5", "stage": "Canary"},
        **status,
    }
    return model_deployment(**fields)


def history_entry(revision: str, version: str, outcome: str, started: str) -> Obj:
    return {
        "revision": revision,
        "modelVersion": version,
        "outcome": outcome,
        "startedAt": started,
        "finishedAt": started.replace(":00Z", ":40Z"),
        "reason": f"{outcome.lower()} for the test",
    }


def deployment(revision: str, version: str, replicas: int, ready: int) -> Obj:
    return {
        "metadata": {
            "name": f"fraud-{revision}",
            "labels": {LABEL_REVISION: revision},
            "annotations": {ANNOTATION_VERSION: version},
            "creationTimestamp": "2026-01-01T11:00:00Z",
        },
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready},
    }


def pod(revision: str, suffix: str, ready: bool, restarts: int = 0) -> Obj:
    return {
        "metadata": {
            "name": f"fraud-{revision}-{suffix}",
            "labels": {LABEL_REVISION: revision},
            "creationTimestamp": "2026-01-01T11:59:00Z",
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


def drift_monitor(name: str = "fraud-drift", model: str = "fraud", **status: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"modelDeploymentRef": model},
        "status": status,
    }


def retrain_policy(
    name: str = "fraud-retrain", model: str = "fraud", promotion: str = "manual", **status: Any
) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ml", "annotations": {}},
        "spec": {"modelDeploymentRef": model, "promotion": promotion},
        "status": status,
    }


def run(name: str, outcome: str, **fields: Any) -> Obj:
    return {
        "name": name,
        "trigger": "manual",
        "outcome": outcome,
        "baseVersion": "7",
        "newVersion": "7-r1",
        "startedAt": "2026-01-01T11:50:00Z",
        **fields,
    }
