"""Fixtures that run `modelship serve` as a real process on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from modelship_testing.waiters import diagnostic, wait_for

if TYPE_CHECKING:
    from credit_model import TrainedModel
    from served_process import ServerProcess

# Helper modules: served_process.py beside this file, credit_model.py shared with the
# in-process tests (imported inside fixtures, once these paths are set).
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "server"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    from credit_model import train_credit_model

    return train_credit_model(tmp_path_factory.mktemp("served-credit"))


@pytest.fixture(scope="module")
def server(trained: TrainedModel) -> Iterator[ServerProcess]:
    """The credit model served by a real `modelship serve` process, ready."""
    from served_process import start_server

    handle = start_server(
        trained.directory,
        [],
        env={
            "MODELSHIP_MODEL_NAME": "credit",
            "MODELSHIP_MODEL_VERSION": "3",
            "MODELSHIP_MODEL_URI": f"file://{trained.directory}",  # a directory: model.joblib
            "MODELSHIP_REVISION": "r1",
            "MODELSHIP_PROFILE_PATH": str(trained.profile_path),
        },
    )
    try:
        with diagnostic(f"modelship serve log (pid {handle.proc.pid})", handle.log_tail):
            wait_for(
                lambda: handle.proc.poll() is None and handle.status("/v2/health/ready") == 200,
                timeout=60,
                describe="modelship serve to become ready",
            )
            yield handle
    finally:
        handle.stop()
