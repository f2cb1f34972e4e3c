"""Settings, URI fetching, artifact resolution, optional formats and the custom-model hook."""

from __future__ import annotations

import http.server
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from credit_model import TrainedModel
from modelship.server.loader import ModelLoadError, artifact_file, fetch
from modelship.server.runtimes import load_runtime
from modelship.server.settings import SettingsError, from_arguments, from_environment


def test_flags_override_the_environment() -> None:
    env = {"MODELSHIP_MODEL_NAME": "a", "MODELSHIP_MODEL_URI": "file:///m", "MODELSHIP_PORT": "9"}
    settings = from_arguments(["--model-name", "b", "--revision", "r7"], env)
    assert (settings.model_name, settings.model_uri, settings.port) == ("b", "file:///m", 9)
    assert settings.revision == "r7"
    assert from_environment(settings.to_environment()) == settings


def test_request_limits_default_and_come_from_flags_or_the_environment() -> None:
    env = {"MODELSHIP_MODEL_NAME": "a", "MODELSHIP_MODEL_URI": "file:///m"}
    defaults = from_environment(env)
    assert (defaults.max_request_bytes, defaults.max_batch_rows, defaults.read_timeout) == (
        8 * 1024 * 1024, 100_000, 30.0)  # fmt: skip
    env["MODELSHIP_MAX_REQUEST_BYTES"] = "1000"
    settings = from_arguments(["--max-batch-rows", "10", "--read-timeout", "2.5"], env)
    assert (settings.max_request_bytes, settings.max_batch_rows, settings.read_timeout) == (
        1000, 10, 2.5)  # fmt: skip
    assert from_environment(settings.to_environment()) == settings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "missing --model-name, --model-uri"),
        (["--model-name", "m", "--model-uri", "u", "--format", "custom"], "--model-class"),
        (["--model-name", "m", "--model-uri", "u", "--port", "x"], "invalid number"),
        (["--model-name", "m", "--model-uri", "u", "--max-request-bytes", "0"],
         "--max-request-bytes: must be a positive number, not '0'"),
        (["--model-name", "m", "--model-uri", "u", "--max-batch-rows", "1.5"],
         "--max-batch-rows: expected a number, not '1.5'"),
        (["--model-name", "m", "--model-uri", "u", "--read-timeout", "inf"],
         "--read-timeout: must be a positive number"),
    ],
)  # fmt: skip
def test_settings_errors(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_arguments(argv, {})


def test_local_paths_and_file_uris_are_used_in_place(credit: TrainedModel) -> None:
    assert fetch(str(credit.model_path)) == credit.model_path
    assert fetch(f"file://{credit.model_path}") == credit.model_path
    with pytest.raises(ModelLoadError, match="does not exist"):
        fetch("file:///nonexistent/model.joblib")


def test_a_directory_resolves_to_its_well_known_artifact(credit: TrainedModel) -> None:
    assert artifact_file(credit.directory, "sklearn") == credit.model_path
    with pytest.raises(ModelLoadError, match=r"looked for model\.onnx"):
        artifact_file(credit.directory, "onnx")


@pytest.fixture
def http_server(credit: TrainedModel) -> Iterator[str]:
    """Serve the credit model's directory over HTTP on 127.0.0.1."""
    root = credit.directory

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_uris_are_downloaded(http_server: str, tmp_path: Path, credit: TrainedModel) -> None:
    path = fetch(f"{http_server}/model.joblib", cache_dir=str(tmp_path))
    assert path.parent.parent == tmp_path
    assert path.read_bytes() == credit.model_path.read_bytes()
    runtime = load_runtime(artifact_file(path, "sklearn"), "sklearn")
    assert runtime.classes == ["approve", "deny"]
    with pytest.raises(ModelLoadError, match="download failed"):
        fetch(f"{http_server}/missing.joblib", cache_dir=str(tmp_path))


def test_s3_without_the_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if not installed (dev installs it)
    with pytest.raises(ModelLoadError, match=r"modelship\[s3\]"):
        fetch("s3://bucket/model.joblib")


@pytest.mark.parametrize(
    ("fmt", "module", "extra"),
    [("xgboost", "xgboost", "xgboost"), ("lightgbm", "lightgbm", "lightgbm"),
     ("onnx", "onnxruntime", "onnx")],
)  # fmt: skip
def test_optional_formats_name_their_extra(
    fmt: str, module: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed (dev installs it)
    with pytest.raises(ModelLoadError, match=rf"modelship\[{extra}\]"):
        load_runtime(tmp_path / "model", fmt)


CUSTOM_MODEL = """
import json
from pathlib import Path

class Threshold:
    classes = ["low", "high"]
    n_features = 1

    def load(self, path):
        self.cut = json.loads((Path(path) / "params.json").read_text())["cut"]

    def predict(self, features):
        return ["high" if row[0] > self.cut else "low" for row in features]
"""


def test_custom_model_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_models.py").write_text(CUSTOM_MODEL)
    model_dir = tmp_path / "artifact"
    model_dir.mkdir()
    (model_dir / "params.json").write_text('{"cut": 0.5}')
    monkeypatch.syspath_prepend(str(tmp_path))
    runtime = load_runtime(model_dir, "custom", "my_models:Threshold")
    result = runtime.run(np.array([[0.2], [0.9]]), ["predict"])
    assert result["predict"].tolist() == ["low", "high"]
    assert runtime.classes == ["low", "high"]
    sys.modules.pop("my_models", None)


@pytest.mark.parametrize(
    ("class_path", "message"),
    [("nomodule_xyz:Model", "No module named"), ("json:Nope", "Nope"), ("json", "expected")],
)
def test_custom_model_errors(class_path: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=message):
        load_runtime(tmp_path, "custom", class_path)


@pytest.mark.parametrize(
    "content",
    [b"age,income,label\n30,40.5,approve\n", b"", b"\x80\x05garbage", b'{"json": true}'],
)
def test_a_file_that_is_not_a_pickle_is_rejected_clearly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as raised:
        load_runtime(path, "sklearn")
    assert str(raised.value).startswith(f"{path} is not a loadable sklearn/joblib model")


def test_a_pickle_needing_a_missing_module_says_so(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "model.pkl"
    # A pickle of an object of class absent_module.Model, written by hand.
    path.write_bytes(b"\x80\x04c" + b"absent_module_xyz\nModel\n" + b")\x81.")
    with pytest.raises(ModelLoadError, match="needs a module that is not installed"):
        load_runtime(path, "sklearn")
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(path.read_bytes())


def test_a_non_model_pickle_is_rejected(tmp_path: Path) -> None:
    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "model.joblib")
    with pytest.raises(ModelLoadError, match="no predict method"):
        load_runtime(tmp_path / "model.joblib", "sklearn")
    shutil.rmtree(tmp_path)
