"""Real Open Inference Protocol clients, defaults unchanged, against a real `modelship serve`.

kserve's InferenceRESTClient and InferenceGRPCClient, tritonclient.http and tritonclient.grpc
(binary tensors, their default) and requests encoded by MLServer's codecs. Each client runs in
its own process (clients/): kserve and tritonclient register the same protobuf message names,
so they cannot share one, and MLServer's pins clash with kserve's, so it gets a virtualenv of
its own, made here from PyPI on first use and cached. The versions are the ones docs/server.md
records.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from credit_model import FEATURES, TrainedModel
from served_process import ServerProcess, serving
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.slow

CLIENTS = Path(__file__).parent / "clients"
KSERVE, TRITONCLIENT, MLSERVER = "0.21.0", "2.73.0", "1.7.1"


def run_client(python: str | Path, script: str, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([str(python), str(CLIENTS / script)], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def sample(trained: TrainedModel) -> pd.DataFrame:
    return trained.data[FEATURES].sample(20, random_state=4).reset_index(drop=True)


def spec(served: tuple[ServerProcess, int], sample: pd.DataFrame) -> dict[str, Any]:
    handle, grpc_port = served
    columns = {name: sample[name].tolist() for name in FEATURES}
    return {"rest": handle.url, "grpc": f"127.0.0.1:{grpc_port}", "model": "credit",
            "columns": columns}  # fmt: skip


def expected(trained: TrainedModel, sample: pd.DataFrame) -> tuple[list[str], list[list[float]]]:
    labels = [str(p) for p in trained.model.predict(sample)]
    return labels, trained.model.predict_proba(sample).tolist()


@pytest.mark.parametrize(
    ("script", "version", "protocols", "metadata"),
    [("kserve_calls.py", KSERVE, ("rest", "grpc"), False),  # kserve's clients have no metadata call
     ("triton_calls.py", TRITONCLIENT, ("http", "grpc"), True)],  # binary tensors, their default
)  # fmt: skip
def test_kserve_and_tritonclient(
    served_grpc: tuple[ServerProcess, int],
    sample: pd.DataFrame,
    trained: TrainedModel,
    script: str,
    version: str,
    protocols: tuple[str, str],
    metadata: bool,
) -> None:
    found = run_client(sys.executable, script, spec(served_grpc, sample))
    assert found["version"] == version
    labels, probabilities = expected(trained, sample)
    for protocol in protocols:
        answer = found[protocol]
        assert (answer["live"], answer["ready"], answer["model_ready"]) == (True, True, True)
        if metadata:
            assert answer["metadata_inputs"] == ["age", "income", "country", "gender"], protocol
        assert answer["predict"] == labels, protocol
        assert answer["predict_proba"] == probabilities, protocol  # the model's, bit for bit


def mlserver_python() -> Path:
    """The python of a cached virtualenv with MLServer, made from PyPI on first use."""
    cache = Path(os.environ.get("MODELSHIP_CACHE", Path.home() / ".cache" / "modelship"))
    venv = cache / f"venv-mlserver-{MLSERVER}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    partial = venv.with_name(venv.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True, timeout=300)
    # MLServer 1.7.1 predates pandas 3, whose string dtype its PandasCodec cannot encode
    # (KeyError 'O' in to_datatype): the pandas it was released against.
    subprocess.run([str(partial / "bin" / "python"), "-m", "pip", "install", "-q",
                    f"mlserver=={MLSERVER}", "pandas<3"], check=True, timeout=900)  # fmt: skip
    partial.rename(venv)  # whole or absent: an interrupted install is redone, not half-used
    return python


@pytest.fixture(scope="module")
def numeric(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LogisticRegression]:
    """An all-numeric model with no profile, for NumpyCodec's single [N, F] tensor."""
    rng = np.random.default_rng(5)
    features = rng.normal(size=(300, 3))
    model = LogisticRegression().fit(features, (features.sum(axis=1) > 0).astype(int))
    directory = tmp_path_factory.mktemp("numeric")
    joblib.dump(model, directory / "model.joblib")
    return directory, model


def test_mlserver_codecs(
    served_grpc: tuple[ServerProcess, int],
    sample: pd.DataFrame,
    trained: TrainedModel,
    numeric: tuple[Path, LogisticRegression],
) -> None:
    directory, model = numeric
    rows = np.random.default_rng(6).normal(size=(15, 3))
    environment = {"MODELSHIP_MODEL_NAME": "numeric", "MODELSHIP_MODEL_URI": f"file://{directory}",
                   "MODELSHIP_PROFILE_PATH": ""}  # fmt: skip
    with serving(trained, [], **environment) as tensor_server:
        found = run_client(mlserver_python(), "mlserver_codecs.py", {
            "frame": {"url": served_grpc[0].url, "model": "credit",
                      "columns": {name: sample[name].tolist() for name in FEATURES}},
            "tensor": {"url": tensor_server.url, "model": "numeric", "rows": rows.tolist()},
        })  # fmt: skip
    assert found["version"] == MLSERVER
    assert found["frame"] == expected(trained, sample)[0]
    assert found["tensor"] == model.predict(rows).tolist()
