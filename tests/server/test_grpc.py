"""The gRPC service of a real `modelship serve`: the same answers, errors, metrics and auth as
REST (called through the server's own stubs; real clients are in test_real_clients.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
from credit_model import FEATURES, TrainedModel, columnar
from modelship.server.binary import decode_tensor, encode_tensor
from modelship.server.oip import open_inference_pb2 as pb
from modelship.server.oip import open_inference_pb2_grpc as pb_grpc
from modelship_testing.cluster import free_port
from served_process import ServerProcess, call, moved, scrape, serving, start_server

BASE = 'model="credit",version="3",revision="r1"'
DATATYPES = {"age": "INT64", "income": "FP64", "country": "BYTES"}
CONTENTS = {"INT64": "int64_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents"}
OUTPUTS = ("predict", "predict_proba")


def stub(port: int) -> Any:
    return pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))


def infer_request(rows: list[dict[str, Any]], raw: bool = False, model: str = "credit") -> Any:
    request = pb.ModelInferRequest(model_name=model, id="g1")
    for name in FEATURES:
        values = [r[name] for r in rows]
        tensor = request.inputs.add(name=name, datatype=DATATYPES[name], shape=[len(rows)])
        if raw:
            import numpy as np

            array = np.array(values, dtype=object if name == "country" else None)
            request.raw_input_contents.append(encode_tensor(array, DATATYPES[name]))
        elif name == "country":
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        else:
            getattr(tensor.contents, CONTENTS[DATATYPES[name]]).extend(values)
    for name in OUTPUTS:
        request.outputs.add(name=name)
    return request


def grpc_outputs(response: Any) -> dict[str, list[Any]]:
    return {
        output.name: decode_tensor(raw, output.datatype, list(output.shape), output.name)
        for output, raw in zip(response.outputs, response.raw_output_contents, strict=True)
    }


def error_of(call_: Any, request: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call_(request, timeout=10, **kwargs)
    return raised.value


@pytest.fixture(scope="module")
def rows(trained: TrainedModel) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = (
        trained.data[FEATURES].sample(30, random_state=8).to_dict("records")
    )
    return records


def test_grpc_and_rest_give_the_same_answers(
    served_grpc: tuple[ServerProcess, int], rows: list[dict[str, Any]], trained: TrainedModel
) -> None:
    handle, port = served_grpc
    service = stub(port)
    outputs = [{"name": n} for n in OUTPUTS]
    status, body = call(handle, "/v2/models/credit/infer",
                        {"id": "g1", **columnar(rows), "outputs": outputs})  # fmt: skip
    assert status == 200
    rest = {o["name"]: o["data"] for o in body["outputs"]}
    typed = service.ModelInfer(infer_request(rows), timeout=10)
    raw = service.ModelInfer(infer_request(rows, raw=True), timeout=10)
    assert (typed.model_name, typed.model_version, typed.id) == ("credit", "3", "g1")
    assert grpc_outputs(typed) == rest
    assert grpc_outputs(raw) == rest
    frame = pd.DataFrame(rows)[FEATURES]
    assert rest["predict"] == [str(p) for p in trained.model.predict(frame)]
    assert rest["predict_proba"] == trained.model.predict_proba(frame).ravel().tolist()
    assert [o.shape for o in typed.outputs] == [[30], [30, 2]]


def test_health_and_metadata(served_grpc: tuple[ServerProcess, int]) -> None:
    handle, port = served_grpc
    service = stub(port)
    assert service.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    assert service.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
    assert service.ModelReady(pb.ModelReadyRequest(name="credit"), timeout=10).ready
    metadata = service.ModelMetadata(pb.ModelMetadataRequest(name="credit"), timeout=10)
    _, rest = call(handle, "/v2/models/credit")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        (t["name"], t["datatype"], t["shape"]) for t in rest["inputs"]
    ]
    assert (metadata.name, list(metadata.versions), metadata.platform) == (
        "credit", ["3"], "modelship-sklearn"
    )  # fmt: skip
    server = service.ServerMetadata(pb.ServerMetadataRequest(), timeout=10)
    assert "binary_tensor_data" in server.extensions
    missing = error_of(service.ModelReady, pb.ModelReadyRequest(name="nope"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_validation_errors_are_the_same_as_rest(
    served_grpc: tuple[ServerProcess, int], rows: list[dict[str, Any]]
) -> None:
    handle, port = served_grpc
    service = stub(port)
    bad = [{**rows[0], "country": "XX"}]
    _, rest = call(handle, "/v2/models/credit/infer", columnar(bad))
    failure = error_of(service.ModelInfer, infer_request(bad))
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.details() == rest["error"]
    assert "unknown category 'XX'" in failure.details()

    short = infer_request(rows[:2], raw=True)
    del short.raw_input_contents[-1]
    failure = error_of(service.ModelInfer, short)
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.details() == "raw_input_contents has 2 entries for 3 inputs; send one per input"

    truncated = infer_request(rows[:2], raw=True)
    truncated.raw_input_contents[1] = truncated.raw_input_contents[1][:-3]
    failure = error_of(service.ModelInfer, truncated)
    assert failure.details() == "inputs.1: shape [2] of FP64 needs 16 bytes of binary data, not 13"

    unknown = error_of(service.ModelInfer, infer_request(rows[:1], model="other"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND

    asking = infer_request(rows[:1])
    asking.parameters["explain"].bool_param = True
    failure = error_of(service.ModelInfer, asking)
    assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.details().startswith("parameters.explain: explanations are served over REST")


def test_grpc_requests_are_in_the_metrics_contract(
    served_grpc: tuple[ServerProcess, int], rows: list[dict[str, Any]]
) -> None:
    handle, port = served_grpc
    service = stub(port)
    before = scrape(handle)
    service.ModelInfer(infer_request(rows[:4]), timeout=10)
    error_of(service.ModelInfer, infer_request([{**rows[0], "country": "XX"}]))
    after = scrape(handle)
    grew = partial(moved, before, after)
    assert grew(f'modelship_requests_total{{{BASE},outcome="success"}}') == 1
    assert grew(f'modelship_requests_total{{{BASE},outcome="client_error"}}') == 1
    assert grew(f'modelship_requests_rejected_total{{{BASE},reason="unknownCategory"}}') == 1
    assert grew(f"modelship_request_duration_seconds_count{{{BASE}}}") == 2
    countries = [r["country"] for r in rows[:4]]
    for country in set(countries):
        series = (
            f'modelship_feature_category_total{{{BASE},feature="country",category="{country}"}}'
        )
        assert grew(series) == countries.count(country)


@pytest.fixture(scope="module")
def guarded(trained: TrainedModel) -> Iterator[tuple[ServerProcess, int]]:
    grpc_port = free_port()
    argv = ["--grpc-port", str(grpc_port), "--max-request-bytes", "4096"]
    with serving(trained, argv, MODELSHIP_AUTH_TOKEN="s3cret-token") as handle:
        yield handle, grpc_port


def test_the_bearer_token_guards_grpc(
    guarded: tuple[ServerProcess, int], rows: list[dict[str, Any]]
) -> None:
    handle, port = guarded
    service = stub(port)
    assert service.ServerReady(pb.ServerReadyRequest(), timeout=10).ready  # probes need none
    before = scrape(handle)
    missing = error_of(service.ModelInfer, infer_request(rows[:2]))
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing bearer token" in missing.details()
    wrong = error_of(service.ModelInfer, infer_request(rows[:2]),
                     metadata=[("authorization", "Bearer nope")])  # fmt: skip
    assert (wrong.code(), wrong.details()) == (grpc.StatusCode.UNAUTHENTICATED,
                                               "invalid bearer token")  # fmt: skip
    metadata = error_of(service.ModelMetadata, pb.ModelMetadataRequest(name="credit"))
    assert metadata.code() == grpc.StatusCode.UNAUTHENTICATED
    answer = service.ModelInfer(infer_request(rows[:2]), timeout=10,
                                metadata=[("authorization", "Bearer s3cret-token")])  # fmt: skip
    assert len(answer.raw_output_contents) == 2
    after = scrape(handle, token="s3cret-token")
    grew = partial(moved, before, after)
    success = f'modelship_requests_total{{{BASE},outcome="success"}}'
    errors = f'modelship_requests_total{{{BASE},outcome="client_error"}}'
    assert grew(success) == 1  # refusals are not inference requests
    assert grew(errors) == 0
    for reason, count in (("missing", 2), ("invalid", 1)):
        series = f'modelship_unauthorized_requests_total{{{BASE},reason="{reason}"}}'
        assert grew(series) == count


def test_a_message_over_the_size_limit_is_refused(
    guarded: tuple[ServerProcess, int], rows: list[dict[str, Any]]
) -> None:
    _, port = guarded
    big = infer_request(rows * 40)  # 1200 rows: well over --max-request-bytes 4096
    assert big.ByteSize() > 4096
    refused = error_of(stub(port).ModelInfer, big,
                       metadata=[("authorization", "Bearer s3cret-token")])  # fmt: skip
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_grpc_port_in_use_stops_the_server_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        handle = start_server(tmp_path, ["--model-name", "m", "--model-uri", f"file://{tmp_path}",
                                         "--grpc-port", str(port)])  # fmt: skip
        try:
            assert handle.proc.wait(timeout=60) != 0
        finally:
            handle.stop()
    assert f"cannot listen for gRPC on 127.0.0.1:{port} (--grpc-port)" in handle.log.read_text()
