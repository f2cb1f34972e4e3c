"""Scale and idle-cost benchmark of the operator on the local cluster.

Checks two of the operator's budgets (docs/performance.md, "Budgets"): 1,000 ModelDeployments
applied at once are all Healthy within 2 minutes with the operator under 250 MiB resident,
and a converged ModelDeployment costs no API writes while nothing changes.

Applies N ModelDeployments at once, measures the time until every one is Healthy at its
current generation and the operator's resident memory (peak), then watches the converged
objects while idle and counts the operator's API writes and the watch events (budget: none).

    .venv/bin/python bench/scale/run.py [--count 1000] [--idle-seconds 60] [--shards 1]

With --shards N, N operators split the objects (`--shards N --shard-index I --shard-key
label:bench-group`, 64 label values): each one's memory, CPU and writes are reported, and its
log (at INFO) says which objects it ran a worker for, so the run shows no object owned twice
or by none.

Prints a table; needs the local cluster (`make cluster-up`, started here if needed).
"""

from __future__ import annotations

import argparse
import json
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

import urllib3  # noqa: E402
from kubernetes import client, config, watch  # noqa: E402
from modelship_testing.cluster import LocalCluster, free_port, wait_established  # noqa: E402
from modelship_testing.objects import release_finalizers  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import argo  # noqa: E402

NAMESPACE = "bench-scale"
GROUP_LABEL = "bench-group"  # the shard key of a sharded run
GROUPS = 64
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_started(log: Path) -> set[str]:
    """Names of the objects an operator started a worker for (its INFO log)."""
    names = set()
    for line in log.read_text(errors="replace").splitlines():
        if '"worker started"' in line:
            names.add(json.loads(line)["name"])
    return names


