"""`make demo`: canaries promoted and rolled back, then the whole loop: traffic drifts, the
monitor flags it, a retrain runs, its model is evaluated, canaried and promoted, the drift
clears; then a retrain whose trainer overclaims is caught by its evaluation and never deployed.

Runs against the local cluster (`make cluster-up`): installs the CRDs, starts the operator,
trains a small fraud model, serves each revision through a reference-server process
(KWOK pods run no containers) scraped by the local Prometheus, sends live traffic split by
the canary weight, runs each retraining and evaluation Job's container as a local process
(the JobRunner), and prints every stage with its elapsed time. Everything it starts but the
cluster is stopped at the end; `make demo-down` stops the cluster too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, config
from modelship_testing.cluster import REPO, LocalCluster, binary, wait_established
from modelship_testing.jobs import JobRunner
from modelship_testing.objects import ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.retraining import EVALUATOR, TRAINER, container, job_template
from modelship_testing.revisions import ServedRevisions
from modelship_testing.serving import (
    TrafficGenerator,
    TrainedModel,
    fraud_data,
    train_fraud_model,
)
from modelship_testing.waiters import wait_for

STARTED = time.monotonic()
NAMESPACE = "modelship-demo"
STATE = REPO / ".demo"
GROUP, VERSION = "modelship.io", "v1alpha1"
MODEL_URI = f"file://{STATE}/model/"
SHIFT = {"amount": 150.0, "merchant_risk": 0.5}
"""The drift: what live traffic looks like from stage 5 on (and what the retrain learns)."""
SPEC: dict[str, Any] = {
    "model": {
        "name": "fraud",
        "version": "1",
        "uri": MODEL_URI,
        "profileRef": {"configMap": "fraud-profile"},
    },
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
            # Generous: the demo shares a small machine with its servers, trainers and cluster.
            {"name": "p99-latency", "builtin": "latencyP99", "max": 0.5},
        ],
    },
}
MONITOR: dict[str, Any] = {
    "modelDeploymentRef": "fraud",
    "interval": "10s",
    "window": "20s",
    "minSamples": 100,
    "actions": {"onDrift": ["event", "retrain"]},
}
# How long a server process may take to start: a busy machine is slow to import scikit-learn.
SERVER_START = 180.0
COMPARE = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.02}]


class Stages:
    """Prints each stage with the time since the demo started; keeps each stage's duration."""

    def __init__(self) -> None:
        self.started = STARTED  # the demo's own start: its imports and set-up count too
        self.done: list[tuple[str, float]] = []
        self.current: tuple[str, float] | None = None

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def begin(self, title: str) -> None:
        self.end()
        self.current = (title, time.monotonic())
        print(f"\n==> [{self.elapsed()}] {title}", flush=True)

    def end(self) -> None:
        if self.current is not None:
            title, since = self.current
            self.done.append((title, time.monotonic() - since))
            self.current = None

    def summary(self) -> None:
        self.end()
        print(f"\n==> [{self.elapsed()}] done; time per stage:")
        for title, seconds in self.done:
            print(f"    {seconds:6.1f}s  {title}")
        print(f"    {time.monotonic() - self.started:6.1f}s  in all")


