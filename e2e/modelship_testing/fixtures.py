"""pytest fixtures for tests that use the real control plane, Prometheus and the operator.

Loaded by the repository's root conftest.py. By default they use the local cluster
(`make cluster-up`, started on demand here too); with MODELSHIP_EXTERNAL_CLUSTER=1 they use
whatever cluster KUBECONFIG points at (kind, k3d, a cloud cluster) and only start Prometheus.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest
from kubernetes import client, config

from modelship_testing.chart import operator_identity
from modelship_testing.cluster import (
    REPO,
    LocalCluster,
    free_port,
    gateway_api_crds,
    istio_crds,
    kubectl,
    wait_established,
)
from modelship_testing.cluster import prometheus_operator_crds as prometheus_operator_crds_file
from modelship_testing.jobs import JobRunner
from modelship_testing.objects import release_finalizers
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.receiver import Receiver
from modelship_testing.retraining import Loop
from modelship_testing.revisions import ServedRevisions
from modelship_testing.serving import TrainedModel, train_fraud_model
from modelship_testing.stands import DriftStand, RetrainLoop, stand_for
from modelship_testing.waiters import diagnostic, wait_for

EXTERNAL = os.environ.get("MODELSHIP_EXTERNAL_CLUSTER") == "1"
# Who the operator acts as: "chart" (the Helm chart's ServiceAccount, with exactly the
# chart's RBAC) or "admin" (the test kubeconfig's own credentials).
OPERATOR_IDENTITIES = ("chart", "admin")
OPERATOR_IDENTITY = os.environ.get("MODELSHIP_TEST_OPERATOR_IDENTITY", "chart")
if OPERATOR_IDENTITY not in OPERATOR_IDENTITIES:
    raise ValueError(
        f"MODELSHIP_TEST_OPERATOR_IDENTITY={OPERATOR_IDENTITY!r}: use one of {OPERATOR_IDENTITIES}"
    )


SESSION_STARTED = datetime.now(UTC)
# Test id -> True when every phase of it (setup, call, teardown) passed in this session.
OUTCOMES: dict[str, bool] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    OUTCOMES[report.nodeid] = OUTCOMES.get(report.nodeid, True) and report.passed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `after_operator_suites` read what the operator suites did: run them last."""
    items.sort(key=lambda item: item.get_closest_marker("after_operator_suites") is not None)


def passed_in_session(session: pytest.Session, files: tuple[str, ...]) -> bool:
    """True when this session ran tests of every file in `files` and each of them passed."""
    ran = [item for item in session.items if item.path.name in files]
    return {item.path.name for item in ran} == set(files) and all(
        OUTCOMES.get(item.nodeid) for item in ran
    )


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """The local control plane (reused when already up), or a Prometheus-only harness."""
    if EXTERNAL:
        harness = LocalCluster(Path(tempfile.mkdtemp(prefix="modelship-prom-")))
        yield harness
        harness.down()
        return
    cluster = LocalCluster()
    cluster.up()
    yield cluster


@pytest.fixture(scope="session")
def kubeconfig(local_cluster: LocalCluster) -> str:
    if EXTERNAL:
        path = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
        return path.split(os.pathsep)[0]
    return str(local_cluster.kubeconfig)


@pytest.fixture(scope="session")
def k8s_api(kubeconfig: str) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(config_file=kubeconfig)
    return api


@pytest.fixture(scope="session")
def crds(kubeconfig: str) -> list[str]:
    """Install modelship's CRDs (crds/*.yaml) and wait until the API server serves them."""
    files = sorted((REPO / "crds").glob("*.yaml"))
    if not files:
        pytest.fail("crds/ holds no CRDs: run `make crds`")
    names = []
    for path in files:
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(path))
        names.append(
            json.loads(
                kubectl(kubeconfig, "create", "--dry-run=client", "-o", "json", "-f", str(path))
            )["metadata"]["name"]
        )
    for name in names:
        wait_established(kubeconfig, name)
    return names


@pytest.fixture(scope="session")
def gateway_api(kubeconfig: str) -> None:
    """The real Gateway API CRDs, installed in the cluster."""
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(gateway_api_crds()))
    wait_established(kubeconfig, "httproutes.gateway.networking.k8s.io")


@pytest.fixture(scope="session")
def istio(kubeconfig: str) -> None:
    """Istio's real VirtualService CRD, installed in the cluster (no mesh data plane)."""
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(istio_crds()))
    wait_established(kubeconfig, "virtualservices.networking.istio.io")


@pytest.fixture(scope="session")
def prometheus_operator_crds(kubeconfig: str) -> None:
    """The Prometheus Operator's real PodMonitor, ServiceMonitor and PrometheusRule CRDs,
    installed in the cluster (no Prometheus Operator runs)."""
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(prometheus_operator_crds_file()))
    for crd in ("podmonitors", "servicemonitors", "prometheusrules"):
        wait_established(kubeconfig, f"{crd}.monitoring.coreos.com")


def _events(api: client.ApiClient, namespace: str) -> str:
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    events.sort(
        key=lambda e: str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
    )
    return "\n".join(
        f"{e.type:<8} {e.reason:<20} {e.involved_object.kind}/{e.involved_object.name}: {e.message}"
        for e in events[-40:]
    )


@pytest.fixture
def namespace(k8s_api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards; its Events join any wait's report."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"t-{stem}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(k8s_api)
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"modelship.io/test": "true"})
        )
    )
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        timeout=30,
        describe=f"the default ServiceAccount in {name}",
    )
    with diagnostic(f"events in {name}", lambda: _events(k8s_api, name)):
        yield name
    release_finalizers(k8s_api, name)
    core.delete_namespace(name, propagation_policy="Background")


