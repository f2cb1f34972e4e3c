"""The JobRunner: opted-in Job pods' containers run here, the real Job controller counts them.

Each test creates a batch/v1 Job in its own namespace and waits on the Job's own conditions,
which the cluster's kube-controller-manager sets from the pod status the runner reports.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
import yaml
from kubernetes import client
from modelship_testing.cluster import RUN_LOCALLY_LABEL, harness_stages_text, kwok_stages
from modelship_testing.fixtures import EXTERNAL
from modelship_testing.jobs import JobRunner
from modelship_testing.waiters import wait_for

pytestmark = pytest.mark.cluster

IMAGE = "python:3.12-slim"  # what a cluster with real nodes pulls; locally it is only a name


def _job(
    name: str,
    code: str,
    *,
    run_locally: bool = True,
    backoff_limit: int = 0,
    env: list[dict[str, Any]] | None = None,
    policy: str = "File",
    pod_deadline: int | None = None,
) -> dict[str, Any]:
    labels = {RUN_LOCALLY_LABEL: "true"} if run_locally else {}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [
            {
                "name": "trainer",
                "image": IMAGE,
                "command": ["python", "-c", textwrap.dedent(code)],
                "env": env or [],
                "terminationMessagePolicy": policy,
            }
        ],
    }
    if pod_deadline is not None:
        pod_spec["activeDeadlineSeconds"] = pod_deadline
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _create(api: client.ApiClient, namespace: str, job: dict[str, Any]) -> None:
    client.BatchV1Api(api).create_namespaced_job(namespace, job)


def _condition(api: client.ApiClient, namespace: str, name: str, kind: str) -> str | None:
    """The reason of the Job's `kind` condition once it is True."""
    job = client.BatchV1Api(api).read_namespaced_job_status(name, namespace)
    for cond in job.status.conditions or []:
        if cond.type == kind and cond.status == "True":
            return str(cond.reason or kind)
    return None


def _pods(api: client.ApiClient, namespace: str, job: str) -> list[client.V1Pod]:
    return list(
        client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={job}")
        .items
    )


def _terminated(pod: client.V1Pod) -> client.V1ContainerStateTerminated:
    return pod.status.container_statuses[0].state.terminated


WRITE_RESULT = """
    import json, os
    result = {"metrics": {"accuracy": 0.93}, "artifact": "file:///tmp/model-7"}
    path = os.environ.get("MODELSHIP_TERMINATION_LOG", "/dev/termination-log")
    with open(path, "w") as f:
        json.dump(result, f)
    print("trained")
"""


def test_job_writing_its_result_to_the_termination_log_completes_with_that_message(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    _create(k8s_api, namespace, _job("train", WRITE_RESULT))

    wait_for(
        lambda: _condition(k8s_api, namespace, "train", "Complete"),
        timeout=60,
        describe="Job train to be Complete",
    )
    (pod,) = _pods(k8s_api, namespace, "train")
    assert pod.status.phase == "Succeeded"
    terminated = _terminated(pod)
    assert terminated.exit_code == 0
    assert terminated.reason == "Completed"
    assert json.loads(terminated.message) == {
        "metrics": {"accuracy": 0.93},
        "artifact": "file:///tmp/model-7",
    }
    assert terminated.started_at <= terminated.finished_at
    ready = {c.type: c.status for c in pod.status.conditions}
    assert ready["Ready"] == "False"
    assert "trained" in job_runner.log(pod.metadata.name, namespace)
    status = client.BatchV1Api(k8s_api).read_namespaced_job_status("train", namespace).status
    assert status.succeeded == 1


def test_job_exiting_3_fails_with_exit_code_3_and_its_stderr_as_message(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    code = """
        import sys
        print("loading data", flush=True)
        print("training failed: no rows in the window", file=sys.stderr)
        sys.exit(3)
    """
    _create(k8s_api, namespace, _job("broken", code, policy="FallbackToLogsOnError"))

    reason = wait_for(
        lambda: _condition(k8s_api, namespace, "broken", "Failed"),
        timeout=60,
        describe="Job broken to be Failed",
    )
    assert reason == "BackoffLimitExceeded"
    (pod,) = _pods(k8s_api, namespace, "broken")
    assert pod.status.phase == "Failed"
    terminated = _terminated(pod)
    assert terminated.exit_code == 3
    assert terminated.reason == "Error"
    assert terminated.message.splitlines()[-1] == "training failed: no rows in the window"
    assert (
        client.BatchV1Api(k8s_api).read_namespaced_job_status("broken", namespace).status.failed
        == 1
    )


def test_env_from_secrets_config_maps_and_the_downward_api_reaches_the_process(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="creds"), string_data={"token": "s3cr3t"}
        ),
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"rows": "1000"}),
    )
    env = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "ROWS", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "rows"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "GREETING", "value": "rows=$(ROWS)"},
    ]
    code = """
        import json, os
        keys = ("TOKEN", "ROWS", "POD", "NS", "GREETING")
        with open(os.environ["MODELSHIP_TERMINATION_LOG"], "w") as f:
            json.dump({k: os.environ.get(k) for k in keys}, f)
    """
    _create(k8s_api, namespace, _job("env", code, env=env))

    wait_for(
        lambda: _condition(k8s_api, namespace, "env", "Complete"),
        timeout=60,
        describe="Job env to be Complete",
    )
    (pod,) = _pods(k8s_api, namespace, "env")
    assert json.loads(_terminated(pod).message) == {
        "TOKEN": "s3cr3t",
        "ROWS": "1000",
        "POD": pod.metadata.name,
        "NS": namespace,
        "GREETING": "rows=1000",
    }


