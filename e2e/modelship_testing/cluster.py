"""The local test substrate: a real Kubernetes control plane, KWOK fake nodes and Prometheus.

Every process binds 127.0.0.1 only and runs detached from the command that started it, so
`make cluster-up` returns while the cluster keeps running; its state (PKI, etcd data, logs,
process ids, ports, the admin kubeconfig) lives in `.cluster/` at the repository root and
`make cluster-down` stops every recorded process by its id and removes that directory.

Usage: python -m modelship_testing.cluster up|down|status|restart COMPONENT|stop COMPONENT
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("MODELSHIP_CLUSTER_DIR", REPO / ".cluster"))
CACHE = Path(os.environ.get("MODELSHIP_CACHE", Path.home() / ".cache" / "modelship"))
GO_MODULES = REPO / "e2e" / "cluster"

NODE_COUNT = int(os.environ.get("MODELSHIP_KWOK_NODES", "3"))
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"
# The components in start order; `up` starts and `down` stops them (in reverse).
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "prometheus",
)


# The API server writes an audit record (metadata only: who, verb, resource, response code) of
# every request a ServiceAccount of this namespace makes, to logs/audit.log. Tests run the
# operator as the Helm chart's ServiceAccount here and read back which permissions it used.
AUDITED_NAMESPACE = "modelship-system"
# Owner references that block deletion need `update` on the owner's finalizers, as on
# OpenShift and other hardened clusters, so the chart's finalizers rules are exercised.
ADMISSION_PLUGINS = "OwnerReferencesPermissionEnforcement"


class ClusterError(RuntimeError):
    """The local cluster could not be started or reached."""


def _module_version(module_dir: str, module: str) -> str:
    text = (GO_MODULES / module_dir / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", text, re.MULTILINE)
    if not match:
        raise ClusterError(f"{module} is not required by {module_dir}/go.mod")
    return match.group(1)


def kube_version() -> str:
    return _module_version("kubernetes", "k8s.io/kubernetes")


def health_key() -> str:
    """The key `build.sh` gives modelship-health: a hash of its module's own files."""
    folder = GO_MODULES / "health"
    files = [folder / "go.mod", folder / "go.sum", *sorted(folder.glob("*.go"))]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


def binary(name: str) -> Path:
    """Where `e2e/cluster/build.sh` puts a component's binary."""
    if name == "etcd":
        folder = f"etcd-{_module_version('etcd', 'go.etcd.io/etcd/server/v3')}"
    elif name == "kwok":
        folder = f"kwok-{_module_version('kwok', 'sigs.k8s.io/kwok')}"
    elif name == "helm":
        folder = f"helm-{_module_version('helm', 'helm.sh/helm/v3')}"
    elif name == "modelship-health":
        argocd = _module_version("health", "github.com/argoproj/argo-cd/v3")
        folder = f"health-{argocd}-{health_key()}"
    elif name == "prometheus":
        found = shutil.which("prometheus")
        if not found:
            raise ClusterError("prometheus is not installed: run `make system-deps`")
        return Path(found)
    else:
        folder = f"kubernetes-{kube_version()}"
    path = CACHE / folder / name
    if not path.exists():
        raise ClusterError(f"{path} is missing: run `make cluster-bin`")
    return path


def gateway_api_crds() -> Path:
    """The Gateway API CRDs (standard channel) that `build.sh` copies from the module."""
    version = _module_version("gateway-api", "sigs.k8s.io/gateway-api")
    path = CACHE / f"gateway-api-{version}" / "crds.yaml"
    if not path.exists():
        raise ClusterError(f"{path} is missing: run `make cluster-bin`")
    return path


def istio_crds() -> Path:
    """Istio's VirtualService CRD that `build.sh` cuts from the istio.io/api module."""
    version = _module_version("istio", "istio.io/api")
    path = CACHE / f"istio-api-{version}" / "crds.yaml"
    if not path.exists():
        raise ClusterError(f"{path} is missing: run `make cluster-bin`")
    return path


