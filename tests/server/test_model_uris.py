"""Loading a model from each URI scheme the API accepts, by a real `modelship serve` process:
http:// from a local HTTP server, s3:// from moto's S3 server, gs:// from gcp-storage-emulator
(file:// is what every other server test loads). pvc:// is the operator's: it mounts the claim
and passes file:// (tests/unit/rollout/test_objects.py); served directly it is refused."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from credit_model import FEATURES, TrainedModel, columnar
from modelship_testing.cluster import free_port
from modelship_testing.waiters import wait_for
from served_process import call, serving, start_server

ROWS = [{"age": 30, "income": 30.0, "country": "FR"}, {"age": 50, "income": 80.0, "country": "US"}]


def predicts_like_the_model(trained: TrainedModel, uri: str, **env: str) -> None:
    expected = [str(p) for p in trained.model.predict(pd.DataFrame(ROWS)[FEATURES])]
    with serving(trained, [], MODELSHIP_MODEL_URI=uri,
                 MODELSHIP_CACHE_DIR=str(trained.directory), **env) as server:  # fmt: skip
        status, body = call(server, "/v2/models/credit/infer", columnar(ROWS))
        assert (status, body["outputs"][0]["data"]) == (200, expected)


@pytest.fixture(scope="module")
def http_root(trained: TrainedModel) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(trained.directory))  # fmt: skip
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(timeout=10)


def test_http_uri(trained: TrainedModel, http_root: str) -> None:
    predicts_like_the_model(trained, f"{http_root}/model.joblib")


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


@pytest.fixture(scope="module")
def s3_endpoint(trained: TrainedModel) -> Iterator[str]:
    """moto's S3 server with bucket `models` holding the model under fraud/7/."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
        client.create_bucket(Bucket="models")
        client.upload_file(str(trained.model_path), "models", "fraud/7/model.joblib")
        yield endpoint
    finally:
        moto.stop()


def test_s3_uri_of_a_directory(trained: TrainedModel, s3_endpoint: str) -> None:
    predicts_like_the_model(trained, "s3://models/fraud/7/", AWS_ENDPOINT_URL_S3=s3_endpoint,
                            **S3_ENV)  # fmt: skip


# gcsfs asks a bucket's type over gRPC first (hierarchical namespaces), which the emulator does
# not speak: a 60 s timeout per bucket. Off, it uses the JSON API alone.
GCS_ENV = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false", "FSSPEC_GCS_TOKEN": "anon"}


@pytest.fixture(scope="module")
def gcs_emulator(trained: TrainedModel) -> Iterator[str]:
    """gcp-storage-emulator, in memory, with bucket `models` holding the model file."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in GCS_ENV.items():
            patch.setenv(name, value)
        yield from _gcs_emulator(trained)


def _gcs_emulator(trained: TrainedModel) -> Iterator[str]:
    import gcsfs
    from gcp_storage_emulator.server import create_server

    port = free_port()
    emulator = create_server("127.0.0.1", port, in_memory=True, default_bucket="models")
    emulator.start()
    host = f"http://127.0.0.1:{port}"
    try:
        fs = gcsfs.GCSFileSystem(endpoint_url=host, token="anon")
        fs.put(str(trained.model_path), "models/fraud/7/model.joblib")
        yield host
    finally:
        emulator.stop()


def test_gs_uri_of_a_file(trained: TrainedModel, gcs_emulator: str) -> None:
    predicts_like_the_model(trained, "gs://models/fraud/7/model.joblib",
                            STORAGE_EMULATOR_HOST=gcs_emulator, **GCS_ENV)  # fmt: skip


def test_pvc_uri_served_directly_is_refused_with_the_reason(
    trained: TrainedModel, tmp_path: Path
) -> None:
    handle = start_server(tmp_path, ["--model-name", "credit",
                                     "--model-uri", "pvc://models/fraud/7"])  # fmt: skip
    try:
        wait_for(lambda: "model load failed" in handle.log.read_text(), timeout=60,
                 describe="the load failure to be logged")  # fmt: skip
        assert handle.status("/v2/health/ready") == 400
        assert "pvc:// URIs are mounted by the operator" in handle.log.read_text()
    finally:
        handle.stop()
