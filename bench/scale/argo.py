"""Argo Rollouts on the same local cluster, for bench/scale/run.py --argo-rollouts.

Builds (or takes from the cache) the rollouts-controller with argo-rollouts/build.sh,
installs its CRDs, runs it namespaced on its own namespace, applies N canary Rollouts with
the same steps as the ModelDeployments (replica-ratio weights, no mesh) and measures what
run.py measures for modelship: time until every Rollout is Healthy, peak and idle resident
memory, CPU seconds, and the API requests it sent (its own client metric,
controller_clientset_k8s_request_total, by verb: reads and writes) while converging and
over the idle window.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client
from modelship_testing.cluster import wait_established  # run.py puts e2e/ on the path

HERE = Path(__file__).resolve().parent
NAMESPACE = "bench-argo"
GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "rollouts"
STEPS = [{"setWeight": 10}, {"pause": {"duration": "30s"}}, {"setWeight": 50}, {"pause": {}}]
CONTAINER = {"name": "server", "image": "ghcr.io/modelship/modelship-server:0.1.0"}
WRITES = ("POST", "PUT", "PATCH", "DELETE", "Create", "Update", "Patch", "Delete")


@dataclass
class Figures:
    count: int
    converged: int
    seconds: float
    peak_mib: float
    idle_mib: float
    cpu_converging: float
    cpu_idle: float
    requests_converging: float
    writes_converging: float
    requests_idle: float
    writes_idle: float
    idle_seconds: int
    load_converged: tuple[float, float, float]


def build() -> Path:
    """The cached directory with rollouts-controller and crds/ (built on first use)."""
    done = subprocess.run(["bash", str(HERE / "argo-rollouts" / "build.sh")], check=False,
                          stdout=subprocess.PIPE, text=True)  # fmt: skip
    if done.returncode != 0:
        sys.exit("Argo Rollouts could not be built (its errors are above)")
    return Path(done.stdout.strip().splitlines()[-1])


def manifest(index: int) -> dict[str, Any]:
    name = f"model-{index:04d}"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [CONTAINER]},
            },
            "strategy": {"canary": {"steps": STEPS}},
        },
    }


def requests_by_kind(url: str) -> tuple[float, float]:
    """(all requests, writes) the controller's Kubernetes client sent so far."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    total = writes = 0.0
    for line in text.splitlines():
        if line.startswith("controller_clientset_k8s_request_total{"):
            value = float(line.rsplit(" ", 1)[1])
            total += value
            if any(f'verb="{verb}"' in line for verb in WRITES):
                writes += value
    return total, writes


def create_namespace(core: client.CoreV1Api, name: str) -> None:
    """Create `name` and wait until pods are admitted there (its default ServiceAccount)."""
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    while True:
        try:
            core.read_namespaced_service_account("default", name)
            return
        except client.ApiException:
            time.sleep(0.2)


def wait_gone(core: client.CoreV1Api, timeout: float = 600) -> None:
    """Until the namespace and its pods are gone, so their deletion loads nothing after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(n.metadata.name != NAMESPACE for n in core.list_namespace().items):
            return
        time.sleep(2)


def run(
    kubectl: Callable[..., str],
    kubeconfig: Path,
    api: client.ApiClient,
    count: int,
    idle_seconds: int,
    timeout: float,
    workdir: Path,
    free_port: Callable[[], int],
    rss_mib: Callable[[int], tuple[float, float]],
    cpu_seconds: Callable[[int], float],
) -> Figures:
    home = build()
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(home / "crds"))
    wait_established(str(kubeconfig), f"{PLURAL}.{GROUP}")
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    create_namespace(core, NAMESPACE)
    metrics_port, healthz_port = free_port(), free_port()
    log = (workdir / "argo-rollouts.log").open("wb")
    controller = subprocess.Popen(
        [str(home / "rollouts-controller"), "--kubeconfig", str(kubeconfig), "--namespaced",
         "--namespace", NAMESPACE, "--metricsPort", str(metrics_port), "--healthzPort",
         str(healthz_port), "--leader-elect=false", "--loglevel", "warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set() and controller.poll() is None:
            peak[0] = max(peak[0], rss_mib(controller.pid)[1])
            stop.wait(0.5)

    threading.Thread(target=sample, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while True:  # its metrics endpoint is up once its informers started
            try:
                requests_by_kind(url)
                break
            except OSError:
                if controller.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"rollouts-controller did not start: see {workdir}/argo-rollouts.log")
                time.sleep(0.5)
        time.sleep(2)
        cpu0, (req0, wr0) = cpu_seconds(controller.pid), requests_by_kind(url)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: custom.create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, PLURAL, manifest(i)), range(count)))  # fmt: skip
        done, last = 0, 0.0
        while done < count and time.monotonic() - started < timeout:
            try:
                listed = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
            except (client.ApiException, urllib3.exceptions.HTTPError):  # loaded: ask again
                time.sleep(2)
                continue
            items = listed["items"]
            done = sum(1 for r in items if (r.get("status") or {}).get("phase") == "Healthy")
            if time.monotonic() - last > 10:
                print(f"  argo {time.monotonic() - started:6.1f}s: {done}/{count} Healthy "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
                last = time.monotonic()
            time.sleep(1)
        seconds = time.monotonic() - started
        load_converged = os.getloadavg()
        cpu1, (req1, wr1) = cpu_seconds(controller.pid), requests_by_kind(url)
        time.sleep(idle_seconds)
        cpu2, (req2, wr2) = cpu_seconds(controller.pid), requests_by_kind(url)
        idle = rss_mib(controller.pid)[0]
        peak[0] = max(peak[0], rss_mib(controller.pid)[1])
    finally:
        stop.set()
        controller.terminate()
        controller.wait(30)
        core.delete_namespace(NAMESPACE)
        wait_gone(core)
    return Figures(count, done, seconds, peak[0], idle, cpu1 - cpu0, cpu2 - cpu1, req1 - req0,
                   wr1 - wr0, req2 - req1, wr2 - wr1, idle_seconds, load_converged)  # fmt: skip
