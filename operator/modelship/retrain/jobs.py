"""A run's Jobs (training, and evaluation with validation.job): their names, the version a
run produces, their manifests with the contracts' environment, and what the operator reads
back from them. Pure."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelship.api.resources import API_VERSION
from modelship.api.retrainpolicy import RetrainPolicySpec, RetrainRun

LABEL_POLICY = "modelship.io/retrain-policy"
LABEL_RUN = "modelship.io/run"
LABEL_TRIGGER = "modelship.io/trigger"
LABEL_MODEL = "modelship.io/model"
LABEL_STAGE = "modelship.io/stage"
STAGE_TRAINING = "training"
STAGE_EVALUATION = "evaluation"
TERMINATION_LOG = "/dev/termination-log"
_RUN_SUFFIX = re.compile(r"-r\d+$")


@dataclass(frozen=True)
class ServingModel:
    """What the ModelDeployment serves now: the base a run starts from."""

    name: str
    version: str
    uri: str
    profile_uri: str = ""


@dataclass(frozen=True)
class JobObserved:
    """A run's Job (and its last finished pod) as the API server reports them."""

    name: str
    succeeded: bool = False
    failed: bool = False
    reason: str = ""
    """The Job's Failed condition reason (BackoffLimitExceeded, DeadlineExceeded, ...)."""
    message: str = ""
    termination_message: str | None = None
    """The last terminated pod's termination message."""
    exit_code: int | None = None
    started_at: datetime | None = None
    pods: int = 0
    """Pods the Job has, in any phase (none while admission refuses them)."""
    created_at: datetime | None = None
    """The Job's creationTimestamp."""


def label_value(name: str) -> str:
    """A name as a label value (at most 63 characters): a long one is cut and keeps a hash
    of the whole, so two long names sharing a prefix stay apart."""
    if len(name) <= 63:
        return name
    return name[:54].rstrip("-.") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def run_name(policy: str, number: int) -> str:
    """The run's (and its Job's) name: unique per policy, never reused."""
    suffix = f"-{number}"
    return label_value(policy)[: 63 - len(suffix)].rstrip("-.") + suffix


def new_version(base: str, number: int) -> str:
    """The version a run produces: the base without an earlier run's suffix, plus -r<number>
    (7 -> 7-r3; 7-r3 -> 7-r5), a valid label value."""
    root = _RUN_SUFFIX.sub("", base) or "model"
    suffix = f"-r{number}"
    return root[: 63 - len(suffix)].rstrip("-._") + suffix


def output_uri(spec: RetrainPolicySpec, version: str) -> str:
    uri = spec.output.uri.replace("{version}", version)
    return uri if uri.endswith("/") else uri + "/"


def evaluation_job_name(run: str) -> str:
    """The name of a run's evaluation Job (validation.job): never a training Job's."""
    return label_value(f"{run}-eval")


def evaluation_output_uri(spec: RetrainPolicySpec, version: str) -> str:
    """Where the evaluation Job writes its result.json: beside the candidate, its own folder."""
    return output_uri(spec, version) + "evaluation/"


def _job(
    policy: Mapping[str, Any],
    template: Mapping[str, Any],
    name: str,
    labels: Mapping[str, str],
    environment: Mapping[str, str],
) -> dict[str, Any]:
    """A Job from the user's template, owned by the policy, labelled, with `environment`
    added to every container (the user's own values win)."""
    meta = policy["metadata"]
    template = copy.deepcopy(dict(template))
    job_meta = dict(template.get("metadata") or {})
    job_meta.update(
        name=name,
        namespace=meta["namespace"],
        labels={**(job_meta.get("labels") or {}), **labels},
        ownerReferences=[
            {
                "apiVersion": API_VERSION,
                "kind": "RetrainPolicy",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    )
    job_spec = dict(template.get("spec") or {})
    pod = dict(job_spec.get("template") or {})
    pod_meta = dict(pod.get("metadata") or {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
    pod_spec = dict(pod.get("spec") or {})
    pod_spec.setdefault("restartPolicy", "Never")
    containers = []
    for container in pod_spec.get("containers") or []:
        container = dict(container)
        path = container.get("terminationMessagePath") or TERMINATION_LOG
        own = {e.get("name") for e in container.get("env") or []}
        added = [
            {"name": k, "value": v}
            for k, v in {**environment, "MODELSHIP_TERMINATION_LOG": path}.items()
            if k not in own
        ]
        container["env"] = [*(container.get("env") or []), *added]
        container.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
        containers.append(container)
    pod_spec["containers"] = containers
    pod.update(metadata=pod_meta, spec=pod_spec)
    job_spec["template"] = pod
    job_spec.setdefault("backoffLimit", 0)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta, "spec": job_spec}


def _labels(policy: Mapping[str, Any], run: str, trigger: str, model: str,
            stage: str) -> dict[str, str]:  # fmt: skip
    return {
        LABEL_POLICY: label_value(policy["metadata"]["name"]),
        LABEL_RUN: run,
        LABEL_TRIGGER: trigger,
        LABEL_MODEL: label_value(model),
        LABEL_STAGE: stage,
    }


def job_manifest(
    policy: Mapping[str, Any],
    spec: RetrainPolicySpec,
    run: str,
    trigger: str,
    reason: str,
    base: ServingModel,
    version: str,
) -> dict[str, Any]:
    """The run's training Job, with the trainer contract's environment."""
    meta = policy["metadata"]
    environment = {
        "MODELSHIP_MODEL_NAME": base.name,
        "MODELSHIP_BASE_VERSION": base.version,
        "MODELSHIP_BASE_URI": base.uri,
        "MODELSHIP_BASE_PROFILE_URI": base.profile_uri,
        "MODELSHIP_NEW_VERSION": version,
        "MODELSHIP_OUTPUT_URI": output_uri(spec, version),
        "MODELSHIP_TRIGGER": trigger,
        "MODELSHIP_TRIGGER_REASON": reason[:1024],
        "MODELSHIP_RUN_ID": run,
        "MODELSHIP_POLICY": f"{meta['namespace']}/{meta['name']}",
    }
    labels = _labels(policy, run, trigger, base.name, STAGE_TRAINING)
    return _job(policy, spec.job.template, run, labels, environment)


def evaluation_manifest(
    policy: Mapping[str, Any],
    spec: RetrainPolicySpec,
    run: RetrainRun,
    base: ServingModel | None,
) -> dict[str, Any]:
    """The run's evaluation Job (validation.job): the run's candidate against what serves
    now, with the evaluation contract's environment; without a serving model its base is
    empty (the Job then reports no baseline)."""
    assert spec.validation is not None and spec.validation.job is not None
    assert run.evaluation is not None
    meta = policy["metadata"]
    model = base.name if base else ""
    environment = {
        "MODELSHIP_MODEL_NAME": model,
        "MODELSHIP_CANDIDATE_VERSION": run.new_version,
        "MODELSHIP_CANDIDATE_URI": run.artifact_uri or "",
        "MODELSHIP_BASE_VERSION": base.version if base else "",
        "MODELSHIP_BASE_URI": base.uri if base else "",
        "MODELSHIP_HELD_OUT_URI": run.evaluation.held_out_uri,
        "MODELSHIP_OUTPUT_URI": evaluation_output_uri(spec, run.new_version),
        "MODELSHIP_RUN_ID": run.name,
        "MODELSHIP_POLICY": f"{meta['namespace']}/{meta['name']}",
    }
    labels = _labels(policy, run.name, str(run.trigger), model, STAGE_EVALUATION)
    return _job(policy, spec.validation.job.template, run.evaluation.job_name, labels,
                environment)  # fmt: skip
