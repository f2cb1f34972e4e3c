"""Calls `modelship serve` through kserve's InferenceRESTClient and InferenceGRPCClient.

Run as a subprocess (kserve and tritonclient register the same protobuf names, so they cannot
share a process): a JSON spec on stdin, {"rest", "grpc", "model", "columns"}; the answers as
JSON on stdout. Every client setting is kserve's default except the REST client's protocol,
"v2" (its default is v1, which this server does not speak).
"""

from __future__ import annotations

import asyncio
import json
import sys
from importlib.metadata import version
from typing import Any

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput


def request(model: str, columns: dict[str, list[Any]], outputs: list[str] | None) -> InferRequest:
    inputs = []
    for name, values in columns.items():
        array = np.array(values)
        if array.dtype.kind == "U":
            array = array.astype(object)
        datatype = {"i": "INT64", "f": "FP64", "O": "BYTES"}[array.dtype.kind]
        tensor = InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)  # kserve's default: binary
        inputs.append(tensor)
    asked = [RequestedOutput(name) for name in outputs] if outputs else None
    return InferRequest(model_name=model, infer_inputs=inputs, request_outputs=asked)


def answers(response: Any) -> dict[str, list[Any]]:
    found = {}
    for output in response.outputs:
        values = output.as_numpy().tolist()  # nested as the output's shape
        found[output.name] = [v.decode() if isinstance(v, bytes) else v for v in values]
    return found


async def rest(url: str, model: str, columns: dict[str, list[Any]]) -> dict[str, Any]:
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    try:
        plain = await client.infer(url, request(model, columns, None), model_name=model)
        both = await client.infer(url, request(model, columns, ["predict", "predict_proba"]),
                                  model_name=model)  # fmt: skip
        return {
            "live": await client.is_server_live(url),
            "ready": await client.is_server_ready(url),
            "model_ready": await client.is_model_ready(url, model),
            "predict": answers(plain)["predict"],
            "predict_proba": answers(both)["predict_proba"],
        }
    finally:
        await client.close()


async def grpc(url: str, model: str, columns: dict[str, list[Any]]) -> dict[str, Any]:
    client = InferenceGRPCClient(url)
    try:
        plain = await client.infer(request(model, columns, None))
        both = await client.infer(request(model, columns, ["predict", "predict_proba"]))
        return {
            "live": await client.is_server_live(),
            "ready": await client.is_server_ready(),
            "model_ready": await client.is_model_ready(model),
            "predict": answers(plain)["predict"],
            "predict_proba": answers(both)["predict_proba"],
        }
    finally:
        await client.close()


async def main() -> None:
    spec = json.load(sys.stdin)
    model, columns = spec["model"], spec["columns"]
    found = {
        "version": version("kserve"),
        "rest": await rest(spec["rest"], model, columns),
        "grpc": await grpc(spec["grpc"], model, columns),
    }
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
