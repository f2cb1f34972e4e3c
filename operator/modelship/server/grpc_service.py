"""The Open Inference Protocol's gRPC service, `inference.GRPCInferenceService`, beside REST.

It runs on the REST server's event loop (grpc.aio) and calls the same ModelServer: a gRPC
request becomes the InferenceRequest a JSON body would, so validation, field-level messages,
the metrics contract (the same series, the same labels) and the micro-batches are shared,
and the same input gives the same answer over either protocol. Outputs are answered in
`raw_output_contents`, as Triton does (its client reads only those; KServe's reads both).

Status codes: a REST 400 is INVALID_ARGUMENT, 404 NOT_FOUND, 503 UNAVAILABLE, 500 INTERNAL,
401 UNAUTHENTICATED; a message over --max-request-bytes is RESOURCE_EXHAUSTED. The bearer
token, when configured, is read from the `authorization` metadata; health and readiness stay
open, as over REST.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import grpc
import structlog
from grpc import aio

from modelship import __version__
from modelship.api.common import RejectReason
from modelship.server.auth import REFUSALS
from modelship.server.binary import BinaryDataError, decode_tensor, encode_tensor, text
from modelship.server.oip import open_inference_pb2 as pb
from modelship.server.oip import open_inference_pb2_grpc as pb_grpc
from modelship.server.protocol import InferenceRequest, datatype_of

if TYPE_CHECKING:
    from modelship.server.app import Inferred, ModelServer
    from modelship.server.settings import Settings

log = structlog.get_logger("modelship.server")

# Datatype -> the InferTensorContents field that carries it (FP16 only travels raw).
CONTENTS = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
    "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
    "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}  # fmt: skip
STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def parameters(entries: Any) -> dict[str, Any]:
    """A protobuf map of InferParameter as plain values."""
    return {key: getattr(value, value.WhichOneof("parameter_choice") or "string_param")
            for key, value in entries.items()}  # fmt: skip


def request_payload(request: pb.ModelInferRequest) -> dict[str, Any]:
    """The ModelInferRequest as the JSON body REST would receive (then validated alike)."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise BinaryDataError(f"raw_input_contents has {len(raw)} entries for "
                              f"{len(request.inputs)} inputs; send one per input")  # fmt: skip
    inputs = []
    for i, tensor in enumerate(request.inputs):
        where, shape = f"inputs.{i}", list(tensor.shape)
        if raw:
            if tensor.HasField("contents"):
                raise BinaryDataError(f"{where}: has contents and raw_input_contents; send one")
            data = decode_tensor(raw[i], tensor.datatype, shape, where)
        else:
            field = CONTENTS.get(tensor.datatype)
            values = getattr(tensor.contents, field) if field else []
            if tensor.datatype == "BYTES":
                data = [text(v, f"{where}: BYTES element {k}") for k, v in enumerate(values)]
            else:
                data = list(values)
            if tensor.datatype == "FP16":
                raise BinaryDataError(f"{where}: FP16 has no contents field; send it in "
                                      "raw_input_contents")  # fmt: skip
        item = {"name": tensor.name, "shape": shape, "datatype": tensor.datatype, "data": data}
        if tensor.parameters:
            item["parameters"] = parameters(tensor.parameters)
        inputs.append(item)
    payload: dict[str, Any] = {"inputs": inputs}
    if request.id:
        payload["id"] = request.id
    if request.parameters:
        payload["parameters"] = parameters(request.parameters)
    if request.outputs:
        payload["outputs"] = [{"name": o.name, "parameters": parameters(o.parameters)}
                              for o in request.outputs]  # fmt: skip
    return payload


