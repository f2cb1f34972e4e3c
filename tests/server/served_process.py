"""A `modelship serve` subprocess on 127.0.0.1, started and stopped by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship_testing.cluster import free_port
from modelship_testing.serving import Server
from modelship_testing.waiters import diagnostic, wait_for

if TYPE_CHECKING:
    from credit_model import TrainedModel

# The same process handle as the analysis tests and the demo use.
ServerProcess = Server


def start_server(
    directory: Path, argv: list[str], env: dict[str, str] | None = None
) -> ServerProcess:
    port = free_port()
    log = directory / f"serve-{port}.log"
    command = [sys.executable, "-m", "modelship.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), *argv]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    return ServerProcess(
        revision=env.get("MODELSHIP_REVISION", "") if env else "", port=port, proc=proc, log=log
    )


@contextmanager
def serving(trained: TrainedModel, argv: list[str], **env: str) -> Iterator[ServerProcess]:
    """The credit model served by a real `modelship serve` process with `argv` and `env`
    (MODELSHIP_* variables over the defaults below), ready."""
    handle = start_server(
        trained.directory,
        argv,
        env={
            "MODELSHIP_MODEL_NAME": "credit",
            "MODELSHIP_MODEL_VERSION": "3",
            "MODELSHIP_MODEL_URI": f"file://{trained.directory}",  # a directory: model.joblib
            "MODELSHIP_REVISION": "r1",
            "MODELSHIP_PROFILE_PATH": str(trained.profile_path),
            **env,
        },
    )
    try:
        with diagnostic(f"modelship serve log (pid {handle.proc.pid})", handle.log_tail):
            wait_for(  # the readiness probe needs no token
                lambda: handle.proc.poll() is None and handle.status("/v2/health/ready") == 200,
                timeout=60,
                describe="modelship serve to become ready",
            )
            yield handle
    finally:
        handle.stop()


def call(
    server: ServerProcess,
    path: str,
    body: Any | None = None,
    token: str | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """Status and JSON body of a GET (or a POST of `body`), with `token` as a bearer token."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(server.url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


def scrape(server: ServerProcess, token: str | None = None) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(server.url + "/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def moved(before: dict[str, float], after: dict[str, float], series: str) -> float:
    """How much a scraped series grew between two scrapes (an absent series counts as 0)."""
    return after.get(series, 0.0) - before.get(series, 0.0)