def prometheus_operator_crds() -> Path:
    """The Prometheus Operator's PodMonitor, ServiceMonitor and PrometheusRule CRDs, that
    `build.sh` copies from the prometheus-operator module."""
    module = "github.com/prometheus-operator/prometheus-operator"
    version = _module_version("prometheus-operator", module)
    path = CACHE / f"prometheus-operator-{version}" / "crds.yaml"
    if not path.exists():
        raise ClusterError(f"{path} is missing: run `make cluster-bin`")
    return path


def kwok_stages() -> Path:
    """KWOK's own stage definitions, as `build.sh` copied them from its module source."""
    return binary("kwok").parent / "stages.yaml"


# Pods carrying this label (value "true") have their container run as a local process by
# modelship_testing.jobs.JobRunner; KWOK's pod-complete stage leaves them alone.
RUN_LOCALLY_LABEL = "modelship.io/run-locally"


def harness_stages_text() -> str:
    """KWOK's stages with one change: `pod-complete` skips pods labelled
    modelship.io/run-locally=true, whose completion the JobRunner reports itself. Every
    other pod (and every other stage) behaves exactly as KWOK ships it."""
    import yaml  # here, so the rest of this module needs only the standard library

    class BlockDumper(yaml.SafeDumper):
        """Multi-line strings (KWOK's status templates) as literal blocks."""

    def block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    BlockDumper.add_representer(str, block_strings)
    stages: list[dict[str, Any]] = [
        doc for doc in yaml.safe_load_all(kwok_stages().read_text()) if doc
    ]
    exclusion = {
        "key": f'.metadata.labels["{RUN_LOCALLY_LABEL}"]',
        "operator": "NotIn",
        "values": ["true"],
    }
    found = False
    for stage in stages:
        if stage.get("metadata", {}).get("name") == "pod-complete":
            selector = stage["spec"].setdefault("selector", {})
            selector.setdefault("matchExpressions", []).append(exclusion)
            found = True
    if not found:
        raise ClusterError(f"{kwok_stages()} has no pod-complete stage")
    return yaml.dump_all(stages, Dumper=BlockDumper, sort_keys=False, explicit_start=True)