class Operator:
    """One `modelship operator` process (one shard of `shards`), its metrics port and log."""

    def __init__(self, kubeconfig: Path, workdir: Path, index: int, shards: int) -> None:
        self.metrics_port = free_port()
        self.log_path = workdir / f"operator-{index}.log"
        argv = [sys.executable, "-m", "modelship.cli", "operator", "--standalone",
                "--namespace", NAMESPACE, "--metrics-port", str(self.metrics_port),
                "--log-level", os.environ.get("BENCH_LOG_LEVEL", "INFO" if shards > 1 else
                                              "WARNING")]  # fmt: skip
        if shards > 1:
            argv += ["--shards", str(shards), "--shard-index", str(index),
                     "--shard-key", f"label:{GROUP_LABEL}"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                # As in the operator's image: two malloc arenas, not one per thread.
                env={**os.environ, "KUBECONFIG": str(kubeconfig), "MALLOC_ARENA_MAX": "2"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.peak = 0.0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def wait_metrics(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                api_writes(self.metrics_url)
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the operator did not start: see {self.log_path}")
                time.sleep(0.5)

    def sample(self) -> None:
        if self.proc.poll() is None:
            self.peak = max(self.peak, rss_mib(self.proc.pid)[1])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def manifest(index: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelDeployment",
        "metadata": {"name": f"model-{index:04d}", "labels": {GROUP_LABEL: f"g{index % GROUPS}"}},
        "spec": {
            "model": {
                "name": f"model-{index:04d}",
                "version": "1",
                "uri": f"s3://models/m{index}/1/",
            },
            "serving": {"replicas": 1},
            # The same steps as the Argo Rollouts side (argo.py): replica-ratio weights.
            "strategy": {"canary": {"traffic": {"router": "replicas"}, "steps": argo.STEPS}},
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
    parser.add_argument("--shards", type=int, default=1, help="operators splitting the objects")
    parser.add_argument("--argo-rollouts", action="store_true",
                        help="first run the same fleet as Argo Rollouts canaries (argo.py), "
                        "then print both side by side")  # fmt: skip
    args = parser.parse_args()

    cluster = LocalCluster()
    cluster.up()
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    wait_established(str(cluster.kubeconfig), f"{PLURAL}.{GROUP}")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    workdir = Path(tempfile.mkdtemp(prefix="modelship-bench-"))
    theirs = None
    if args.argo_rollouts:
        print(f"Argo Rollouts: {args.count} canary Rollouts (load {os.getloadavg()})", flush=True)
        theirs = argo.run(cluster.kubectl, cluster.kubeconfig, api, args.count,
                          args.idle_seconds, args.timeout, workdir, free_port, rss_mib,
                          cpu_seconds)  # fmt: skip
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    if any(n.metadata.name == NAMESPACE for n in core.list_namespace().items):
        sys.exit(f"namespace {NAMESPACE} exists: delete it first")
    argo.create_namespace(core, NAMESPACE)

    operators = [Operator(cluster.kubeconfig, workdir, i, args.shards) for i in range(args.shards)]
    stop = threading.Event()

    def sample_memory() -> None:
        while not stop.is_set():
            for op in operators:
                op.sample()
            stop.wait(0.5)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    load_before = os.getloadavg()
    try:
        for op in operators:  # up (its startup is not what is measured)
            op.wait_metrics()
        time.sleep(2)  # the watches start
        cpu_start = [cpu_seconds(op.proc.pid) for op in operators]
        writes_start = [api_writes(op.metrics_url) for op in operators]
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
            try:
                items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
            except (client.ApiException, urllib3.exceptions.HTTPError) as err:  # loaded: ask again
                print(f"  list failed ({type(err).__name__}); retrying", flush=True)
                time.sleep(2)
                continue
            done = converged(items["items"])
            if time.monotonic() - last_report > 10:
                print(
                    f"  {time.monotonic() - started:6.1f}s: {done}/{args.count} Healthy "
                    f"(load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
                last_report = time.monotonic()
            time.sleep(1 if args.count <= 1000 else 3)  # listing thousands costs the server
        convergence = time.monotonic() - started
        load_converged = os.getloadavg()
        cpu_converge = [
            cpu_seconds(op.proc.pid) - c for op, c in zip(operators, cpu_start, strict=True)
        ]
        writes_converge = [
            api_writes(op.metrics_url) - w for op, w in zip(operators, writes_start, strict=True)
        ]

        # Idle: the operator must not write, and no ModelDeployment may change.
        writes_before = [api_writes(op.metrics_url) for op in operators]
        cpu_before = [cpu_seconds(op.proc.pid) for op in operators]
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
        idle_writes = [
            api_writes(op.metrics_url) - w for op, w in zip(operators, writes_before, strict=True)
        ]
        idle_cpu = [
            cpu_seconds(op.proc.pid) - c for op, c in zip(operators, cpu_before, strict=True)
        ]
        idle_rss = [rss_mib(op.proc.pid)[0] for op in operators]
        for op in operators:
            op.sample()
    finally:
        stop.set()
        for op in operators:
            op.stop()
        release_finalizers(api, NAMESPACE)
        core.delete_namespace(NAMESPACE)

    shard_note = f", {args.shards} shards" if args.shards > 1 else ""
    print()
    print(f"{args.count} ModelDeployments{shard_note}; load average before {load_before}, "
          f"at convergence {load_converged}; cores {os.cpu_count()}")  # fmt: skip
    print("| measure | value | budget |")
    print("| --- | --- | --- |")
    print(f"| ModelDeployments Healthy | {done}/{args.count} | all |")
    print(f"| time to converge (first create to all Healthy) | {convergence:.1f} s | < 120 s |")
    for i, op in enumerate(operators):
        who = f"shard {i}" if args.shards > 1 else "operator"
        print(f"| {who}: resident memory, peak / idle | {op.peak:.0f} / {idle_rss[i]:.0f} MiB "
              f"| < 250 MiB |")  # fmt: skip
        print(f"| {who}: CPU seconds converging / over {args.idle_seconds} s idle | "
              f"{cpu_converge[i]:.1f} / {idle_cpu[i]:.2f} | |")  # fmt: skip
        print(f"| {who}: API writes converging / over {args.idle_seconds} s idle | "
              f"{writes_converge[i]:.0f} / {idle_writes[i]:.0f} | - / 0 |")  # fmt: skip
    print(f"| ModelDeployment watch events over {args.idle_seconds} s idle | {events} | 0 |")
    overlap_ok = True
    if args.shards > 1:
        owned = [workers_started(op.log_path) for op in operators]
        names = {f"model-{i:04d}" for i in range(args.count)}
        twice = set.intersection(*owned) if len(owned) == 2 else {
            n for n in names if sum(n in o for o in owned) > 1}  # fmt: skip
        nobody = names - set.union(*owned)
        overlap_ok = not twice and not nobody
        print(f"| objects per shard (workers started) | {' / '.join(str(len(o)) for o in owned)} "
              f"| {args.count} in all |")  # fmt: skip
        print(f"| objects owned by two shards / by none | {len(twice)} / {len(nobody)} | 0 / 0 |")
    if theirs is not None:
        op = operators[0]
        print()
        print(f"Side by side, {args.count} objects (Argo Rollouts converged at load "
              f"{theirs.load_converged}, modelship at {load_converged}):")  # fmt: skip
        print("| measure | modelship | Argo Rollouts | modelship / Argo |")
        print("| --- | ---: | ---: | ---: |")
        pairs = [
            ("Healthy", done, theirs.converged),
            ("time to converge, s", convergence, theirs.seconds),
            ("resident memory, peak MiB", op.peak, theirs.peak_mib),
            ("resident memory, idle MiB", idle_rss[0], theirs.idle_mib),
            ("CPU seconds converging", cpu_converge[0], theirs.cpu_converging),
            (f"CPU seconds over {args.idle_seconds} s idle", idle_cpu[0], theirs.cpu_idle),
            ("API writes converging", writes_converge[0], theirs.writes_converging),
            (f"API writes over {args.idle_seconds} s idle", idle_writes[0], theirs.writes_idle),
        ]
        for name, mine, other in pairs:
            ratio = f"{mine / other:.2f}" if other else "-"
            print(f"| {name} | {mine:.1f} | {other:.1f} | {ratio} |")
        print(f"| API requests (reads and writes) converging / over {args.idle_seconds} s idle "
              f"| not counted | {theirs.requests_converging:.0f} / {theirs.requests_idle:.0f} "
              "| |")  # fmt: skip
    print(f"(operator logs: {workdir})")
    return 0 if done == args.count and overlap_ok else 1


if __name__ == "__main__":
    sys.exit(main())
