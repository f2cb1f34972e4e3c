"""Calls `modelship serve` through tritonclient's http and grpc clients, defaults unchanged.

Run as a subprocess (tritonclient and kserve register the same protobuf names, so they cannot
share a process): a JSON spec on stdin, {"rest", "grpc", "model", "columns"}; the answers as
JSON on stdout. Inputs go as binary tensors, tritonclient's default.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import np_to_triton_dtype


def as_array(values: list[Any]) -> np.ndarray[Any, Any]:
    array = np.array(values)
    return array.astype(object) if array.dtype.kind == "U" else array


def decoded(array: np.ndarray[Any, Any]) -> list[Any]:
    return [v.decode() if isinstance(v, bytes) else v for v in array.ravel().tolist()]


def calls(module: Any, url: str, model: str, columns: dict[str, list[Any]]) -> dict[str, Any]:
    client = module.InferenceServerClient(url=url)
    inputs = []
    for name, values in columns.items():
        array = as_array(values)
        tensor = module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer(model, inputs)
    metadata = client.get_model_metadata(model)
    names = [t["name"] if isinstance(t, dict) else t.name for t in (
        metadata["inputs"] if isinstance(metadata, dict) else metadata.inputs)]  # fmt: skip
    asked = [module.InferRequestedOutput("predict"), module.InferRequestedOutput("predict_proba")]
    both = client.infer(model, inputs, outputs=asked)
    return {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "metadata_inputs": names,
        "predict": decoded(result.as_numpy("predict")),
        "predict_proba": both.as_numpy("predict_proba").tolist(),
    }


def main() -> None:
    spec = json.load(sys.stdin)
    answers = {
        "version": version("tritonclient"),
        "http": calls(httpclient, spec["rest"].removeprefix("http://"), spec["model"],
                      spec["columns"]),
        "grpc": calls(grpcclient, spec["grpc"], spec["model"], spec["columns"]),
    }  # fmt: skip
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