@pytest.mark.skipif(EXTERNAL, reason="the local cluster's KWOK stages and files only")
def test_opted_in_pod_is_running_and_ready_until_its_process_ends(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    code = """
        import os, pathlib, time
        pathlib.Path("started").touch()
        while not pathlib.Path("finish").exists():
            time.sleep(0.05)
    """
    _create(k8s_api, namespace, _job("waits", code))

    def started() -> Any:
        runs = job_runner.runs_for_job("waits")
        return runs and (runs[0].workdir / "started").exists() and runs[0]

    run = wait_for(started, timeout=60, describe="the process of Job waits to start")
    # KWOK's pod-ready stage made the pod Running and Ready; its pod-complete stage, which
    # completes every other Job pod at once, leaves this one alone while the process runs.
    pod = client.CoreV1Api(k8s_api).read_namespaced_pod_status(run.pod, namespace)
    assert pod.status.phase == "Running"
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    assert pod.status.container_statuses[0].state.running is not None
    assert _condition(k8s_api, namespace, "waits", "Complete") is None

    (run.workdir / "finish").touch()
    wait_for(
        lambda: _condition(k8s_api, namespace, "waits", "Complete"),
        timeout=60,
        describe="Job waits to be Complete once its process exits",
    )
    assert run.exit_code == 0


@pytest.mark.skipif(EXTERNAL, reason="the runner is idle on a cluster with real nodes")
def test_close_kills_running_processes_and_reports_their_pods_failed(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    code = """
        import pathlib, time
        pathlib.Path("started").touch()
        time.sleep(300)
    """
    _create(k8s_api, namespace, _job("forever", code))

    def started() -> Any:
        runs = job_runner.runs_for_job("forever")
        return runs and (runs[0].workdir / "started").exists() and runs[0]

    run = wait_for(started, timeout=60, describe="the process of Job forever to start")
    job_runner.close()

    assert run.proc is not None
    assert run.proc.poll() is not None
    assert run.exit_code == 143
    wait_for(
        lambda: _condition(k8s_api, namespace, "forever", "Failed"),
        timeout=60,
        describe="Job forever to be Failed once the runner killed its process",
    )


@pytest.mark.skipif(EXTERNAL, reason="on real nodes every pod runs")
def test_pod_without_the_opt_in_is_completed_by_kwok_without_running(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    # Were this run, it would exit 5 and the Job would fail.
    _create(k8s_api, namespace, _job("fake", "raise SystemExit(5)", run_locally=False))

    wait_for(
        lambda: _condition(k8s_api, namespace, "fake", "Complete"),
        timeout=60,
        describe="Job fake to be Complete (KWOK's pod-complete stage)",
    )
    (pod,) = _pods(k8s_api, namespace, "fake")
    assert _terminated(pod).exit_code == 0
    assert _terminated(pod).reason == "Completed"
    assert job_runner.runs == {}


def test_pod_deadline_kills_the_process_and_fails_the_job(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    _create(k8s_api, namespace, _job("slow", "import time; time.sleep(120)", pod_deadline=2))

    wait_for(
        lambda: _condition(k8s_api, namespace, "slow", "Failed"),
        timeout=60,
        describe="Job slow to be Failed after its pod's deadline",
    )
    (pod,) = _pods(k8s_api, namespace, "slow")
    assert pod.status.phase == "Failed"
    assert pod.status.reason == "DeadlineExceeded"
    assert _terminated(pod).exit_code == 143  # SIGTERM, as a container stopped by the kubelet


@pytest.mark.skipif(EXTERNAL, reason="real nodes report their own runtime's error")
def test_command_missing_on_this_machine_fails_with_start_error(
    k8s_api: client.ApiClient, namespace: str, job_runner: JobRunner
) -> None:
    job = _job("missing", "")
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["modelship-no-such-trainer"]
    _create(k8s_api, namespace, job)

    wait_for(
        lambda: _condition(k8s_api, namespace, "missing", "Failed"),
        timeout=60,
        describe="Job missing to be Failed",
    )
    (pod,) = _pods(k8s_api, namespace, "missing")
    terminated = _terminated(pod)
    assert (terminated.exit_code, terminated.reason) == (128, "StartError")
    assert "modelship-no-such-trainer" in terminated.message


def test_harness_stages_exclude_only_run_locally_pods_from_pod_complete() -> None:
    if EXTERNAL:
        pytest.skip("the local cluster's KWOK stages only")
    theirs = [doc for doc in yaml.safe_load_all(kwok_stages().read_text()) if doc]
    ours = list(yaml.safe_load_all(harness_stages_text()))
    assert [s["metadata"]["name"] for s in ours] == [s["metadata"]["name"] for s in theirs]
    for mine, kwoks in zip(ours, theirs, strict=True):
        if mine["metadata"]["name"] != "pod-complete":
            assert mine == kwoks
            continue
        added = mine["spec"]["selector"]["matchExpressions"][-1]
        assert added == {
            "key": f'.metadata.labels["{RUN_LOCALLY_LABEL}"]',
            "operator": "NotIn",
            "values": ["true"],
        }
        mine["spec"]["selector"]["matchExpressions"].pop()
        assert mine == kwoks
