"""Real reference-server processes and live traffic, for analysis tests and the demo.

KWOK pods run no containers, so a revision's pods are stood in for by `modelship serve`
processes on 127.0.0.1 labelled with the revision, scraped by the real Prometheus and fed
by a bounded traffic generator.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from modelship.profile.build import ProfileOptions, build_profile
from sklearn.linear_model import LogisticRegression

from modelship_testing.cluster import free_port
from modelship_testing.waiters import wait_for

FEATURES = ("amount", "age", "merchant_risk")
FAULTY = "modelship_testing.faulty_models"


@dataclass(frozen=True)
class TrainedModel:
    directory: Path
    model_path: Path
    profile_path: Path


def fraud_data(rows: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 60.0, rows).round(2),
            "age": rng.integers(18, 85, rows),
            "merchant_risk": rng.uniform(0, 1, rows).round(3),
        }
    )
    score = 0.01 * data["amount"] + 3 * data["merchant_risk"] - 0.02 * data["age"]
    data["fraud"] = (score + rng.normal(0, 0.5, rows) > 1.5).astype(int)
    return data


def train_fraud_model(directory: Path, seed: int = 7) -> TrainedModel:
    """A small scikit-learn classifier and its reference profile."""
    directory.mkdir(parents=True, exist_ok=True)
    data = fraud_data(seed=seed)
    model = LogisticRegression(max_iter=500).fit(data[list(FEATURES)], data["fraud"])
    model_path = directory / "model.joblib"
    joblib.dump(model, model_path)
    profile = build_profile(data, ProfileOptions(target="fraud", bins=8))
    profile_path = directory / "profile.json"
    profile_path.write_text(profile.to_json())
    return TrainedModel(directory, model_path, profile_path)


@dataclass
class Server:
    """One `modelship serve` process standing in for a revision's pods."""

    revision: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v2/health/ready", timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def status(self, path: str) -> int:
        """The HTTP status of a GET of `path`."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(
    model: TrainedModel,
    revision: str,
    version: str,
    name: str = "fraud",
    fault: str | None = None,
    fault_env: dict[str, str] | None = None,
    ready_timeout: float = 60,
) -> Server:
    """Serve `model` as `revision`; `fault` names a class of faulty_models to wrap it."""
    port = free_port()
    log = model.directory / f"serve-{revision}-{port}.log"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
        "MODELSHIP_MODEL_NAME": name,
        "MODELSHIP_MODEL_VERSION": version,
        "MODELSHIP_MODEL_URI": f"file://{model.model_path}",
        "MODELSHIP_REVISION": revision,
        "MODELSHIP_PROFILE_PATH": str(model.profile_path),
        **(fault_env or {}),
    }
    if fault:
        env["MODELSHIP_MODEL_FORMAT"] = "custom"
        env["MODELSHIP_MODEL_CLASS"] = f"{FAULTY}:{fault}"
    command = [
        sys.executable,
        "-m",
        "modelship.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = Server(revision, port, proc, log)
    try:
        wait_for(
            lambda: server.proc.poll() is None and server.ready(),
            timeout=ready_timeout,
            describe=f"modelship serve for revision {revision}",
        )
    except BaseException:
        server.stop()  # nobody else holds it yet
        raise
    return server


def infer_body(rng: random.Random, rows: int = 1, shift: dict[str, float] | None = None) -> bytes:
    """An inference request of `rows` rows drawn as the training data was; `shift` adds a
    constant to some features (drifted traffic)."""
    return labelled_request(rng, rows, shift)[0]


def labelled_request(
    rng: random.Random,
    rows: int = 1,
    shift: dict[str, float] | None = None,
    request_id: str | None = None,
) -> tuple[bytes, list[int]]:
    """An inference request and the true labels of its rows (for /feedback)."""
    data = fraud_data(rows=rows, seed=rng.randrange(1 << 30))
    for column, offset in (shift or {}).items():
        data[column] = data[column] + offset
    inputs = [
        {
            "name": column,
            "shape": [rows],
            "datatype": "FP64",
            "data": [float(v) for v in data[column]],
        }
        for column in FEATURES
    ]
    body: dict[str, object] = {"inputs": inputs}
    if request_id is not None:
        body["id"] = request_id
    return json.dumps(body).encode(), [int(v) for v in data["fraud"]]


RequestFactory = Callable[[random.Random, dict[str, float], str], tuple[bytes, list[int]]]
"""(rng, shift, request id) -> an inference request and the true labels of its rows."""


def fraud_request(
    rng: random.Random, shift: dict[str, float], request_id: str
) -> tuple[bytes, list[int]]:
    return labelled_request(rng, shift=shift, request_id=request_id)


@dataclass
class TrafficGenerator:
    """Send inference requests to servers in the ratio of their weights, in background
    threads, bounded by `max_requests` and `max_seconds`; counts outcomes per revision."""

    model_name: str = "fraud"
    rate_per_second: float = 40.0
    workers: int = 4
    """Concurrent senders, so one slow server does not slow the traffic to the others."""
    max_seconds: float = 600.0
    max_requests: int = 200_000
    weights: dict[str, int] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    shift: dict[str, float] = field(default_factory=dict)
    """Added to these features of every request from now on (drifted traffic)."""
    requests: RequestFactory = fraud_request
    """What each request holds (the fraud model's features by default)."""
    feedback: str | None = None
    """After each answer, send ground truth to /feedback: "truth" (the rows' real labels)
    or "flipped" (the opposite: a model that is always wrong)."""
    outcomes: Counter[tuple[str, int]] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sent: int = 0

    def route(self, server: Server, weight: int = 1) -> None:
        self.servers[server.revision] = server
        self.weights[server.revision] = weight

    def unroute(self, revision: str) -> None:
        self.weights.pop(revision, None)

    def start(self) -> TrafficGenerator:
        started = time.monotonic()
        for worker in range(self.workers):
            thread = threading.Thread(target=self._run, args=(worker, started), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self, worker: int, started: float) -> None:
        rng = random.Random(11 + worker)
        interval = self.workers / self.rate_per_second
        while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
            with self._lock:
                if self._sent >= self.max_requests:
                    return
                self._sent += 1
            weights = {r: w for r, w in self.weights.items() if w > 0}
            if weights:
                revision = rng.choices(list(weights), weights=list(weights.values()))[0]
                status = self._send(self.servers[revision], rng)
                with self._lock:
                    self.outcomes[(revision, status)] += 1
            self._stop.wait(interval)

    def _send(self, server: Server, rng: random.Random) -> int:
        request_id = f"r{rng.randrange(1 << 60)}"
        body, labels = self.requests(rng, dict(self.shift), request_id)
        status = self._post(f"{server.url}/v2/models/{self.model_name}/infer", body)
        mode = self.feedback
        if status == 200 and mode is not None:
            truth = labels if mode == "truth" else [1 - label for label in labels]
            feedback = json.dumps({"id": request_id, "ground_truth": truth}).encode()
            self._post(f"{server.url}/v2/models/{self.model_name}/feedback", feedback)
        return status

    @staticmethod
    def _post(url: str, body: bytes) -> int:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except (urllib.error.URLError, OSError):
            return 0