class OperatorProcess:
    """`modelship operator` running as a subprocess against the test cluster."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv, self.env, self.log_path = argv, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
            )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it lingers."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class OperatorFactory(Protocol):
    def __call__(
        self,
        namespaces: list[str] | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> OperatorProcess: ...


@pytest.fixture
def operator(
    kubeconfig: str, tmp_path: Path, local_cluster: LocalCluster
) -> Iterator[OperatorFactory]:
    """Factory: start `modelship operator` for the given namespaces; stopped after the test.
    It acts as the Helm chart's ServiceAccount unless MODELSHIP_TEST_OPERATOR_IDENTITY=admin."""
    started: list[OperatorProcess] = []
    with ExitStack() as stack:

        def run(
            namespaces: list[str] | None = None,
            extra_args: list[str] | None = None,
            env: dict[str, str] | None = None,
        ) -> OperatorProcess:
            argv = [sys.executable, "-m", "modelship.cli", "operator", "--standalone"]
            for ns in namespaces or []:
                argv += ["--namespace", ns]
            argv += extra_args or []
            credentials = kubeconfig
            if OPERATOR_IDENTITY == "chart":
                peering = any(
                    arg == "--peering" or arg.startswith("--peering=") for arg in extra_args or []
                )
                credentials = str(
                    operator_identity(kubeconfig, namespaces or [], peering, tmp_path)
                )
            full_env = {**os.environ, "KUBECONFIG": credentials, "PYTHONUNBUFFERED": "1"}
            if "prometheus" in local_cluster.state.ports:
                full_env.setdefault("MODELSHIP_PROMETHEUS_URL", local_cluster.prometheus_url)
            full_env.update(env or {})
            handle = OperatorProcess(argv, full_env, tmp_path / f"operator-{len(started)}.log")
            started.append(handle)
            stack.enter_context(diagnostic(f"operator log (pid {handle.pid})", handle.log_tail))
            return handle

        try:
            yield run
        finally:
            for handle in started:
                handle.stop()


@pytest.fixture
def job_runner(
    k8s_api: client.ApiClient, namespace: str, tmp_path: Path, local_cluster: LocalCluster
) -> Iterator[JobRunner]:
    """Runs the container of `namespace`'s Job pods labelled modelship.io/run-locally=true as
    local processes and reports their exit into the pods; stopped (processes killed) after
    the test. On a cluster with real nodes the kubelet runs them: the runner stays idle and
    `log()` reads the logs API."""
    runner = JobRunner(k8s_api, [namespace], tmp_path / "jobs")
    if EXTERNAL:
        yield runner
        return
    if not local_cluster.kwok_stages_current():
        pytest.fail(local_cluster.kwok_outdated_message())
    with runner, diagnostic(f"job runner in {namespace}", runner.summary):
        yield runner


@pytest.fixture(scope="session")
def prometheus(local_cluster: LocalCluster) -> PrometheusHandle:
    """The real Prometheus, scraping targets that tests add with `add_target`."""
    if EXTERNAL:
        local_cluster.dir.mkdir(parents=True, exist_ok=True)
        local_cluster.state.ports.setdefault("prometheus", free_port())
        local_cluster.start("prometheus")
    return PrometheusHandle(local_cluster)


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """The fraud classifier and its reference profile, trained once for every test that
    serves it (servers only add their logs to its folder)."""
    return train_fraud_model(tmp_path_factory.mktemp("fraud-model"))


@pytest.fixture
def loop(k8s_api: client.ApiClient, namespace: str, model: TrainedModel, tmp_path: Path,
         job_runner: JobRunner, kubeconfig: str) -> Loop:  # fmt: skip
    """A served ModelDeployment and a RetrainPolicy whose Jobs run the reference trainer
    here (`job_runner`)."""
    return Loop(k8s_api, namespace, model, tmp_path, kubeconfig)


@pytest.fixture
def revisions(namespace: str, prometheus: PrometheusHandle) -> Iterator[ServedRevisions]:
    """Reference servers standing in for revisions' pods, with live traffic; stopped after
    the test."""
    served = ServedRevisions(prometheus, namespace)
    with diagnostic("reference servers", served.logs):
        try:
            yield served
        finally:
            served.close()


@pytest.fixture
def private_prometheus(tmp_path: Path) -> Iterator[PrometheusHandle]:
    """A Prometheus of this test's own, for tests that stop it (an outage) without
    disturbing any other test that shares the cluster's Prometheus."""
    harness = LocalCluster(tmp_path / "prometheus-harness")
    harness.dir.mkdir(parents=True)
    harness.state.ports["prometheus"] = free_port()
    harness.start("prometheus")
    try:
        yield PrometheusHandle(harness)
    finally:
        harness.stop("prometheus")


@pytest.fixture
def stand(
    k8s_api: client.ApiClient, namespace: str, model: TrainedModel, prometheus: PrometheusHandle
) -> Iterator[DriftStand]:
    """A served ModelDeployment with live traffic and a DriftMonitor (`DriftStand.start`)."""
    yield from stand_for(k8s_api, namespace, model, prometheus)


@pytest.fixture
def retrain_loop(
    k8s_api: client.ApiClient,
    namespace: str,
    model: TrainedModel,
    tmp_path: Path,
    job_runner: JobRunner,
) -> RetrainLoop:
    """A served ModelDeployment, a DriftMonitor and a RetrainPolicy running the reference
    trainer on drift (`RetrainLoop.start`)."""
    return RetrainLoop(k8s_api, namespace, model, tmp_path)


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    """A notification receiver on loopback, recording every JSON body posted to it."""
    with Receiver() as receiver, diagnostic("webhook receiver", receiver.summary):
        yield receiver
