"""`--workers`: a positive count, on a fixed port; the default runs one process."""

from __future__ import annotations

import pytest
from modelship.server.settings import SettingsError, from_arguments, from_environment
from modelship.server.workers import from_peer

REQUIRED = ["--model-name", "m", "--model-uri", "file:///m.joblib"]


def test_default_is_one_process_and_the_flag_and_variable_set_it() -> None:
    assert from_arguments(REQUIRED, {}).workers == 1
    assert from_arguments([*REQUIRED, "--workers", "4"], {}).workers == 4
    env = {
        "MODELSHIP_MODEL_NAME": "m",
        "MODELSHIP_MODEL_URI": "file:///m",
        "MODELSHIP_WORKERS": "2",
    }
    settings = from_environment(env)
    assert settings.workers == 2
    assert from_environment(settings.to_environment()) == settings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "0"], "--workers: must be a positive number"),
        (["--workers", "two"], "--workers: expected a number"),
        (["--workers", "2", "--port", "0"], "the workers share one port; give a fixed --port"),
        (["--workers", "2", "--grpc-port", "8081"], "gRPC is served by one process only"),
    ],
)
def test_invalid_workers_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_arguments([*REQUIRED, *argv], {})


def test_only_a_unix_socket_peer_counts_as_a_sibling() -> None:
    assert from_peer(("/tmp/run/worker-1.sock", None))
    assert not from_peer(("127.0.0.1", 8080))
    assert not from_peer(None)
