"""Run Job pods' containers as local processes, and report back as the kubelet would.

KWOK pods run no containers. For a pod of a batch/v1 Job labelled
`modelship.io/run-locally: "true"` in a namespace it watches, `JobRunner` runs the pod's one
container (its `command` + `args`, with its `env`) as a local subprocess once KWOK's pod-ready
stage has made the pod Running, then patches the pod's status the way a kubelet does when a
container ends: phase Succeeded or Failed, `containerStatuses[0].state.terminated` with the
real exit code and termination message, Ready False. The cluster's real Job controller counts
the pod and sets the Job's Complete or Failed condition. The harness's KWOK stages leave these
pods alone (see `modelship_testing.cluster.harness_stages_text`); every other pod is
completed by KWOK as before.

Mapping onto this machine (docs/local-cluster.md, "Jobs that really run"):

- no image: the command must exist here; `python`/`python3` are the harness's interpreter;
- the container's terminationMessagePath is a file in the pod's folder whose path is in the
  environment as MODELSHIP_TERMINATION_LOG (what modelship's trainer contract writes to);
- stdout and stderr go to one log file (`JobRunner.log`), since KWOK has no logs API.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from base64 import b64decode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from modelship_testing.cluster import RUN_LOCALLY_LABEL

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
TERMINATION_LOG_ENV = "MODELSHIP_TERMINATION_LOG"
PYTHON_NAMES = frozenset({"python", "python3"})
# The kubelet's limits: a termination message file is read up to 4 KiB; the log fallback
# (terminationMessagePolicy FallbackToLogsOnError) is its last 80 lines, at most 2 KiB.
MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
# A process running this long without a pod activeDeadlineSeconds is stopped anyway.
DEFAULT_TIMEOUT = 600.0
START_ERROR_EXIT = 128
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class ContainerConfigError(Exception):
    """The container's environment cannot be built (a missing Secret or ConfigMap key)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables are replaced, `$$` is a literal `$`,
    references to undefined variables stay as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def belongs_to_job(pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    return any(o.get("kind") == "Job" for o in owners) or JOB_NAME_LABEL in (
        meta.get("labels") or {}
    )


@dataclass
class Run:
    """One pod's container, run here."""

    namespace: str
    pod: str
    uid: str
    folder: Path
    argv: list[str]
    pid: int | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    started_at: str = ""
    finished_at: str = ""
    reported: bool = False
    """True once the pod's terminated status was written (or the pod was gone)."""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    deleted: bool = False

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    @property
    def log_path(self) -> Path:
        return self.folder / "log"

    @property
    def termination_log(self) -> Path:
        return self.folder / "termination-log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class JobRunner:
    """Watch namespaces for opted-in Job pods and run their container here.

    Use as a context manager, or `start()` and `close()`. `close()` stops every process it
    started (SIGTERM to the process group it created, SIGKILL after a grace period) and
    reports those pods Failed with the resulting exit code.
    """

    def __init__(
        self,
        api: client.ApiClient,
        namespaces: Iterable[str],
        root: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        kill_grace: float = 5.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.namespaces = list(namespaces)
        self.root = root
        self.timeout = timeout
        self.kill_grace = kill_grace
        self.extra_env = dict(extra_env or {})
        self.runs: dict[str, Run] = {}
        """By pod uid."""
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._launch_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._waiters: list[threading.Thread] = []
        self._config_errors: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> JobRunner:
        self.root.mkdir(parents=True, exist_ok=True)
        for namespace in self.namespaces:
            thread = threading.Thread(
                target=self._watch, args=(namespace,), name=f"job-runner-{namespace}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        with self._launch_lock:  # no process starts after this
            self._stop.set()
        with self._lock:
            running = [r for r in self.runs.values() if r.proc and r.proc.poll() is None]
        for run in running:
            self._terminate(run, self.kill_grace)
        # The waiters report the killed processes; the watch threads (daemons) notice the
        # stop within their watch timeout and can no longer start anything.
        for thread in self._waiters:
            thread.join(timeout=15)

    def __enter__(self) -> JobRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what tests read ---------------------------------------------------------------

    def run_for(self, pod: str, namespace: str | None = None) -> Run | None:
        with self._lock:
            for run in self.runs.values():
                if run.pod == pod and (namespace is None or run.namespace == namespace):
                    return run
        return None

    def runs_for_job(self, job: str) -> list[Run]:
        with self._lock:
            return [r for r in self.runs.values() if r.pod.startswith(f"{job}-")]

    def log(self, pod: str, namespace: str | None = None) -> str:
        """The pod's stdout and stderr: the local log file when this runner ran it,
        otherwise the cluster's logs API (a cluster with real nodes)."""
        run = self.run_for(pod, namespace)
        if run is not None:
            return run.log()
        ns = namespace or self.namespaces[0]
        return str(self.core.read_namespaced_pod_log(pod, ns))

    def summary(self) -> str:
        """Every run with its outcome and log tail, and any error the runner met."""
        with self._lock:
            runs = list(self.runs.values())
            errors = list(self.errors)
            waiting = dict(self._config_errors)
        lines = []
        for run in runs:
            state = "running" if run.exit_code is None else f"exit {run.exit_code} ({run.reason})"
            lines.append(f"{run.namespace}/{run.pod} pid={run.pid} {state}: {run.argv}")
            lines.extend(f"    {line}" for line in run.log().splitlines()[-10:])
        lines.extend(f"waiting {pod}: {why}" for pod, why in waiting.items())
        lines.extend(f"error: {e}" for e in errors[-10:])
        return "\n".join(lines) or "(no runs)"

    # --- watching ----------------------------------------------------------------------

    def _watch(self, namespace: str) -> None:
        selector = f"{RUN_LOCALLY_LABEL}=true"
        while not self._stop.is_set():
            try:
                listed = self.api.sanitize_for_serialization(
                    self.core.list_namespaced_pod(namespace, label_selector=selector)
                )
                for pod in listed.get("items") or []:
                    self._observe(pod, relist=True)
                stream = watch.Watch().stream(
                    self.core.list_namespaced_pod,
                    namespace,
                    label_selector=selector,
                    resource_version=listed["metadata"]["resourceVersion"],
                    timeout_seconds=5,
                    _request_timeout=15,
                )
                for event in stream:
                    if self._stop.is_set():
                        break
                    pod = self.api.sanitize_for_serialization(event["object"])
                    if event["type"] == "DELETED":
                        self._gone(pod)
                    elif event["type"] in ("ADDED", "MODIFIED"):
                        self._observe(pod, relist=False)
            except Exception as err:  # noqa: BLE001 - a watch breaks; list and watch again
                if isinstance(err, ApiException) and err.status == 404:
                    return  # the namespace is gone
                self._error(f"watching {namespace}: {err!r}")
                self._stop.wait(1)

    def _observe(self, pod: Mapping[str, Any], relist: bool) -> None:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid"))
        status = pod.get("status") or {}
        with self._lock:
            run = self.runs.get(uid)
        if run is not None:
            if meta.get("deletionTimestamp") and run.exit_code is None and not run.deleted:
                run.deleted = True  # the Job controller deletes it, e.g. past a Job deadline
                grace = float(pod["spec"].get("terminationGracePeriodSeconds") or 30)
                threading.Thread(target=self._terminate, args=(run, grace), daemon=True).start()
            return
        if self._stop.is_set() or meta.get("deletionTimestamp") or not belongs_to_job(pod):
            return
        if status.get("phase") != "Running":
            return  # KWOK's pod-ready stage makes it Running once it is scheduled
        if any(
            (c.get("state") or {}).get("terminated") for c in status.get("containerStatuses") or []
        ):
            return
        if uid in self._config_errors and not relist:
            return  # retried on the next relist, as the kubelet retries
        try:
            self._launch(pod)
        except Exception as err:  # noqa: BLE001 - report it and keep watching
            self._error(f"starting {meta.get('namespace')}/{meta.get('name')}: {err!r}")

    def _gone(self, pod: Mapping[str, Any]) -> None:
        with self._lock:
            run = self.runs.get(str((pod.get("metadata") or {}).get("uid")))
        if run is not None and run.exit_code is None:
            run.deleted = True
            threading.Thread(target=self._terminate, args=(run, 0.0), daemon=True).start()

    # --- running -----------------------------------------------------------------------

    def _launch(self, pod: Mapping[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        containers = spec.get("containers") or []
        folder = self.root / namespace / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "work").mkdir(exist_ok=True)
        (folder / "termination-log").touch()
        argv: list[str] = []
        run = Run(namespace=namespace, pod=name, uid=uid, folder=folder, argv=argv)
        if len(containers) != 1 or spec.get("initContainers"):
            self._start_error(
                run,
                pod,
                "modelship JobRunner runs pods with exactly one container and no init "
                f"containers; this one has {len(containers)} and "
                f"{len(spec.get('initContainers') or [])}",
            )
            return
        container = containers[0]
        try:
            env = self._environment(pod, container, run)
        except ContainerConfigError as err:
            self._config_errors[uid] = str(err)
            self._patch_waiting(pod, container, "CreateContainerConfigError", str(err))
            return
        self._config_errors.pop(uid, None)
        argv.extend(
            expand(a, env) for a in [*container.get("command", []), *container.get("args", [])]
        )
        if not container.get("command"):
            self._start_error(
                run,
                pod,
                "modelship JobRunner: the container has no command, and no image to take an "
                "entrypoint from",
            )
            return
        if argv[0] in PYTHON_NAMES:
            argv[0] = sys.executable
        deadline = spec.get("activeDeadlineSeconds")
        limit = float(deadline) if deadline else self.timeout
        with self._launch_lock, run.log_path.open("ab") as log:
            if self._stop.is_set():
                return
            run.started_at = _now()
            try:
                run.proc = subprocess.Popen(
                    argv,
                    cwd=run.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as err:
                self._start_error(run, pod, f"failed to start {argv[0]!r}: {err}")
                return
            run.pid = run.proc.pid
            with self._lock:
                self.runs[uid] = run
            waiter = threading.Thread(
                target=self._wait,
                args=(run, pod, limit, bool(deadline)),
                name=f"job-runner-{name}",
                daemon=True,
            )
            waiter.start()
            self._waiters.append(waiter)

    def _environment(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], run: Run
    ) -> dict[str, str]:
        """What the process sees: a minimal base (PATH, HOME, locale, HOSTNAME), the
        container's envFrom and env in the kubelet's order, and MODELSHIP_TERMINATION_LOG
        pointing at the pod's local termination log."""
        meta = pod["metadata"]
        env: dict[str, str] = {
            key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "TZ") if key in os.environ
        }
        env.update(HOME=str(run.workdir), TMPDIR=str(run.workdir), HOSTNAME=meta["name"])
        env.update(self.extra_env)
        namespace = meta["namespace"]
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix") or ""
            if "secretRef" in source:
                ref = source["secretRef"]
                data = self._secret(namespace, ref["name"], bool(ref.get("optional")))
            else:
                ref = source["configMapRef"]
                data = self._config_map(namespace, ref["name"], bool(ref.get("optional")))
            env.update({prefix + k: v for k, v in data.items()})
        for item in container.get("env") or []:
            if "value" in item or "valueFrom" not in item:
                env[item["name"]] = expand(str(item.get("value") or ""), env)
                continue
            value = self._value_from(pod, item["valueFrom"], item["name"])
            if value is not None:
                env[item["name"]] = value
        env[TERMINATION_LOG_ENV] = str(run.termination_log)
        return env

    def _value_from(
        self, pod: Mapping[str, Any], source: Mapping[str, Any], name: str
    ) -> str | None:
        namespace = pod["metadata"]["namespace"]
        if "secretKeyRef" in source or "configMapKeyRef" in source:
            secret = "secretKeyRef" in source
            ref = source["secretKeyRef" if secret else "configMapKeyRef"]
            optional = bool(ref.get("optional"))
            data = (
                self._secret(namespace, ref["name"], optional)
                if secret
                else self._config_map(namespace, ref["name"], optional)
            )
            if ref["key"] in data:
                return data[ref["key"]]
            if optional:
                return None
            kind = "secret" if secret else "configmap"
            raise ContainerConfigError(
                f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}"
            )
        if "fieldRef" in source:
            return field_value(pod, source["fieldRef"]["fieldPath"])
        raise ContainerConfigError(
            f"modelship JobRunner does not resolve env {name} from {sorted(source)}"
        )

    def _secret(self, namespace: str, name: str, optional: bool) -> dict[str, str]:
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as err:
            if err.status == 404:
                if optional:
                    return {}
                raise ContainerConfigError(f'secret "{name}" not found') from err
            raise
        return {k: b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def _config_map(self, namespace: str, name: str, optional: bool) -> dict[str, str]:
        try:
            config_map = self.core.read_namespaced_config_map(name, namespace)
        except ApiException as err:
            if err.status == 404:
                if optional:
                    return {}
                raise ContainerConfigError(f'configmap "{name}" not found') from err
            raise
        return dict(config_map.data or {})

    def _wait(self, run: Run, pod: Mapping[str, Any], limit: float, pod_deadline: bool) -> None:
        assert run.proc is not None
        timed_out = False
        try:
            run.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            grace = float(pod["spec"].get("terminationGracePeriodSeconds") or 30)
            self._terminate(run, min(grace, 30))
            run.proc.wait()
        code = run.proc.returncode
        run.exit_code = 128 - code if code < 0 else code  # killed by signal N: 128 + N
        run.finished_at = _now()
        run.reason = "Completed" if run.exit_code == 0 else "Error"
        run.message = self._termination_message(run, pod)
        pod_reason = pod_message = ""
        if timed_out:
            pod_reason = "DeadlineExceeded"
            pod_message = (
                "Pod was active on the node longer than the specified deadline"
                if pod_deadline
                else f"modelship JobRunner stopped it after {limit:.0f}s"
            )
        if not run.deleted:
            self._patch_terminated(pod, run, pod_reason, pod_message)
        run.reported = True

    def _terminate(self, run: Run, grace: float) -> None:
        """SIGTERM the process group this runner created for `run`, SIGKILL after `grace`."""
        proc = run.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _termination_message(self, run: Run, pod: Mapping[str, Any]) -> str:
        container = pod["spec"]["containers"][0]
        message = ""
        if run.termination_log.exists():
            with run.termination_log.open("rb") as handle:
                message = handle.read(MAX_MESSAGE_BYTES).decode(errors="replace")
        policy = container.get("terminationMessagePolicy") or "File"
        if not message and run.exit_code and policy == "FallbackToLogsOnError":
            tail = "\n".join(run.log().splitlines()[-FALLBACK_LOG_LINES:])
            message = tail.encode()[-FALLBACK_LOG_BYTES:].decode(errors="replace")
        return message

    # --- reporting ---------------------------------------------------------------------

    def _start_error(self, run: Run, pod: Mapping[str, Any], message: str) -> None:
        """The container could not start: exit code 128, reason StartError, pod Failed (as
        a runtime reports an executable that does not exist)."""
        run.started_at = run.finished_at = _now()
        run.exit_code, run.reason, run.message = START_ERROR_EXIT, "StartError", message
        with self._lock:
            self.runs[run.uid] = run
        run.log_path.write_text(message + "\n")
        self._patch_terminated(pod, run, "", "")
        run.reported = True

    def _patch_terminated(
        self, pod: Mapping[str, Any], run: Run, pod_reason: str, pod_message: str
    ) -> None:
        container = pod["spec"]["containers"][0]
        succeeded = run.exit_code == 0 and not pod_reason
        now = run.finished_at
        ready_reason = "PodCompleted" if succeeded else "ContainersNotReady"
        not_ready = {
            "status": "False",
            "reason": ready_reason,
            "lastTransitionTime": now,
        }
        if not succeeded:
            not_ready["message"] = f"containers with unready status: [{container['name']}]"
        terminated: dict[str, Any] = {
            "exitCode": run.exit_code,
            "reason": run.reason,
            "startedAt": run.started_at,
            "finishedAt": now,
            "containerID": f"modelship-local://{run.pid or 0}",
        }
        if run.message:
            terminated["message"] = run.message
        status: dict[str, Any] = {
            "phase": "Succeeded" if succeeded else "Failed",
            "conditions": [
                {"type": "Ready", **not_ready},
                {"type": "ContainersReady", **not_ready},
            ],
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container.get("image") or "",
                    "imageID": "",
                    "containerID": terminated["containerID"],
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                    "lastState": {},
                }
            ],
        }
        if pod_reason:
            status.update(reason=pod_reason, message=pod_message)
        self._patch_status(pod, status)

    def _patch_waiting(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], reason: str, message: str
    ) -> None:
        condition = {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{container['name']}]",
            "lastTransitionTime": _now(),
        }
        status = {
            "conditions": [
                {"type": "Ready", **condition},
                {"type": "ContainersReady", **condition},
            ],
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container.get("image") or "",
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": message}},
                }
            ],
        }
        self._patch_status(pod, status)

    def _patch_status(self, pod: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        meta = pod["metadata"]
        for attempt in range(5):
            try:
                self.core.patch_namespaced_pod_status(
                    meta["name"], meta["namespace"], {"status": status}
                )
                return
            except ApiException as err:
                if err.status == 404:
                    return  # the pod is gone: nothing left to report to
                if attempt == 4:
                    self._error(f"patching {meta['namespace']}/{meta['name']}: {err!r}")
                    return
            except Exception as err:  # noqa: BLE001 - retried, then reported
                if attempt == 4:
                    self._error(f"patching {meta['namespace']}/{meta['name']}: {err!r}")
                    return
            time.sleep(0.2 * (attempt + 1))

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)
        log = self.root / "runner.log"
        with contextlib.suppress(OSError), log.open("a") as handle:
            handle.write(f"{_now()} {text}\n{traceback.format_exc(limit=3)}\n")


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The downward API's fieldRef paths the kubelet resolves for env vars."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)(?:\['([^']+)'\])?", path)
    if match:
        values = meta.get(match.group(1)) or {}
        if match.group(2) is not None:
            return str(values.get(match.group(2), ""))
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise ContainerConfigError(f"modelship JobRunner does not resolve fieldRef {path}")