class Demo:
    def __init__(self) -> None:
        self.cluster = LocalCluster()
        self.prometheus = PrometheusHandle(self.cluster)
        self.api = config.new_client_from_config(config_file=str(self.cluster.kubeconfig))
        self.mds = ModelDeployments(self.api, NAMESPACE)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.stages = Stages()
        self.model = train_fraud_model(STATE / "model")
        traffic = TrafficGenerator(rate_per_second=60, max_seconds=900)
        self.revisions = ServedRevisions(self.prometheus, NAMESPACE, traffic, job_prefix="demo")
        self.jobs = JobRunner(self.api, [NAMESPACE], STATE / "jobs")
        self.operator: subprocess.Popen[bytes] | None = None
        self.lines: dict[str, str] = {}
        # The version a new canary revision serves, its model, and its fault (if any).
        self.canary: tuple[str, TrainedModel, str | None] = ("1", self.model, None)
        self.trainer_args = ["--data", str(STATE / "drifted.csv"), "--target", "fraud",
                             "--seed", "3"]  # fmt: skip

    # --- plumbing ----------------------------------------------------------------------------

    def kubectl(self, *args: str) -> None:
        subprocess.run(
            [str(binary("kubectl")), f"--kubeconfig={self.cluster.kubeconfig}", *args],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def get(self, plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, plural, name
        )
        return found

    def create(self, kind: str, plural: str, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name},
                "spec": spec}  # fmt: skip
        self.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, body)

    def patch_policy(self, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "retrainpolicies", "fraud-retrain", body,
            _content_type="application/merge-patch+json",
        )  # fmt: skip

    def setup(self) -> None:
        self.stages.begin("installing the CRDs and starting the operator")
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        for crd in ("modeldeployments", "driftmonitors", "retrainpolicies"):
            wait_established(str(self.cluster.kubeconfig), f"{crd}.modelship.io")
        if not self.cluster.kwok_stages_current():
            raise SystemExit(self.cluster.kwok_outdated_message())
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
            [sys.executable, "-m", "modelship.cli", "operator", "--standalone",
             "--namespace", NAMESPACE],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        (STATE / "operator.pid").write_text(str(self.operator.pid))
        print(f"    operator pid {self.operator.pid}, log {STATE / 'operator.log'}")
        self.jobs.start()
        self.remove_previous_run()
        profile = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="fraud-profile"),
            data={"profile.json": self.model.profile_path.read_text()},
        )
        self.core.create_namespaced_config_map(NAMESPACE, profile)

    def remove_previous_run(self) -> None:
        """What an earlier demo left is deleted first (the operator, now running, releases
        its finalizers; the garbage collector takes the Jobs and ConfigMaps they own)."""

        def names(plural: str) -> set[str]:
            listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural)
            return {i["metadata"]["name"] for i in listed["items"]}

        for plural in ("retrainpolicies", "driftmonitors", "modeldeployments"):
            for name in names(plural):
                self.custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural,
                                                            name)  # fmt: skip
        for config_map in self.core.list_namespaced_config_map(NAMESPACE).items:
            if config_map.metadata.name.startswith("fraud-"):
                self.core.delete_namespaced_config_map(config_map.metadata.name, NAMESPACE)

        def gone() -> bool:
            jobs = self.batch.list_namespaced_job(NAMESPACE).items
            return not jobs and not any(names(p) for p in ("retrainpolicies", "modeldeployments"))

        wait_for(gone, timeout=90, describe="the previous demo's objects to go")
        shutil.rmtree(STATE / "models", ignore_errors=True)

    # --- watching ----------------------------------------------------------------------------

    def note(self, key: str, line: str, changed: str | None = None) -> None:
        """Print `line` when `changed` (default: the line) differs from the last for `key`."""
        marker = line if changed is None else changed
        if line and self.lines.get(key) != marker:
            print(f"    {time.strftime('%H:%M:%S')} {line}", flush=True)
            self.lines[key] = marker

    def show_deployment(self) -> dict[str, Any]:
        """Serve a new canary revision; route traffic like the Service would; print changes."""
        status = self.mds.status("fraud")
        stable, canary = status.get("stableRevision"), status.get("canaryRevision")
        if canary and canary not in self.revisions.servers:
            version, model, fault = self.canary
            self.revisions.serve(canary, version, model, fault=fault, weight=0,
                                 wait_scraped=False, ready_timeout=SERVER_START)  # fmt: skip
            print(f"    revision {canary} (version {version}{', faulty' if fault else ''}) "
                  f"served at {self.revisions.servers[canary].url}")  # fmt: skip
        weight = status.get("canaryWeight") or 0
        self.revisions.route_like_the_service(stable, canary, weight)
        measured = ", ".join(
            f"{m['metric']}={m['value']:.3g} {m['result']}"
            for m in status.get("measurements") or [] if m.get("value") is not None
        )  # fmt: skip
        step = (status.get("rollout") or {}).get("step", "-")
        line = (f"deployment phase={status.get('phase')} step={step} weight={weight} "
                f"{status.get('message', '')}")  # fmt: skip
        if canary and measured:
            line += f" [{measured}]"
        self.note("md", line)
        return status

    def show_loop(self) -> None:
        """The monitor's verdict and the policy's progress, when they change."""
        try:
            monitor = self.get("driftmonitors", "fraud-drift").get("status") or {}
            policy = self.get("retrainpolicies", "fraud-retrain").get("status") or {}
        except client.ApiException:
            return
        drifted = next((c for c in monitor.get("conditions") or [] if c["type"] == "Drifted"), {})
        if drifted:
            hot = [
                f
                for f in monitor.get("features") or []
                if f.get("severity") in ("warning", "critical") and f.get("score") is not None
            ]
            scores = ", ".join(f"{f['name']} {f['method']} {f['score']:.3g}" for f in hot)
            reference = (monitor.get("reference") or {}).get("modelVersion", "?")
            head = f"monitor Drifted={drifted.get('status')} against version {reference}'s profile"
            # A line when the verdict changes, not for each evaluation's new scores.
            changed = f"{head} {[(f['name'], f['severity']) for f in hot]}"
            self.note("monitor", head + (f": {scores}" if scores else ""), changed)
        if policy.get("phase"):
            self.note("policy", f"policy phase={policy['phase']} {policy.get('message', '')}")

    def until(self, check: Callable[[dict[str, Any]], Any], describe: str,
              timeout: float = 240) -> dict[str, Any]:  # fmt: skip
        """Follow everything until `check(ModelDeployment status)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.show_deployment()
            self.show_loop()
            if check(status):
                return status
            time.sleep(0.5)
        raise SystemExit(f"the demo timed out waiting for {describe}")

    def settled(self, phase: str) -> Callable[[dict[str, Any]], bool]:
        """The rollout of the current spec ended in `phase`; ending otherwise ends the demo."""

        def check(status: dict[str, Any]) -> bool:
            generation = self.mds.get("fraud")["metadata"]["generation"]
            if status.get("observedGeneration") != generation or status.get("canaryRevision"):
                return False
            if status.get("phase") in ("Healthy", "RolledBack", "Failed") and (
                status.get("phase") != phase
            ):
                raise SystemExit(f"expected {phase}, the rollout ended {status.get('phase')}: "
                                 f"{status.get('message')}")  # fmt: skip
            return status.get("phase") == phase

        return check

    def run_of(self, number: int) -> dict[str, Any]:
        status = self.get("retrainpolicies", "fraud-retrain").get("status") or {}
        name = f"fraud-retrain-{number}"
        return next((r for r in status.get("runs") or [] if r["name"] == name), {})

    def drifted(self) -> str | None:
        status = self.get("driftmonitors", "fraud-drift").get("status") or {}
        return next((c["status"] for c in status.get("conditions") or []
                     if c["type"] == "Drifted"), None)  # fmt: skip

    # --- the stages --------------------------------------------------------------------------

    def canaries(self) -> None:
        self.stages.begin("deploying version 1 of the fraud model (4 replicas)")
        self.mds.create("fraud", SPEC)
        status = self.mds.wait_phase("fraud", "Healthy", timeout=120)
        self.revisions.serve(
            status["stableRevision"],
            "1",
            self.model,
            wait_scraped=False,
            ready_timeout=SERVER_START,
        )
        self.revisions.traffic.start()
        self.until(self.settled("Healthy"), "version 1 to serve")

        self.stages.begin("canary of version 2, a good model: expect promotion")
        self.canary = ("2", self.model, None)
        self.mds.set_version("fraud", "2", uri=MODEL_URI)
        status = self.until(self.settled("Healthy"), "version 2 to be promoted")
        print(f"    promoted: stable revision {status['stableRevision']}")

        self.stages.begin("canary of version 3, a model that fails 30% of requests: "
                          "expect a rollback")  # fmt: skip
        self.canary = ("3", self.model, "Flaky")
        self.mds.set_version("fraud", "3", uri=MODEL_URI)
        status = self.until(self.settled("RolledBack"), "version 3 to be rolled back")
        print(f"    rolled back: {status['history'][0]['reason']}")

    def loop(self) -> None:
        self.stages.begin("a DriftMonitor and a RetrainPolicy watch the served model "
                          "(version 2)")  # fmt: skip
        drifted = fraud_data(rows=3000, seed=21)
        golden = fraud_data(rows=800, seed=22)
        for frame in (drifted, golden):
            for column, offset in SHIFT.items():
                frame[column] = frame[column] + offset
        drifted.to_csv(STATE / "drifted.csv", index=False)
        golden.to_csv(STATE / "golden.csv", index=False)
        evaluator = container("evaluate", EVALUATOR, ["--target", "fraud"])
        self.create("DriftMonitor", "driftmonitors", "fraud-drift", MONITOR)
        self.create("RetrainPolicy", "retrainpolicies", "fraud-retrain", {
            "modelDeploymentRef": "fraud",
            "triggers": {"drift": {"driftMonitorRef": "fraud-drift", "consecutiveEvaluations": 2}},
            "cooldown": "1h",
            "job": job_template(container("train", TRAINER, self.trainer_args)),
            "output": {"uri": f"file://{STATE}/models/{{version}}/"},
            "validation": {"minMetrics": {"accuracy": 0.8}, "compare": COMPARE,
                           "job": {**job_template(evaluator),
                                   "heldOutURI": f"file://{STATE}/golden.csv"}},
            "promotion": "auto",
        })  # fmt: skip
        print(
            "    monitor: PSI per feature every 10s over a 20s window; policy: retrain on "
            "critical drift in 2 evaluations in a row,\n    an evaluation Job on held-out data"
            " it measures both models on, promote through the canary above"
        )
        self.until(lambda _: self.drifted() == "False", "in-distribution traffic", timeout=90)

        self.stages.begin(f"traffic drifts ({', '.join(f'{k} +{v:g}' for k, v in SHIFT.items())})"
                          ": the monitor flags it and a retrain starts")  # fmt: skip
        self.revisions.traffic.shift = dict(SHIFT)
        self.until(lambda _: self.run_of(1), "a retraining run", timeout=120)
        run = self.run_of(1)
        print(f"    run {run['name']} ({run['trigger']}): {run['reason']}\n"
              f"      evidence: {run['evidence']}")  # fmt: skip
        # Its canary, when the ModelDeployment makes one, serves what the run trains.
        output = STATE / "models" / run["newVersion"]
        self.canary = (run["newVersion"],
                       TrainedModel(output, output / "model.joblib", output / "profile.json"),
                       None)  # fmt: skip

        self.stages.begin("the trainer trains on the new data; an evaluation Job measures the "
                          "candidate against the serving model")  # fmt: skip
        self.until(lambda _: self.run_of(1).get("outcome") not in ("Running", "Evaluating"),
                   "the run to be validated", timeout=180)  # fmt: skip
        run = self.run_of(1)
        if run["outcome"] != "Promoting":
            raise SystemExit(f"the retrain was not promoted: {run}")
        print(f"    validated: {run['validation']}\n"
              f"      candidate {run['newVersion']} accuracy {run['metrics']['accuracy']:.3f}, "
              f"serving {run['baseVersion']} {run['baselineMetrics']['accuracy']:.3f} "
              "(on the held-out data)")  # fmt: skip

        self.stages.begin(f"version {run['newVersion']} rolls out as a gated canary")
        self.until(self.settled("Healthy"), "the retrained version to be promoted")
        self.until(lambda _: self.run_of(1).get("outcome") == "Promoted", "the run to follow")
        print(f"    run {run['name']}: {self.run_of(1)['message']}")

        self.stages.begin("the monitor switches to the new model's profile: the drift clears")

        def cleared(_: dict[str, Any]) -> bool:
            status = self.get("driftmonitors", "fraud-drift").get("status") or {}
            return ((status.get("reference") or {}).get("modelVersion") == run["newVersion"]
                    and self.drifted() == "False")  # fmt: skip

        self.until(cleared, "the drift to clear", timeout=120)

    def rejected_retrain(self) -> None:
        self.stages.begin("a retrain whose trainer overclaims: its evaluation rejects it")
        trainer = container("train", TRAINER, [*self.trainer_args, "--fault", "overclaim"])
        self.patch_policy({"spec": {"job": job_template(trainer)}})
        self.patch_policy({"metadata": {"annotations": {"modelship.io/retrain": "demo"}}})
        self.until(lambda _: self.run_of(2).get("outcome") in ("Rejected", "Failed", "Promoting"),
                   "the second run to end", timeout=120)  # fmt: skip
        run = self.run_of(2)
        claimed = (run.get("evaluation") or {}).get("trainerMetrics") or {}
        print(f"    run {run['name']}: {run['outcome']}: {run['message']}\n"
              f"      the trainer claimed accuracy {claimed.get('accuracy')}; the evaluation "
              f"measured {run['metrics']['accuracy']:.3f}")  # fmt: skip
        served = self.mds.get("fraud")["spec"]["model"]["version"]
        print(f"    never deployed: the ModelDeployment still serves {served}")

    def report(self) -> None:
        status = self.mds.status("fraud")
        print("\n    history of the ModelDeployment:")
        for entry in status["history"]:
            print(f"      {entry['modelVersion']:<5} {entry['revision']}  "
                  f"{entry['outcome']:<10} {entry.get('reason', '')}")  # fmt: skip
        print("    runs of the RetrainPolicy:")
        for run in (self.get("retrainpolicies", "fraud-retrain").get("status") or {})["runs"]:
            print(f"      {run['name']}  {run['trigger']:<6} {run['baseVersion']} -> "
                  f"{run['newVersion']:<5} {run['outcome']}")  # fmt: skip
        outcomes = self.revisions.traffic.outcomes
        ok = sum(c for (_, code), c in outcomes.items() if code == 200)
        print(f"\n    {sum(outcomes.values())} requests sent, {ok} answered 200")
        print(f"    kubectl --kubeconfig {self.cluster.kubeconfig} -n {NAMESPACE} "
              "get md,driftmonitor,retrainpolicy,job")  # fmt: skip
        print("    make demo-down stops the cluster")

    def run(self) -> None:
        self.setup()
        self.canaries()
        self.loop()
        self.rejected_retrain()
        self.report()
        self.stages.summary()

    def close(self) -> None:
        self.revisions.close()
        self.jobs.close()
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
