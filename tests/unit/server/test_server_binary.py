"""The binary data extension, in process: decoding, encoding, malformed bodies (400s, never a
5xx), binary responses; and the settings and request layouts the real clients need."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from modelship.server.binary import (
    BinaryDataError,
    decode_tensor,
    encode_tensor,
    split_request,
)
from modelship.server.protocol import InferenceRequest
from modelship.server.schema import decode, schema_from_model
from modelship.server.settings import SettingsError, from_arguments
from starlette.testclient import TestClient

INFER = "/v2/models/credit/infer"


def strings(*values: str) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def binary_body(rows: list[tuple[int, float, str]], **parameters: Any) -> tuple[bytes, str]:
    """The credit model's columns as binary tensors: body and Inference-Header-Content-Length."""
    ages = np.array([r[0] for r in rows], dtype="<i8").tobytes()
    incomes = np.array([r[1] for r in rows], dtype="<f8").tobytes()
    countries = strings(*(r[2] for r in rows))
    inputs = [
        {"name": name, "shape": [len(rows)], "datatype": datatype,
         "parameters": {"binary_data_size": len(raw)}}
        for name, datatype, raw in (("age", "INT64", ages), ("income", "FP64", incomes),
                                    ("country", "BYTES", countries))
    ]  # fmt: skip
    header = orjson.dumps({"inputs": inputs, **parameters})
    return header + ages + incomes + countries, str(len(header))


def test_round_trip_of_every_datatype() -> None:
    for datatype, values in (("BOOL", [True, False]), ("UINT8", [0, 255]), ("INT16", [-3, 7]),
                             ("INT64", [-(2**40), 5]), ("FP16", [0.5, -2.0]),
                             ("FP32", [1.5, -0.25]), ("FP64", [1e300, -1e-300]),
                             ("BYTES", ["FR", "ünï"])):  # fmt: skip
        array = np.array(values, dtype=object if datatype == "BYTES" else None)
        raw = encode_tensor(array, datatype)
        assert decode_tensor(raw, datatype, [2], "inputs.0") == values, datatype


@pytest.mark.parametrize(
    ("body", "length", "message"),
    [
        (b"{}", "x1", "Inference-Header-Content-Length: expected a byte count, not 'x1'"),
        (b"{}", "-1", "expected a byte count"),
        (b"{}", "99", "Inference-Header-Content-Length is 99 but the body has only 2 bytes"),
        (b"{oops", "5", "invalid JSON: "),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [2], "datatype": "FP64",
                                   "parameters": {"binary_data_size": 16}}]}) + b"\0" * 8,
         None, "inputs.0.parameters.binary_data_size: 16 bytes from offset 0 pass the end of "
               "the binary data (8 bytes)"),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [2], "datatype": "FP64",
                                   "parameters": {"binary_data_size": 8}}]}) + b"\0" * 8,
         None, "inputs.0: shape [2] of FP64 needs 16 bytes of binary data, not 8"),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64",
                                   "parameters": {"binary_data_size": 8}}]}) + b"\0" * 12,
         None, "the body has 4 bytes after the binary data"),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64",
                                   "parameters": {"binary_data_size": "8"}}]}),
         None, "inputs.0.parameters.binary_data_size: must be a byte count"),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": 6}}]})
         + struct.pack("<I", 9) + b"ab", None, "BYTES element 0 says 9 bytes but only 2 remain"),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": 5}}]})
         + struct.pack("<I", 1) + b"\xff", None, "inputs.0: BYTES element 0 is not UTF-8 text"),
        (orjson.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "BF16",
                                   "parameters": {"binary_data_size": 2}}]}) + b"\0\0",
         None, "inputs.0.datatype: 'BF16' cannot be sent as binary data"),
    ],
)  # fmt: skip
def test_malformed_binary_bodies_say_what_is_wrong(
    body: bytes, length: str | None, message: str
) -> None:
    if length is None:  # the header is everything up to the first NUL or length prefix
        length = str(body.index(b"}]}") + 3)
    with pytest.raises(BinaryDataError) as raised:
        split_request(body, length)
    assert message in str(raised.value)


def test_a_binary_request_answers_as_its_json_twin(client: TestClient) -> None:
    rows = [(30, 40.5, "FR"), (61, 70.0, "US")]
    body, length = binary_body(rows)
    binary = client.post(INFER, content=body,
                         headers={"Inference-Header-Content-Length": length})  # fmt: skip
    inputs = [{"name": "age", "shape": [2], "datatype": "INT64", "data": [30, 61]},
              {"name": "income", "shape": [2], "datatype": "FP64", "data": [40.5, 70.0]},
              {"name": "country", "shape": [2], "datatype": "BYTES",
               "data": ["FR", "US"]}]  # fmt: skip
    plain = client.post(INFER, json={"inputs": inputs})
    assert binary.status_code == plain.status_code == 200
    assert binary.headers["content-type"] == "application/json"  # no binary output asked for
    assert binary.json()["outputs"] == plain.json()["outputs"]


