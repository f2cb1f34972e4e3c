r"""Serving benchmark: modelship beside MLServer, KServe and BentoML, and the HTTP floor.

Trains a small LogisticRegression (8 numeric features), writes its reference profile, and
serves it, all at once, with:

- `modelship serve` (metrics contract on: feature, prediction and latency histograms), with 1
  worker process and with `--workers 2`;
- MLServer + mlserver-sklearn in three configurations (its metrics on, as by default);
- KServe's Python model server (the `kserve` package, apps/kserve_model.py: a `kserve.Model`
  that does what KServe's sklearnserver does);
- BentoML (apps/bento_service.py: a `@bentoml.service` taking the same v2 body);
- the floor: modelship's HTTP stack (Starlette + the same uvicorn options) with a no-op POST
  route (apps/noop_app.py), so the report says how close /infer is to HTTP itself;

and drives each with wrk (the same v2 body, batch size 1) at 1, 8 and 32 connections.

Each peer lives in its own virtualenv under $MODELSHIP_CACHE/bench-venvs (default
~/.cache/modelship), keyed by its pinned requirements, made from PyPI on first use, so their
pins never touch the project's: MLSERVER, KSERVE and BENTOML below (each with the project's
scikit-learn version; MLServer also with uvloop<0.22: its inference workers crash with newer
uvloop, "There is no current event loop"). Needs `wrk` (apt-get install wrk).

All servers run at once and are measured in interleaved rounds (every server in turn, per
connection count), so load from other processes on a shared machine hits them alike; the load
average is printed before and after, and with every round.

Then the explanation cost per row of each SHAP explainer (explain_cost.py), unless
--skip-explain.

Usage: .venv/bin/python bench/serving/run.py [--duration 5] [--rounds 3] [--connections 1 8 32]
       [--only modelship kserve ...]
Results: tables and ratios on stdout and bench/results/serving-<time>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import explain_cost
import joblib
import numpy as np
import pandas as pd
from modelship.profile.build import ProfileOptions, build_profile
from sklearn.linear_model import LogisticRegression

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
CACHE = Path(os.environ.get("MODELSHIP_CACHE", Path.home() / ".cache" / "modelship"))
VENVS = CACHE / "bench-venvs"
MLSERVER = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"]
KSERVE = ["kserve==0.21.0"]
BENTOML = ["bentoml==1.4.40"]
RESULTS = REPO / "bench" / "results"
FEATURES = [f"f{i}" for i in range(8)]
MODEL = "bench"

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%(body)s]]
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%f, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + non2xx
      + summary.errors.timeout))
end
"""


@dataclass
class Measurement:
    server: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def requirements(pins: list[str]) -> list[str]:
    """A peer's pins plus the project's scikit-learn (the same model file loads in each)."""
    import sklearn

    return [*pins, f"scikit-learn=={sklearn.__version__}", "joblib"]


def ensure_venv(name: str, pins: list[str]) -> Path:
    """The python of a cached virtualenv with `pins` (plus scikit-learn), made on first use.

    Keyed by the requirements, so a new pin makes a new virtualenv; built under a temporary
    name and renamed when complete, so an interrupted install is never taken for a cache hit.
    """
    wanted = requirements(pins)
    key = hashlib.sha256(" ".join([sys.version.split()[0], *wanted]).encode()).hexdigest()[:10]
    home = VENVS / f"{name}-{key}"
    python = home / "bin" / "python"
    if not python.exists():
        print(f"creating {home} ({' '.join(wanted)}), once", flush=True)
        partial = home.with_name(home.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(partial)], check=True)
        subprocess.run([str(partial / "bin" / "python"), "-m", "pip", "install", "-q", *wanted],
                       check=True)  # fmt: skip
        partial.rename(home)  # shebangs now point nowhere: run scripts as `python bin/<script>`
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(workdir: Path) -> tuple[Path, Path, list[float]]:
    rng = np.random.default_rng(7)
    data = pd.DataFrame(rng.normal(size=(2000, len(FEATURES))), columns=FEATURES)
    data["label"] = (data["f0"] + 0.5 * data["f1"] - data["f2"] > 0).astype(int)
    model = LogisticRegression().fit(data[FEATURES].to_numpy(), data["label"])
    model_path = workdir / "model.joblib"
    joblib.dump(model, model_path)
    profile = build_profile(data, ProfileOptions(target="label"))
    profile_path = workdir / "profile.json"
    profile_path.write_text(profile.to_json())
    return model_path, profile_path, [float(v) for v in data[FEATURES].iloc[0]]


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


@contextmanager
def running(argv: list[str], ready_url: str, log: Path, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env={**os.environ, **(env or {})},
                                start_new_session=True)  # fmt: skip
    try:
        wait_ready(ready_url, proc)
        yield proc
    finally:
        if proc.poll() is None:  # the whole session: MLServer forks its workers
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wrk(url: str, body: str, connections: int, duration: int, script_dir: Path) -> dict[str, float]:
    script = script_dir / "post.lua"
    script.write_text(WRK_SCRIPT % {"body": body})
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
            "-s", str(script), url]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    return result


