r"""Serving benchmark: modelship vs MLServer on the same scikit-learn model, in one run.

Trains a small LogisticRegression (8 numeric features), writes its reference profile, serves
it with `modelship serve` (metrics contract on: feature, prediction and latency histograms)
and with MLServer + mlserver-sklearn (its own metrics on, as by default), and drives each with
wrk (POST /v2/models/<name>/infer, batch size 1) at 1, 8 and 32 connections.

MLServer lives in its own virtualenv, bench/.venv-mlserver (git-ignored), so its pins never
touch the project's; the script creates it on first use with MLSERVER_REQUIREMENTS below
(the project's scikit-learn version, and uvloop<0.22: MLServer 1.7.1's inference workers
crash with newer uvloop, "There is no current event loop"). Needs `wrk` (apt-get install wrk).

All servers run at once and are measured in interleaved rounds (every server in turn, per
connection count), so load from other processes on a shared machine hits them alike.

Then the explanation cost per row of each SHAP explainer (explain_cost.py), unless
--skip-explain.

Usage: .venv/bin/python bench/serving/run.py [--duration 5] [--rounds 3] [--connections 1 8 32]
Results: tables on stdout and bench/results/serving-<time>.json.
"""

from __future__ import annotations

import argparse
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
MLSERVER_VENV = REPO / "bench" / ".venv-mlserver"
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


def mlserver_requirements() -> list[str]:
    import sklearn

    return ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", f"scikit-learn=={sklearn.__version__}",
            "uvloop<0.22"]  # fmt: skip


def ensure_mlserver() -> Path:
    """bench/.venv-mlserver/bin/mlserver, creating the virtualenv on first use."""
    binary = MLSERVER_VENV / "bin" / "mlserver"
    if not binary.exists():
        print(f"creating {MLSERVER_VENV} (MLServer and its pins, once)", flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(MLSERVER_VENV)], check=True)
        pip = [str(MLSERVER_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *mlserver_requirements()], check=True)
    return binary


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


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
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
                target.rounds.append({**result, "connections": connections})
                rps = result["requests"] / result["seconds"]
                print(f"  round {round_number + 1} c={connections:<3} {target.name:<56} "
                      f"{rps:7.0f} req/s p50 {result['p50_us'] / 1000:6.2f} ms "
                      f"p99 {result['p99_us'] / 1000:6.2f} ms", flush=True)  # fmt: skip
    return [aggregate(t, c) for c in args.connections for t in targets]


@contextmanager
def modelship_server(workdir: Path, model: Path, profile: Path) -> Iterator[Target]:
    port = free_port()
    argv = [sys.executable, "-m", "modelship.cli", "serve", "--model-uri", f"file://{model}",
            "--model-name", MODEL, "--model-version", "1", "--revision", "bench",
            "--profile", str(profile), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with running(argv, f"{base}/v2/health/ready", workdir / "modelship.log"):
        yield Target("modelship (1 process)", f"{base}/v2/models/{MODEL}/infer", [])
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
    binary = ensure_mlserver()
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
    with running([str(binary), "start", str(root)], f"{base}/v2/models/{MODEL}/ready",
                 root / "mlserver.log", cwd=root):  # fmt: skip
        yield Target(config.label, f"{base}/v2/models/{MODEL}/infer", [])


def table(rows: list[Measurement]) -> str:
    lines = ["| server | connections | req/s | p50 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r.server} | {r.connections} | {r.requests_per_second:.0f} | {r.p50_ms:.2f} | "
              f"{r.p99_ms:.2f} | {r.errors} |" for r in rows]  # fmt: skip
    return "\n".join(lines)


def ratios(rows: list[Measurement]) -> str:
    lines = []
    ours = {r.connections: r for r in rows if r.server.startswith("modelship")}
    for connections, mine in sorted(ours.items()):
        theirs = [
            r for r in rows if r.server.startswith("MLServer") and r.connections == connections
        ]
        best = max(theirs, key=lambda r: r.requests_per_second, default=None)
        if best is None:
            continue
        lines.append(
            f"c={connections}: {mine.requests_per_second / best.requests_per_second:.2f}x the best "
            f"MLServer ({best.server}); p99 {mine.p99_ms:.2f} ms vs {best.p99_ms:.2f} ms"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per server")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--skip-explain", action="store_true", help="no explain cost per row")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="modelship-bench-"))
    model, profile, row = train(workdir)
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(FEATURES)],
                                   "datatype": "FP64", "data": row}]})  # fmt: skip
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}; workdir {workdir}")
    with ExitStack() as stack:
        targets = [stack.enter_context(modelship_server(workdir, model, profile))]
        if not args.skip_mlserver:
            targets += [stack.enter_context(mlserver_server(workdir, model, config))
                        for config in MLSERVER_CONFIGS]  # fmt: skip
        rows = measure_all(targets, body, args, workdir)
    explained = [] if args.skip_explain else explain_cost.measure(workdir, running)
    print(f"load average after: {os.getloadavg()}")
    print(table(rows))
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