def test_binary_outputs_follow_the_json_header(client: TestClient) -> None:
    body, length = binary_body([(30, 40.5, "FR"), (61, 70.0, "US")],
                               parameters={"binary_data_output": True},
                               outputs=[{"name": "predict"},
                                        {"name": "predict_proba",
                                         "parameters": {"binary_data": False}}])  # fmt: skip
    response = client.post(INFER, content=body,
                           headers={"Inference-Header-Content-Length": length})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    size = int(response.headers["inference-header-content-length"])
    header = orjson.loads(response.content[:size])
    predict, proba = header["outputs"]
    assert "data" not in predict
    assert predict["parameters"]["binary_data_size"] == len(response.content) - size
    labels = decode_tensor(response.content[size:], "BYTES", predict["shape"], "predict")
    assert len(labels) == 2
    assert set(labels) <= {"approve", "deny"}
    assert len(proba["data"]) == 4  # binary_data false: JSON, as asked


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"parameters": {"binary_data_output": "yes"}},
         "parameters.binary_data_output: must be true or false"),
        ({"outputs": [{"name": "predict", "parameters": {"binary_data": 1}}]},
         "outputs.0.parameters.binary_data: must be true or false"),
    ],
)  # fmt: skip
def test_binary_output_parameters_are_checked(
    client: TestClient, parameters: dict[str, Any], message: str
) -> None:
    body, length = binary_body([(30, 40.5, "FR")], **parameters)
    response = client.post(INFER, content=body,
                           headers={"Inference-Header-Content-Length": length})  # fmt: skip
    assert (response.status_code, response.json()["error"]) == (400, message)


def test_validation_of_binary_inputs_is_field_level(client: TestClient) -> None:
    body, length = binary_body([(30, 40.5, "XX")])
    response = client.post(INFER, content=body,
                           headers={"Inference-Header-Content-Length": length})  # fmt: skip
    assert response.status_code == 400
    assert "feature 'country': unknown category 'XX'" in response.json()["error"]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cut=st.integers(0, 400),
       length=st.one_of(st.integers(-5, 500).map(str), st.text(max_size=5)),
       noise=st.binary(max_size=40))  # fmt: skip
def test_mangled_binary_bodies_never_5xx(
    client: TestClient, cut: int, length: str, noise: bytes
) -> None:
    body, _ = binary_body([(30, 40.5, "FR"), (61, 70.0, "US")])
    mangled = body[:cut] + noise + body[cut:]
    try:
        header = {"Inference-Header-Content-Length": length}
        response = client.post(INFER, content=mangled, headers=header)
    except UnicodeEncodeError:  # httpx refuses a non-latin-1 header value: nothing was sent
        return
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert "error" in response.json()


def test_a_lone_tensor_named_like_a_feature_is_a_tensor() -> None:
    """Without a profile the features are input-0..input-2; MLServer's NumPy codec names its
    [N, F] tensor input-1."""
    schema = schema_from_model(3, None)
    tensor = {"name": "input-1", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}
    request = InferenceRequest.model_validate({"inputs": [tensor]})
    batch = decode(request.inputs, schema)
    assert batch.rows == 2
    assert batch.numeric.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_grpc_port_settings() -> None:
    base = ["--model-name", "m", "--model-uri", "file:///m"]
    assert from_arguments(base, {}).grpc_port is None
    assert from_arguments([*base, "--grpc-port", "8081"], {}).grpc_port == 8081
    assert from_arguments(base, {"MODELSHIP_GRPC_PORT": "9001"}).grpc_port == 9001
    assert from_arguments(base, {"MODELSHIP_GRPC_PORT": "off"}).grpc_port is None
    for value, message in (("80801", "expected a port number"), ("8080", "the REST port too")):
        with pytest.raises(SettingsError, match=message):
            from_arguments([*base, "--grpc-port", value], {})


def test_health_and_readiness_answer_the_protocols_json(client: TestClient, credit: Any) -> None:
    from credit_model import settings_for
    from modelship.server.app import create_app

    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/credit/ready").json() == {"name": "credit", "ready": True}
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
    broken = create_app(settings_for(credit, model_uri="file:///nonexistent/model.joblib"),
                        load_in_background=False)  # fmt: skip
    with TestClient(broken, raise_server_exceptions=False) as failed:
        assert failed.get("/v2/health/live").json() == {"live": True}
        ready = failed.get("/v2/health/ready")
        assert ready.status_code == 400  # the protocol's "false"; the readiness probe fails
        assert ready.json()["ready"] is False
        assert "model 'credit' is not ready: " in ready.json()["error"]
        assert failed.get("/v2/models/credit/ready").json()["ready"] is False
