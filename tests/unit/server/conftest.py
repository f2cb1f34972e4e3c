"""Fixtures for in-process server tests: the credit model and a TestClient on its app."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from modelship.server.app import create_app
from starlette.testclient import TestClient

if TYPE_CHECKING:
    from credit_model import TrainedModel

# The helper module credit_model.py sits beside this file; tests/server uses it too.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def credit(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    from credit_model import train_credit_model

    return train_credit_model(tmp_path_factory.mktemp("credit"))


@pytest.fixture(scope="session")
def client(credit: TrainedModel) -> Iterator[TestClient]:
    from credit_model import settings_for

    app = create_app(settings_for(credit), load_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
