"""A served ModelDeployment and a RetrainPolicy whose Jobs run the reference trainer (as
local processes, through the JobRunner): what the retraining integration tests share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kubernetes import client

from modelship_testing.cluster import REPO, RUN_LOCALLY_LABEL
from modelship_testing.objects import ModelDeployments
from modelship_testing.serving import TrainedModel, fraud_data
from modelship_testing.waiters import diagnostic, wait_for

if TYPE_CHECKING:  # fixtures imports this module for its `loop` fixture
    from modelship_testing.fixtures import OperatorFactory, OperatorProcess

GROUP, VERSION, PLURAL = "modelship.io", "v1alpha1", "retrainpolicies"
TRAINER = REPO / "examples" / "trainer" / "train.py"
EVALUATOR = REPO / "examples" / "trainer" / "evaluate.py"
POLICY = "fraud-retrain"
# A held process waits for this file before it execs the real one: the test decides when a
# Job ends, without the trainer knowing (the wait is the Job's, not the test's).
HOLD = 'while [ ! -e "$MODELSHIP_TEST_RELEASE" ]; do sleep 0.1; done; exec "$@"'


def container(name: str, script: Path, args: list[str], release: Path | None = None
              ) -> dict[str, Any]:  # fmt: skip
    """A container running `script` with the harness's interpreter; with `release`, it
    starts only once that file exists."""
    if release is None:
        return {"name": name, "image": "modelship-trainer:dev",
                "command": ["python", str(script)], "args": args}  # fmt: skip
    return {
        "name": name,
        "image": "modelship-trainer:dev",
        "command": ["sh", "-c", HOLD, "held", sys.executable, str(script)],
        "args": args,
        "env": [{"name": "MODELSHIP_TEST_RELEASE", "value": str(release)}],
    }


def job_template(*containers: dict[str, Any]) -> dict[str, Any]:
    pod = {"metadata": {"labels": {RUN_LOCALLY_LABEL: "true"}},
           "spec": {"containers": list(containers)}}  # fmt: skip
    return {"template": {"spec": {"template": pod}}}


class Loop:
    """A served ModelDeployment `fraud` and the RetrainPolicy `fraud-retrain`."""

    def __init__(self, api: client.ApiClient, namespace: str, model: TrainedModel,
                 work: Path, kubeconfig: str = "") -> None:  # fmt: skip
        self.namespace, self.model, self.work = namespace, model, work
        self.kubeconfig = kubeconfig
        """For commands a person runs against the cluster (`modelship lineage`)."""
        self.mds = ModelDeployments(api, namespace)
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.data = work / "fresh.csv"
        self.release_file = work / "release"

    def deploy(self, operator: OperatorFactory, env: dict[str, str] | None = None,
               **md: Any) -> OperatorProcess:  # fmt: skip
        """The operator, and version 1 of the model serving (Healthy); `md` adds to the
        ModelDeployment's spec (a strategy, analysis)."""
        profile = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="fraud-profile"),
            data={"profile.json": self.model.profile_path.read_text()},
        )
        self.core.create_namespaced_config_map(self.namespace, profile)
        fraud_data(rows=2000, seed=11).to_csv(self.data, index=False)
        process = operator(namespaces=[self.namespace], env=env)
        model = {"name": "fraud", "version": "1", "uri": f"file://{self.model.directory}/",
                 "profileRef": {"configMap": "fraud-profile"}}  # fmt: skip
        self.mds.create("fraud", {"model": model, "serving": {"replicas": 1}, **md})
        self.mds.wait_phase("fraud", "Healthy")
        return process

    def trainer_args(self, fault: str | None = None) -> list[str]:
        args = ["--data", str(self.data), "--target", "fraud", "--seed", "3"]
        return [*args, "--fault", fault] if fault else args

    def trainer(self, fault: str | None = None, held: bool = False) -> dict[str, Any]:
        return container("train", TRAINER, self.trainer_args(fault),
                         self.release_file if held else None)  # fmt: skip

    def create_policy(self, trainer: dict[str, Any] | None = None, **spec: Any
                      ) -> dict[str, Any]:  # fmt: skip
        """The policy (manual runs, promotion auto, cooldown 0s unless `spec` says
        otherwise); waits until it watches its triggers, and returns the status that said so."""
        compare = [{"metric": "accuracy", "direction": "higherIsBetter", "maxRegression": 0.05}]
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RetrainPolicy",
            "metadata": {"name": POLICY},
            "spec": {
                "modelDeploymentRef": "fraud",
                "cooldown": "0s",
                "job": job_template(trainer or self.trainer()),
                "output": {"uri": f"file://{self.work}/models/{{version}}/"},
                "validation": {"minMetrics": {"accuracy": 0.6}, "compare": compare},
                "promotion": "auto",
                **spec,
            },
        }
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
        watching: list[dict[str, Any]] = []

        def ready(status: dict[str, Any]) -> bool:
            if status.get("phase") in ("Idle", "CoolingDown"):
                watching.append(status)
            return bool(watching)

        self.wait(ready, "the policy to watch its triggers")
        return watching[0]

    def start(self, operator: OperatorFactory, fault: str | None = None,
              target: str = "spec") -> OperatorProcess:  # fmt: skip
        """Deploy, and a policy promoting into `target` (spec or policyStatus)."""
        process = self.deploy(operator)
        self.create_policy(self.trainer(fault), promotionTarget=target)
        return process

    def release(self) -> None:
        """Let held processes (trainer, evaluator) run."""
        self.release_file.touch()

    def status(self) -> dict[str, Any]:
        found = cast(dict[str, Any], self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, POLICY
        ))  # fmt: skip
        return dict(found.get("status") or {})

    def wait(self, check: Callable[[dict[str, Any]], Any], describe: str,
             timeout: float = 90) -> dict[str, Any]:  # fmt: skip
        with diagnostic("RetrainPolicy status", lambda: str(self.status())):
            wait_for(lambda: check(self.status()), timeout=timeout, describe=describe)
        return self.status()

    def retrain(self, value: str = "1") -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, POLICY,
            {"metadata": {"annotations": {"modelship.io/retrain": value}}},
        )  # fmt: skip

    def ended(self, outcome: str, timeout: float = 120) -> dict[str, Any]:
        """The newest run, once it is `outcome`."""

        def done(status: dict[str, Any]) -> bool:
            runs = status.get("runs") or []
            return bool(runs) and runs[0].get("outcome") == outcome

        return dict(self.wait(done, f"the run to end {outcome}", timeout)["runs"][0])

    def jobs(self) -> list[str]:
        listed = self.batch.list_namespaced_job(
            self.namespace, label_selector=f"modelship.io/retrain-policy={POLICY}"
        )
        return sorted(str(j.metadata.name) for j in listed.items)

    def job_finished(self, name: str) -> bool:
        job = self.batch.read_namespaced_job(name, self.namespace)
        conditions = (job.status.conditions if job.status else None) or []
        return any(c.type in ("Complete", "Failed") and c.status == "True" for c in conditions)

    def events(self, name: str = POLICY) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about `name` (the policy by default)."""
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return [(str(e.type), str(e.reason), str(e.message)) for e in listed.items]