@dataclass
class Target:
    name: str
    url: str
    rounds: list[dict[str, float]]


def aggregate(target: Target, connections: int) -> Measurement:
    """Throughput over all rounds; p50/p99 are the median of the rounds' (robust to one burst
    of noise from other processes on a shared machine)."""
    runs = [r for r in target.rounds if r["connections"] == connections]
    rps = sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs)
    p50 = float(np.median([r["p50_us"] for r in runs])) / 1000
    p99 = float(np.median([r["p99_us"] for r in runs])) / 1000
    return Measurement(target.name, connections, rps, p50, p99, int(sum(r["errors"] for r in runs)))


def measure_all(targets: list[Target], body: str, args: argparse.Namespace, workdir: Path,
                ) -> list[Measurement]:  # fmt: skip
    """Interleave: for each connection count and round, every server in turn, so a burst of
    load from elsewhere hits all servers alike instead of whichever ran at the time."""
    for target in targets:
        wrk(target.url, body, 8, 2, workdir)  # warm-up
    for connections in args.connections:
        for round_number in range(args.rounds):
            for target in targets:
                result = wrk(target.url, body, connections, args.duration, workdir)
                target.rounds.append({**result, "connections": connections,
                                      "loadavg_1m": os.getloadavg()[0]})  # fmt: skip
                rps = result["requests"] / result["seconds"]
                print(f"  round {round_number + 1} c={connections:<3} {target.name:<56} "
                      f"{rps:7.0f} req/s p50 {result['p50_us'] / 1000:6.2f} ms "
                      f"p99 {result['p99_us'] / 1000:6.2f} ms "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    return [aggregate(t, c) for c in args.connections for t in targets]


@contextmanager
def modelship_server(workdir: Path, model: Path, profile: Path, workers: int = 1,
                     ) -> Iterator[Target]:  # fmt: skip
    port = free_port()
    argv = [sys.executable, "-m", "modelship.cli", "serve", "--model-uri", f"file://{model}",
            "--model-name", MODEL, "--model-version", "1", "--revision", "bench",
            "--profile", str(profile), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    if workers > 1:
        argv += ["--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    label = f"modelship ({workers} worker{'s' if workers > 1 else ''})"
    with running(argv, f"{base}/v2/health/ready", workdir / f"modelship-{workers}.log"):
        yield Target(label, f"{base}/v2/models/{MODEL}/infer", [])
        with urllib.request.urlopen(f"{base}/metrics") as response:  # metrics really were on
            text = response.read().decode()
        assert 'modelship_feature_value_bucket{model="bench"' in text, "metrics contract off?"


@dataclass(frozen=True)
class MLServerConfig:
    parallel_workers: int
    max_batch_size: int = 0  # > 1 turns MLServer's adaptive batching on
    max_batch_time: float = 0.0

    @property
    def label(self) -> str:
        text = f"MLServer (parallel_workers={self.parallel_workers}"
        if self.max_batch_size > 1:
            text += f", adaptive batching {self.max_batch_size}/{self.max_batch_time * 1000:g}ms"
        return text + ")"


# parallel_workers=1 is MLServer's default (one inference process behind the HTTP process);
# 0 predicts in the HTTP process like modelship; adaptive batching is MLServer's counterpart
# of modelship's micro-batching.
MLSERVER_CONFIGS = [MLServerConfig(0), MLServerConfig(1), MLServerConfig(0, 32, 0.001)]


@contextmanager
def mlserver_server(workdir: Path, model: Path, config: MLServerConfig) -> Iterator[Target]:
    python = ensure_venv("mlserver", MLSERVER)
    root = workdir / f"mlserver-{len(list(workdir.glob('mlserver-*')))}"
    (root / MODEL).mkdir(parents=True, exist_ok=True)
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    (root / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port,
        "metrics_port": metrics_port, "parallel_workers": config.parallel_workers,
        "debug": False, "metrics_endpoint": "/metrics",
    }))  # fmt: skip
    model_settings: dict[str, object] = {
        "name": MODEL, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model), "version": "1"},
    }  # fmt: skip
    if config.max_batch_size > 1:
        model_settings |= {"max_batch_size": config.max_batch_size,
                           "max_batch_time": config.max_batch_time}  # fmt: skip
    (root / MODEL / "model-settings.json").write_text(json.dumps(model_settings))
    base = f"http://127.0.0.1:{http_port}"
    argv = [str(python), str(python.parent / "mlserver"), "start", str(root)]
    with running(argv, f"{base}/v2/models/{MODEL}/ready", root / "mlserver.log", cwd=root):
        yield Target(config.label, f"{base}/v2/models/{MODEL}/infer", [])


