"""Fixtures that run `modelship serve` as a real process on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

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
    from served_process import serving

    with serving(trained, []) as handle:
        yield handle


@pytest.fixture(scope="module")
def served_grpc(trained: TrainedModel) -> Iterator[tuple[ServerProcess, int]]:
    """The credit model served over REST and, on the second value's port, gRPC."""
    from modelship_testing.cluster import free_port
    from served_process import serving

    grpc_port = free_port()
    with serving(trained, ["--grpc-port", str(grpc_port)]) as handle:
        yield handle, grpc_port
