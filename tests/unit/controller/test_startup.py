"""Start-up: a port in use stops the operator at once; missing CRDs are named until they appear."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from modelship import logging as mslogging
from modelship.controller import startup
from modelship.controller.settings import parse


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on, on 127.0.0.1 only."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("0.0.0.0", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    mslogging.configure("INFO", "json", out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("flag", "env"),
    [("--metrics-port", "MODELSHIP_METRICS_PORT"), ("--health-port", "MODELSHIP_HEALTH_PORT")],
)
def test_a_port_in_use_is_refused_with_the_flag_to_change(
    busy_port: int, flag: str, env: str, log_lines: io.StringIO
) -> None:
    with pytest.raises(SystemExit) as exit_:
        startup.claim_ports(parse([flag, str(busy_port)], {}))
    expected = f"port {busy_port} is in use; choose another with {flag} / {env}"
    assert str(exit_.value.code) == f"modelship operator: {expected}"
    assert lines(log_lines)[-1]["level"] == "error"
    assert lines(log_lines)[-1]["error"] == expected


def test_a_free_metrics_port_serves_metrics_at_once() -> None:
    port = free_port()
    startup.claim_ports(parse(["--metrics-port", str(port), "--health-port", "0"], {}))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert b"modelship_reconciles_total" in answer.read()


def test_the_operator_exits_1_before_anything_else_when_the_metrics_port_is_in_use(
    busy_port: int,
) -> None:
    env = {
        **os.environ,
        "MODELSHIP_METRICS_PORT": str(busy_port),
        "KUBECONFIG": "/nonexistent/kubeconfig",  # reached only if the port check came later
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "modelship.cli", "operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 30
    message = (
        f"port {busy_port} is in use; choose another with --metrics-port / MODELSHIP_METRICS_PORT"
    )
    assert done.stderr.splitlines()[-1] == f"modelship operator: {message}"
    assert "Traceback" not in done.stderr
    assert "no Kubernetes configuration" not in done.stderr


class FakeCRDs:
    """CRDs by name, Established; `install` adds some while the check runs."""

    def __init__(self, names: list[str]) -> None:
        self.installed = set(names)
        self.reads = 0

    def read(self, name: str) -> Mapping[str, Any] | None:
        self.reads += 1
        if name not in self.installed:
            return None
        return {"status": {"conditions": [{"type": "Established", "status": "True"}]}}


ALL = startup.required_crds(parse([], {}))


def test_required_crds_are_the_three_kinds_and_the_peering_kind_when_peering() -> None:
    assert ALL == [
        "modeldeployments.modelship.io",
        "driftmonitors.modelship.io",
        "retrainpolicies.modelship.io",
    ]
    assert startup.required_crds(parse(["--peering", "ha"], {}))[-1] == (
        "clusterkopfpeerings.kopf.dev"
    )
    assert startup.required_crds(parse(["--peering", "ha", "-n", "ml"], {}))[-1] == (
        "kopfpeerings.kopf.dev"
    )


def test_a_crd_not_yet_established_counts_as_missing() -> None:
    def read(name: str) -> Mapping[str, Any] | None:
        return {"status": {"conditions": [{"type": "Established", "status": "False"}]}}

    assert startup.missing_crds(ALL[:1], read) == ALL[:1]


async def test_missing_crds_are_named_at_error_level_until_they_appear(
    log_lines: io.StringIO,
) -> None:
    crds = FakeCRDs(ALL[:1])
    check = asyncio.create_task(startup.watch_crds(ALL, crds.read, interval=0.05))
    await asyncio.sleep(0.12)
    errors = [line for line in lines(log_lines) if line["level"] == "error"]
    assert len(errors) >= 2, "repeated until they appear"
    assert errors[0]["missing"] == ALL[1:]
    assert errors[0]["install"] == "kubectl apply --server-side -f crds/"
    assert not check.done()
    crds.installed |= set(ALL)
    await asyncio.wait_for(check, timeout=5)
    assert lines(log_lines)[-1]["msg"] == "CRDs installed"
    assert lines(log_lines)[-1]["level"] == "info"


async def test_installed_crds_are_checked_once_and_quietly(log_lines: io.StringIO) -> None:
    crds = FakeCRDs(ALL)
    await asyncio.wait_for(startup.watch_crds(ALL, crds.read, interval=0.05), timeout=5)
    assert crds.reads == len(ALL)
    assert lines(log_lines) == []