@contextmanager
def kserve_server(workdir: Path, model: Path) -> Iterator[Target]:
    python = ensure_venv("kserve", KSERVE)
    http_port, grpc_port = free_port(), free_port()
    argv = [str(python), str(APPS / "kserve_model.py"), str(model), MODEL, str(http_port),
            str(grpc_port)]  # fmt: skip
    base = f"http://127.0.0.1:{http_port}"
    # KServe's own defaults (access log, latency logging) stay on; warnings are silenced: its
    # FastAPI (as pip resolves kserve 0.21.0 today) prints a deprecation warning per request.
    with running(argv, f"{base}/v2/models/{MODEL}/ready", workdir / "kserve.log", cwd=workdir,
                 env={"PYTHONWARNINGS": "ignore"}):  # fmt: skip
        yield Target(f"KServe {KSERVE[0].split('==')[1]} (kserve.Model, 1 worker)",
                     f"{base}/v2/models/{MODEL}/infer", [])  # fmt: skip


@contextmanager
def bentoml_server(workdir: Path, model: Path) -> Iterator[Target]:
    python = ensure_venv("bentoml", BENTOML)
    port = free_port()
    argv = [str(python), str(python.parent / "bentoml"), "serve", "bento_service:Bench",
            "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    env = {"BENCH_MODEL": str(model), "BENTOML_HOME": str(workdir / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "True"}  # fmt: skip
    with running(argv, f"{base}/readyz", workdir / "bentoml.log", cwd=APPS, env=env):
        yield Target(f"BentoML {BENTOML[0].split('==')[1]} (1 worker)", f"{base}/infer", [])


@contextmanager
def noop_server(workdir: Path) -> Iterator[Target]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, str(APPS / "noop_app.py"), str(port)]
    with running(argv, f"{base}/v2/health/ready", workdir / "noop.log"):
        yield Target(FLOOR, f"{base}/noop", [])


FLOOR = "floor: same HTTP stack, no-op POST"
SERVERS = ("modelship", "mlserver", "kserve", "bentoml", "floor")


def table(rows: list[Measurement]) -> str:
    lines = ["| server | connections | req/s | p50 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r.server} | {r.connections} | {r.requests_per_second:.0f} | {r.p50_ms:.2f} | "
              f"{r.p99_ms:.2f} | {r.errors} |" for r in rows]  # fmt: skip
    return "\n".join(lines)


def family(server: str) -> str:
    return "floor" if server == FLOOR else server.split(" ", 1)[0]


def ratios(rows: list[Measurement]) -> str:
    """Per connection count: each modelship configuration against the best configuration of
    each peer (throughput ratio, p99 side by side) and as a share of the no-op floor."""
    lines = ["| modelship | connections | vs | their req/s | ratio | p99 ms (ours / theirs) |",
             "|---|---:|---|---:|---:|---|"]  # fmt: skip
    for mine in (r for r in rows if family(r.server) == "modelship"):
        same = [r for r in rows if r.connections == mine.connections]
        for peer in sorted({family(r.server) for r in same} - {"modelship"}):
            best = max((r for r in same if family(r.server) == peer),
                       key=lambda r: r.requests_per_second)  # fmt: skip
            ratio = mine.requests_per_second / best.requests_per_second
            what = f"{ratio:.0%} of the floor" if peer == "floor" else f"{ratio:.2f}x"
            lines.append(f"| {mine.server} | {mine.connections} | {best.server} | "
                         f"{best.requests_per_second:.0f} | {what} | "
                         f"{mine.p99_ms:.2f} / {best.p99_ms:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per server")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--skip-explain", action="store_true", help="no explain cost per row")
    parser.add_argument("--only", nargs="+", choices=sorted(SERVERS), default=sorted(SERVERS),
                        help="servers to run (default: all)")  # fmt: skip
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="modelship worker counts to measure")  # fmt: skip
    args = parser.parse_args()
    # Stopped (SIGTERM, or SIGINT even when started in the background), the servers still stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="modelship-bench-"))
    model, profile, row = train(workdir)
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(FEATURES)],
                                   "datatype": "FP64", "data": row}]})  # fmt: skip
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}; workdir {workdir}")
    with ExitStack() as stack:
        contexts = {
            "modelship": [modelship_server(workdir, model, profile, n) for n in args.workers],
            "mlserver": [mlserver_server(workdir, model, config) for config in MLSERVER_CONFIGS],
            "kserve": [kserve_server(workdir, model)],
            "bentoml": [bentoml_server(workdir, model)],
            "floor": [noop_server(workdir)],
        }
        targets = [stack.enter_context(c) for name in SERVERS if name in args.only
                   for c in contexts[name]]  # fmt: skip
        before = os.getloadavg()
        rows = measure_all(targets, body, args, workdir)
    explained = [] if args.skip_explain else explain_cost.measure(workdir, running)
    print(
        f"load average with all servers up, before the rounds: {before}; after: {os.getloadavg()}"
    )
    print(table(rows))
    print()
    print(ratios(rows))
    if explained:
        print(explain_cost.table(explained))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"serving-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({"rows": [asdict(r) for r in rows],
                               "rounds": {t.name: t.rounds for t in targets},
                               "explain": [asdict(c) for c in explained],
                               "loadavg_after": os.getloadavg()}, indent=2))  # fmt: skip
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