def infer_response(inferred: Inferred) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(
        model_name=inferred.model_name, model_version=inferred.model_version, id=inferred.id
    )
    for name, array in inferred.arrays.items():
        datatype = datatype_of(array)
        response.outputs.add(name=name, datatype=datatype, shape=list(array.shape))
        response.raw_output_contents.append(encode_tensor(array, datatype))
    return response


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, server: ModelServer) -> None:
        self.server = server

    async def _authorize(self, context: aio.ServicerContext) -> None:
        auth = self.server.auth
        if auth is None:
            return
        header = next((v for k, v in context.invocation_metadata() or () if k == "authorization"),
                      "")  # fmt: skip
        value = header if isinstance(header, bytes) else header.encode("latin-1", "replace")
        reason = auth.refusal(value)
        if reason is not None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSALS[reason][0])

    async def _known(self, name: str, version: str, context: aio.ServicerContext) -> None:
        unknown = self.server.unknown_model(name, version)
        if unknown is not None:
            await context.abort(grpc.StatusCode.NOT_FOUND, unknown)

    async def ServerLive(self, request: Any, context: aio.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: aio.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerReadyResponse(ready=self.server.ready)

    async def ModelReady(self, request: Any, context: aio.ServicerContext) -> Any:  # noqa: N802
        await self._known(request.name, request.version, context)
        return pb.ModelReadyResponse(ready=self.server.ready)

    async def ServerMetadata(self, request: Any, context: aio.ServicerContext) -> Any:  # noqa: N802
        from modelship.server.app import EXTENSIONS

        await self._authorize(context)
        return pb.ServerMetadataResponse(name="modelship", version=__version__,
                                         extensions=list(EXTENSIONS))  # fmt: skip

    async def ModelMetadata(self, request: Any, context: aio.ServicerContext) -> Any:  # noqa: N802
        await self._authorize(context)
        await self._known(request.name, request.version, context)
        metadata = self.server.metadata()

        def tensors(items: list[dict[str, Any]]) -> list[Any]:
            return [pb.ModelMetadataResponse.TensorMetadata(
                        name=t["name"], datatype=t["datatype"], shape=t["shape"])
                    for t in items]  # fmt: skip

        return pb.ModelMetadataResponse(
            name=metadata["name"], versions=metadata["versions"], platform=metadata["platform"],
            inputs=tensors(metadata["inputs"]), outputs=tensors(metadata["outputs"]),
        )  # fmt: skip

    async def ModelInfer(self, request: Any, context: aio.ServicerContext) -> Any:  # noqa: N802
        from modelship.server.app import Refused

        await self._authorize(context)  # refused requests are not inference requests
        server = self.server
        started = time.perf_counter()
        try:
            server.check_model(request.model_name, request.model_version)
            payload = server.parse(lambda: InferenceRequest.model_validate(
                request_payload(request)))  # fmt: skip
            if (payload.parameters or {}).get("explain") is True:
                # The response has no place for them: explanations are REST's (/explain).
                raise server.refuse("parameters.explain: explanations are served over REST "
                                    "only (POST /v2/models/{name}/explain or parameters.explain "
                                    "on /infer)", RejectReason.INVALID_REQUEST)  # fmt: skip
            inferred = await server.run(payload)
        except Refused as refused:
            server.counted(refused)
            server.metrics.observe_request(refused.outcome, time.perf_counter() - started)
            await context.abort(STATUS.get(refused.status, grpc.StatusCode.UNKNOWN),
                                refused.message)  # fmt: skip
        response = infer_response(inferred)
        server.metrics.observe_request("success", time.perf_counter() - started)
        return response


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_grpc(server: ModelServer, settings: Settings) -> aio.Server:
    """The gRPC server, listening; a port already in use fails the start with its address."""
    assert settings.grpc_port is not None
    grpc_server = aio.server(
        options=[
            ("grpc.max_receive_message_length", settings.max_request_bytes),
            # Fail on a port in use instead of silently sharing it with another process (worker
            # processes of one server that share a port would need it on).
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceService(server), grpc_server)  # type: ignore[no-untyped-call]
    where = address(settings.host, settings.grpc_port)
    try:
        grpc_server.add_insecure_port(where)
    except RuntimeError as err:
        message = f"cannot listen for gRPC on {where} (--grpc-port): {err}"
        log.error(message)
        raise RuntimeError(message) from None  # uvicorn stops: startup failed
    await grpc_server.start()
    log.info("serving gRPC", address=where)
    return grpc_server
