"""Scale and idle-cost benchmark of the operator on the local cluster.

Checks two of the operator's budgets (docs/performance.md, "Budgets"): 1,000 ModelDeployments
applied at once are all Healthy within 2 minutes with the operator under 250 MiB resident,
and a converged ModelDeployment costs no API writes while nothing changes.

Applies N ModelDeployments at once, measures the time until every one is Healthy at its
current generation and the operator's resident memory (peak), then watches the converged
objects while idle and counts the operator's API writes and the watch events (budget: none).

    .venv/bin/python bench/scale/run.py [--count 1000] [--idle-seconds 60]

Prints a table; needs the local cluster (`make cluster-up`, started here if needed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "e2e"))

from kubernetes import client, config, watch  # noqa: E402
from modelship_testing.cluster import LocalCluster, free_port, wait_established  # noqa: E402
from modelship_testing.objects import release_finalizers  # noqa: E402

NAMESPACE = "bench-scale"
GROUP, VERSION, PLURAL = "modelship.io", "v1alpha1", "modeldeployments"


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def api_writes(metrics_url: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("modelship_api_writes_total{")
    )


def manifest(index: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelDeployment",
        "metadata": {"name": f"model-{index:04d}"},
        "spec": {
            "model": {
                "name": f"model-{index:04d}",
                "version": "1",
                "uri": f"s3://models/m{index}/1/",
            },
            "serving": {"replicas": 1},
        },
    }


def converged(items: list[dict[str, Any]]) -> int:
    return sum(
        1
        for md in items
        if (md.get("status") or {}).get("phase") == "Healthy"
        and md["status"].get("observedGeneration") == md["metadata"]["generation"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    cluster = LocalCluster()
    cluster.up()
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    wait_established(str(cluster.kubeconfig), f"{PLURAL}.{GROUP}")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    if any(n.metadata.name == NAMESPACE for n in core.list_namespace().items):
        sys.exit(f"namespace {NAMESPACE} exists: delete it first")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    while True:  # pods are admitted once the namespace's default ServiceAccount exists
        try:
            core.read_namespaced_service_account("default", NAMESPACE)
            break
        except client.ApiException:
            time.sleep(0.2)

    metrics_port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="modelship-bench-"))
    log = (workdir / "operator.log").open("wb")
    operator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelship.cli",
            "operator",
            "--standalone",
            "--namespace",
            NAMESPACE,
            "--metrics-port",
            str(metrics_port),
            "--log-level",
            os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        ],
        # As in the operator's image: two malloc arenas, not one per thread, keep RSS down.
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "MALLOC_ARENA_MAX": "2"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    peak = [0.0]
    stop = threading.Event()

    def sample_memory() -> None:
        while not stop.is_set() and operator.poll() is None:
            peak[0] = max(peak[0], rss_mib(operator.pid)[1])
            stop.wait(0.5)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    try:
        time.sleep(2)  # the operator's watches start (its startup is not what is measured)
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: custom.create_namespaced_custom_object(
                        GROUP, VERSION, NAMESPACE, PLURAL, manifest(i)
                    ),
                    range(args.count),
                )
            )
        applied = time.monotonic() - started
        print(f"applied {args.count} ModelDeployments in {applied:.1f}s", flush=True)
        done, last_report = 0, 0.0
        while done < args.count:
            if time.monotonic() - started > args.timeout:
                break
            items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
            done = converged(items)
            if time.monotonic() - last_report > 10:
                print(
                    f"  {time.monotonic() - started:6.1f}s: {done}/{args.count} Healthy", flush=True
                )
                last_report = time.monotonic()
            time.sleep(1)
        convergence = time.monotonic() - started

        # Idle: the operator must not write, and no ModelDeployment may change.
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        writes_before = api_writes(metrics_url)
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
        events = 0
        for _ in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            resource_version=listed["metadata"]["resourceVersion"],
            timeout_seconds=args.idle_seconds,
        ):
            events += 1
        idle_writes = api_writes(metrics_url) - writes_before
        current, hwm = rss_mib(operator.pid)
        peak[0] = max(peak[0], hwm)
    finally:
        stop.set()
        operator.terminate()
        operator.wait(30)
        release_finalizers(api, NAMESPACE)
        core.delete_namespace(NAMESPACE)

    print()
    print("| measure | value | budget |")
    print("| --- | --- | --- |")
    print(f"| ModelDeployments Healthy | {done}/{args.count} | all |")
    print(f"| time to converge (first create to all Healthy) | {convergence:.1f} s | < 120 s |")
    print(f"| operator resident memory, peak | {peak[0]:.0f} MiB | < 250 MiB |")
    print(f"| operator resident memory, idle | {current:.0f} MiB | |")
    print(f"| API writes by the operator over {args.idle_seconds} s idle | {idle_writes:.0f} | 0 |")
    print(f"| ModelDeployment watch events over {args.idle_seconds} s idle | {events} | 0 |")
    print(f"(operator log: {workdir / 'operator.log'})")
    return 0 if done == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