def harness_stages(folder: Path) -> Path:
    """Write the stages KWOK runs with into `folder`, named by their content's digest, so
    the path on a running kwok's command line tells which stages it loaded."""
    text = harness_stages_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = folder / f"stages-{digest}.yaml"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    """Run kubectl against a cluster; raise with its stderr when it fails."""
    result = subprocess.run(
        [str(binary("kubectl")), f"--kubeconfig={kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def wait_established(kubeconfig: str, crd: str, timeout: float = 60) -> None:
    """Wait until the API server serves a CRD. (`kubectl wait` fails instead of waiting
    while a brand-new CRD has no conditions yet.)"""
    condition = '{.status.conditions[?(@.type=="Established")].status}'
    wait_until(
        lambda: kubectl(kubeconfig, "get", f"crd/{crd}", "-o", f"jsonpath={condition}") == "True",
        timeout,
        f"CRD {crd} to be established",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - anything short of success means "not yet"
            pass
        time.sleep(0.2)
    tail = ""
    if log and log.exists():
        tail = (
            "\n--- last lines of "
            + str(log)
            + " ---\n"
            + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        )
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


@dataclass
class State:
    """What `up` recorded: ports and process ids. Persisted as .cluster/state.json."""

    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    folder: Path = STATE_DIR

    @classmethod
    def load(cls, folder: Path) -> State:
        path = folder / "state.json"
        if not path.exists():
            return cls(folder=folder)
        data = json.loads(path.read_text())
        return cls(ports=data.get("ports", {}), pids=data.get("pids", {}), folder=folder)

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / "state.json.tmp"
        tmp.write_text(json.dumps({"ports": self.ports, "pids": self.pids}, indent=2))
        tmp.replace(self.folder / "state.json")


def process_alive(pid: int, name: str) -> bool:
    """True when `pid` runs and is still the component we started (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and Path(cmdline).name == name


# --- certificates -------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(pki: Path) -> None:
    """A CA, the API server's serving certificate, an admin client certificate in
    system:masters, and the service-account signing key pair."""
    if (pki / "admin.crt").exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    days = "3650"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        days,
        "-keyout",
        str(pki / "ca.key"),
        "-out",
        str(pki / "ca.crt"),
        "-subj",
        "/CN=modelship-local-ca",
    )
    sans = (
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc"
    )
    for name, subject, ext in (
        ("apiserver", "/CN=kube-apiserver", sans),
        ("admin", "/O=system:masters/CN=modelship-admin", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(pki / f"{name}.key"),
            "-out",
            str(pki / f"{name}.csr"),
            "-subj",
            subject,
        )
        extfile = pki / f"{name}.ext"
        extfile.write_text(ext + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            str(pki / f"{name}.csr"),
            "-CA",
            str(pki / "ca.crt"),
            "-CAkey",
            str(pki / "ca.key"),
            "-CAcreateserial",
            "-days",
            days,
            "-out",
            str(pki / f"{name}.crt"),
            "-extfile",
            str(extfile),
        )
    _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def write_kubeconfig(path: Path, pki: Path, server: str) -> None:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "modelship-local",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": "modelship-admin",
                "user": {
                    "client-certificate-data": b64("admin.crt"),
                    "client-key-data": b64("admin.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": "modelship-local",
                "context": {"cluster": "modelship-local", "user": "modelship-admin"},
            }
        ],
        "current-context": "modelship-local",
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))  # JSON is valid YAML
    tmp.chmod(0o600)
    tmp.replace(path)


# --- the cluster --------------------------------------------------------------------------


class LocalCluster:
    """Start, reuse and stop the local control plane. Idempotent."""

    def __init__(self, state_dir: Path = STATE_DIR) -> None:
        self.dir = state_dir
        self.pki = state_dir / "pki"
        self.logs = state_dir / "logs"
        self.kubeconfig = state_dir / "kubeconfig"
        self.state = State.load(state_dir)

    # paths and endpoints
    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.state.ports['kube-apiserver']}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.state.ports['prometheus']}"

    @property
    def prometheus_targets_dir(self) -> Path:
        return self.dir / "prometheus" / "targets"

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    def apiserver_audits(self) -> bool:
        """True when the running API server writes the audit log and enforces owner
        references (one started by an older harness does neither)."""
        pid = self.state.pids.get("kube-apiserver")
        if pid is None or not self.running("kube-apiserver"):
            return False
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            return False
        return f"--audit-log-path={self.audit_log}" in argv and (
            f"--enable-admission-plugins={ADMISSION_PLUGINS}" in argv
        )

    def audit_outdated_message(self) -> str:
        return (
            "the kube-apiserver was started without the audit log and owner-reference "
            "enforcement this harness sets today; restart it (objects keep their state): "
            "PYTHONPATH=e2e .venv/bin/python -m modelship_testing.cluster restart kube-apiserver"
        )

    def running(self, name: str) -> bool:
        pid = self.state.pids.get(name)
        return pid is not None and process_alive(pid, binary(name).name)

    def kwok_stages_current(self) -> bool:
        """True when the running kwok loaded the stages this harness writes today (a kwok
        started by an older harness still completes run-locally Job pods itself)."""
        pid = self.state.pids.get("kwok")
        if pid is None or not self.running("kwok"):
            return False
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            return False
        return f"--config={harness_stages(self.dir / 'kwok')}" in argv

    def kwok_outdated_message(self) -> str:
        return (
            "kwok runs with stages that predate the run-locally exclusion, so it would "
            "complete JobRunner pods itself; restart kwok alone (pods and nodes keep their "
            "state): PYTHONPATH=e2e .venv/bin/python -m modelship_testing.cluster restart kwok"
        )

    # lifecycle
    def up(self) -> None:
        if self.running("etcd") and self._apiserver_ready():
            missing = [c for c in COMPONENTS if not self.running(c)]
            for name in missing:  # e.g. Prometheus, stopped by an outage test
                self.start(name)
            print(
                f"local cluster already running: {self.kubeconfig}"
                + (f" (restarted {', '.join(missing)})" if missing else "")
            )
            if not self.kwok_stages_current():
                print(f"note: {self.kwok_outdated_message()}")
            return
        if self.state.pids:
            print("local cluster is partly running: restarting it")
            self.down()
            self.state = State(folder=self.dir)
        started = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        make_pki(self.pki)
        for name in (
            "etcd",
            "etcd-peer",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
            "prometheus",
        ):
            self.state.ports.setdefault(name, free_port())
        self.state.save()
        write_kubeconfig(self.kubeconfig, self.pki, self.apiserver_url)
        for name in COMPONENTS:
            self.start(name)
        self._create_nodes()
        self._wait_nodes_ready()
        wait_until(self._default_service_account_exists, 60, "the default ServiceAccount")
        print(f"local cluster up in {time.monotonic() - started:.1f}s")
        print(f"  kubeconfig: {self.kubeconfig}")
        print(f"  API server: {self.apiserver_url}")
        print(f"  Prometheus: {self.prometheus_url}")

    def down(self) -> None:
        for name in reversed(COMPONENTS):
            self.stop(name)
        if self.dir.exists():
            shutil.rmtree(self.dir)
        print("local cluster stopped and its state removed")

    def start(self, name: str) -> None:
        if self.running(name):
            return
        argv = self._argv(name)
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.log_path(name).open("ab")
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.dir,
        )
        log.close()
        self.state.pids[name] = proc.pid
        self.state.save()
        wait_until(self._ready_check(name), 120, f"{name} to become ready", self.log_path(name))

    def stop(self, name: str, timeout: float = 15) -> None:
        pid = self.state.pids.pop(name, None)
        if pid is None:
            return
        if process_alive(pid, binary(name).name):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while process_alive(pid, binary(name).name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if process_alive(pid, binary(name).name):
                os.kill(pid, signal.SIGKILL)
        # reap it if it is our own child (tests restart components in-process)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if self.dir.exists():
            self.state.save()

    # component command lines
    def _argv(self, name: str) -> list[str]:
        p, pki, kc = self.state.ports, self.pki, str(self.kubeconfig)
        exe = str(binary(name))
        if name == "etcd":
            client, peer = f"http://127.0.0.1:{p['etcd']}", f"http://127.0.0.1:{p['etcd-peer']}"
            return [
                exe,
                "--name=modelship",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=modelship={peer}",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
            ]
        if name == "kube-apiserver":
            return [
                exe,
                f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p['kube-apiserver']}",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                f"--enable-admission-plugins={ADMISSION_PLUGINS}",
                f"--audit-policy-file={self._audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=200",
                "--audit-log-maxbackup=2",
                "--allow-privileged=true",
                "--max-requests-inflight=2000",
                "--max-mutating-requests-inflight=1000",
                "--profiling=false",
                "--v=1",
            ]
        if name == "kube-controller-manager":
            return [
                exe,
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p['kube-controller-manager']}",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=false",
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
                "--concurrent-deployment-syncs=20",
                "--concurrent-replicaset-syncs=20",
                "--profiling=false",
                "--v=1",
            ]
        if name == "kube-scheduler":
            return [
                exe,
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p['kube-scheduler']}",
                "--leader-elect=false",
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
                "--profiling=false",
                "--v=1",
            ]
        if name == "kwok":
            return [
                exe,
                f"--kubeconfig={kc}",
                f"--config={harness_stages(self.dir / 'kwok')}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{p['kwok']}",
            ]
        if name == "prometheus":
            config = self._prometheus_config()
            return [
                exe,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{p['prometheus']}",
                f"--storage.tsdb.path={self.dir / 'prometheus' / 'data'}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ]
        raise ClusterError(f"unknown component {name}")

    def _audit_policy(self) -> Path:
        """Metadata of requests by AUDITED_NAMESPACE's ServiceAccounts (a watch is recorded
        as it starts and as it ends); nothing of anyone else."""
        path = self.dir / "audit-policy.yaml"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "audit.k8s.io/v1",
                    "kind": "Policy",
                    "omitStages": ["RequestReceived"],
                    "rules": [
                        {
                            "level": "Metadata",
                            "userGroups": [f"system:serviceaccounts:{AUDITED_NAMESPACE}"],
                        },
                        {"level": "None"},
                    ],
                },
                indent=2,
            )
        )
        return path

    def _prometheus_config(self) -> Path:
        """Scrape every second whatever target files tests drop into targets/ (file SD)."""
        folder = self.dir / "prometheus"
        self.prometheus_targets_dir.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        interval = os.environ.get("MODELSHIP_SCRAPE_INTERVAL", "1s")
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": interval, "evaluation_interval": interval},
                    "scrape_configs": [
                        {
                            "job_name": "modelship",
                            "file_sd_configs": [
                                {
                                    "files": [str(self.prometheus_targets_dir / "*.json")],
                                    "refresh_interval": "1s",
                                }
                            ],
                        }
                    ],
                },
                indent=2,
            )
        )
        return config

    # readiness
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def _get(self, url: str, tls: bool = False) -> int:
        # Controller-manager and scheduler serve self-signed health endpoints: only liveness
        # matters there, so their certificates are not verified.
        ctx = self._ssl_context() if tls else ssl._create_unverified_context()
        with urllib.request.urlopen(url, timeout=2, context=ctx) as response:
            return int(response.status)

    def _apiserver_ready(self) -> bool:
        try:
            return self._get(f"{self.apiserver_url}/readyz", tls=True) == 200
        except Exception:  # noqa: BLE001
            return False

    def _ready_check(self, name: str) -> Callable[[], bool]:
        def alive() -> bool:
            if not self.running(name):
                raise ClusterError(f"{name} exited; see {self.log_path(name)}")
            return True

        if name == "etcd":
            return lambda: (
                alive() and self._get(f"http://127.0.0.1:{self.state.ports['etcd']}/health") == 200
            )
        if name == "kube-apiserver":
            return lambda: alive() and self._apiserver_ready()
        if name == "prometheus":
            return lambda: alive() and self._get(f"{self.prometheus_url}/-/ready") == 200
        if name in ("kube-controller-manager", "kube-scheduler"):
            port = self.state.ports[name]
            return lambda: alive() and self._get(f"https://127.0.0.1:{port}/healthz") == 200
        return alive

    # nodes
    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return kubectl(str(self.kubeconfig), *args, stdin=stdin)

    def _create_nodes(self) -> None:
        nodes = [self._node_manifest(i) for i in range(NODE_COUNT)]
        self.kubectl(
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}),
        )

    @staticmethod
    def _node_manifest(index: int) -> dict[str, object]:
        name = f"kwok-node-{index}"
        resources = {"cpu": "64", "memory": "256Gi", "pods": "1000"}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "topology.kubernetes.io/zone": f"zone-{index % 3}",
                },
            },
            "status": {"allocatable": resources, "capacity": resources},
        }

    def _ready_node_count(self) -> int:
        out = json.loads(self.kubectl("get", "nodes", "-o", "json"))
        ready = 0
        for node in out["items"]:
            for cond in node.get("status", {}).get("conditions", []):
                if cond["type"] == "Ready" and cond["status"] == "True":
                    ready += 1
        return ready

    def _wait_nodes_ready(self) -> None:
        wait_until(
            lambda: self._ready_node_count() >= NODE_COUNT,
            60,
            f"{NODE_COUNT} Ready KWOK nodes",
            self.log_path("kwok"),
        )

    def _default_service_account_exists(self) -> bool:
        self.kubectl("get", "serviceaccount", "default", "-n", "default")
        return True

    def status(self) -> str:
        lines = []
        for name in COMPONENTS:
            pid = self.state.pids.get(name)
            state = "running" if self.running(name) else "stopped"
            port = self.state.ports.get(name, "-")
            lines.append(f"{name:<24} {state:<8} pid={pid or '-':<8} port={port}")
        if self.kubeconfig.exists():
            lines.append(f"kubeconfig: {self.kubeconfig}")
        return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "down", "status", "stop", "start", "restart"}:
        print(__doc__)
        return 2
    cluster = LocalCluster()
    try:
        if argv[0] == "up":
            cluster.up()
        elif argv[0] == "down":
            cluster.down()
        elif argv[0] == "status":
            print(cluster.status())
        else:
            for name in argv[1:]:
                if argv[0] in {"stop", "restart"}:
                    cluster.stop(name)
                if argv[0] in {"start", "restart"}:
                    cluster.start(name)
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
