"""Requests encoded by MLServer's codecs, sent to `modelship serve`, answers decoded by them.

Runs in its own virtualenv (MLServer's pins clash with kserve's): a JSON spec on stdin,
{"frame": {"url", "model", "columns"}, "tensor": {"url", "model", "rows"}}; the decoded
answers as JSON on stdout. PandasCodec encodes a DataFrame (one input per column), NumpyCodec
(NumpyRequestCodec) a [N, F] array (one input); the bodies are sent as MLServer serialises them.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
from mlserver.codecs import NumpyCodec, NumpyRequestCodec, PandasCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse


def post(url: str, model: str, request: InferenceRequest) -> InferenceResponse:
    body = request.model_dump_json(exclude_none=True).encode()
    http = urllib.request.Request(f"{url}/v2/models/{model}/infer", data=body,
                                  headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            return InferenceResponse.model_validate_json(response.read())
    except urllib.error.HTTPError as err:
        raise SystemExit(f"{err.code} from {model}: {err.read().decode()[:2000]}") from None


def decoded(response: InferenceResponse) -> list[Any]:
    output = response.outputs[0]
    if output.datatype == "BYTES":
        return list(StringCodec.decode_output(output))
    values: list[Any] = NumpyCodec.decode_output(output).ravel().tolist()
    return values


def main() -> None:
    spec = json.load(sys.stdin)
    frame, tensor = spec["frame"], spec["tensor"]
    frame_request = PandasCodec.encode_request(pd.DataFrame(frame["columns"]))
    tensor_request = NumpyRequestCodec.encode_request(np.asarray(tensor["rows"], dtype=np.float64))
    found = {
        "version": version("mlserver"),
        "frame": decoded(post(frame["url"], frame["model"], frame_request)),
        "tensor": decoded(post(tensor["url"], tensor["model"], tensor_request)),
    }
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
