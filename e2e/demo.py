"""`make demo`: a canary of a good model promoted, a canary of a bad one rolled back.

Runs against the local cluster (`make cluster-up`): installs the CRDs, starts the operator,
trains a small fraud model, serves each revision through a reference-server process
(KWOK pods run no containers) scraped by the local Prometheus, sends live traffic split by
the canary weight, and prints the ModelDeployment's progress as it goes. Everything it
starts but the cluster is stopped at the end; `make demo-down` stops the cluster too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from kubernetes import client, config
from modelship_testing.cluster import REPO, LocalCluster, binary, wait_established
from modelship_testing.objects import ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import Server, TrafficGenerator, start_server, train_fraud_model
from modelship_testing.waiters import wait_for

NAMESPACE = "modelship-demo"
STATE = REPO / ".demo"
SPEC: dict[str, Any] = {
    "model": {"name": "fraud", "version": "1", "uri": "s3://models/fraud/1/"},
    "serving": {"replicas": 4},
    "strategy": {
        "canary": {
            "steps": [
                {"setWeight": 25},
                {"pause": {"duration": "5s"}},
                {"setWeight": 50},
                {"analysis": {"count": 2}},
            ]
        }
    },
    "analysis": {
        "interval": "3s",
        "minSamples": 10,
        "failureLimit": 0,
        "inconclusiveLimit": 5,
        "metrics": [
            {"name": "error-rate", "builtin": "errorRate", "max": 0.02},
            {"name": "p99-latency", "builtin": "latencyP99", "max": 0.25},
        ],
    },
}


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


class Demo:
    def __init__(self) -> None:
        self.cluster = LocalCluster()
        self.prometheus = PrometheusHandle(self.cluster)
        api = config.new_client_from_config(config_file=str(self.cluster.kubeconfig))
        self.mds = ModelDeployments(api, NAMESPACE)
        self.core = client.CoreV1Api(api)
        self.model = train_fraud_model(STATE / "model")
        self.servers: dict[str, Server] = {}
        self.traffic = TrafficGenerator(rate_per_second=60, max_seconds=900)
        self.operator: subprocess.Popen[bytes] | None = None
        self.last_line = ""

    def kubectl(self, *args: str) -> None:
        subprocess.run(
            [str(binary("kubectl")), f"--kubeconfig={self.cluster.kubeconfig}", *args],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def setup(self) -> None:
        say("installing the CRDs and starting the operator")
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        for crd in ("modeldeployments", "driftmonitors", "retrainpolicies"):
            wait_established(str(self.cluster.kubeconfig), f"{crd}.modelship.io")
        if NAMESPACE not in {n.metadata.name for n in self.core.list_namespace().items}:
            self.core.create_namespace(client.V1Namespace(metadata={"name": NAMESPACE}))
        env = {
            **os.environ,
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "MODELSHIP_PROMETHEUS_URL": self.prometheus.url,
            "PYTHONUNBUFFERED": "1",
        }
        log = (STATE / "operator.log").open("wb")
        self.operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelship.cli",
                "operator",
                "--standalone",
                "--namespace",
                NAMESPACE,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        (STATE / "operator.pid").write_text(str(self.operator.pid))
        print(f"    operator pid {self.operator.pid}, log {STATE / 'operator.log'}")

    def serve(self, revision: str, version: str, fault: str | None = None) -> None:
        server = start_server(self.model, revision, version, fault=fault)
        self.servers[revision] = server
        self.prometheus.add_target(f"demo-{revision}", server.address, {"namespace": NAMESPACE})
        self.traffic.servers[revision] = server
        print(
            f"    revision {revision} (version {version}{', faulty' if fault else ''}) served "
            f"at {server.url}"
        )

    def show(self, status: dict[str, Any]) -> None:
        """Print the ModelDeployment's progress when it changes; route traffic like the
        Service would (by canary weight)."""
        stable, canary = status.get("stableRevision"), status.get("canaryRevision")
        weight = status.get("canaryWeight") or 0
        self.traffic.weights = {r: 0 for r in self.servers}
        if stable in self.servers:
            self.traffic.weights[stable] = 100 - weight if canary in self.servers else 100
        if canary in self.servers:
            self.traffic.weights[canary] = weight
        measured = ", ".join(
            f"{m['metric']}={m.get('value', float('nan')):.3g} {m['result']}"
            for m in status.get("measurements") or []
            if m.get("value") is not None
        )
        line = (
            f"phase={status.get('phase'):<11} "
            f"step={(status.get('rollout') or {}).get('step', '-')!s:<4} "
            f"weight={weight:<3} {status.get('message', '')}"
        )
        if line != self.last_line:
            print(
                f"    {time.strftime('%H:%M:%S')} {line}"
                + (f"\n               [{measured}]" if measured else ""),
                flush=True,
            )
            self.last_line = line

    def follow(
        self, until: str, version: str, fault: str | None, timeout: float = 240
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.mds.status("fraud")
            canary = status.get("canaryRevision")
            if canary and canary not in self.servers:
                self.serve(canary, version, fault)
            self.show(status)
            generation = self.mds.get("fraud")["metadata"]["generation"]
            if (
                status.get("phase") == until
                and status.get("observedGeneration") == generation
                and not canary
            ):
                return status
            time.sleep(0.5)
        raise SystemExit(f"the demo timed out waiting for phase {until}")

    def remove_previous_run(self) -> None:
        """A ModelDeployment left by an earlier demo is deleted first (the operator, now
        running, releases its finalizer)."""

        def exists() -> bool:
            listed = self.mds.custom.list_namespaced_custom_object(
                "modelship.io", "v1alpha1", NAMESPACE, "modeldeployments"
            )
            return any(i["metadata"]["name"] == "fraud" for i in listed["items"])

        if not exists():
            return
        self.mds.custom.delete_namespaced_custom_object(
            "modelship.io", "v1alpha1", NAMESPACE, "modeldeployments", "fraud"
        )
        wait_for(
            lambda: not exists(), timeout=60, describe="the previous demo's ModelDeployment to go"
        )

    def run(self) -> None:
        self.setup()
        say("deploying version 1 of the fraud model (4 replicas)")
        self.remove_previous_run()
        self.mds.create("fraud", SPEC)
        status = self.mds.wait_phase("fraud", "Healthy", timeout=120)
        self.serve(status["stableRevision"], "1")
        self.traffic.start()
        self.follow("Healthy", "1", None)

        say("canary of version 2, a good model: expect promotion")
        self.mds.set_version("fraud", "2")
        status = self.follow("Healthy", "2", None)
        print(f"    promoted: stable revision {status['stableRevision']}")

        say("canary of version 3, a model that fails 30% of requests: expect a rollback")
        self.mds.set_version("fraud", "3")
        status = self.follow("RolledBack", "3", "Flaky")
        entry = status["history"][0]
        print(f"    rolled back: {entry['reason']}")

        say("history of the ModelDeployment")
        for entry in status["history"]:
            print(
                f"    {entry['modelVersion']:<3} {entry['revision']}  {entry['outcome']:<10} "
                f"{entry.get('reason', '')}"
            )
        ok = sum(c for (_, code), c in self.traffic.outcomes.items() if code == 200)
        print(f"\n    {sum(self.traffic.outcomes.values())} requests sent, {ok} answered 200")
        print(
            f"    kubectl --kubeconfig {self.cluster.kubeconfig} -n {NAMESPACE} get md,deploy,svc"
        )
        print("    make demo-down stops the cluster")

    def close(self) -> None:
        self.traffic.stop()
        for revision, server in self.servers.items():
            self.prometheus.remove_target(f"demo-{revision}")
            server.stop()
        if self.operator and self.operator.poll() is None:
            self.operator.terminate()
            self.operator.wait(20)
        (STATE / "operator.pid").unlink(missing_ok=True)


def main() -> int:
    STATE.mkdir(exist_ok=True)
    demo = Demo()
    try:
        demo.run()
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
