"""A scikit-learn model as a BentoML service, taking the same v2 body as the other servers.

The API's one parameter is named `inputs`, so the body `{"inputs": [{"name", "shape",
"datatype", "data"}]}` binds to it unchanged; the answer is a v2-style `outputs` list. Runs in
its own virtualenv: `python -m bentoml serve bento_service:Bench` with BENCH_MODEL set.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=1)
class Bench:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api
    def infer(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        tensor = inputs[0]
        rows = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
        predicted = self.model.predict(rows)
        return {"model_name": "bench", "outputs": [
            {"name": "predict", "shape": [len(predicted)], "datatype": "INT64",
             "data": predicted.tolist()}]}  # fmt: skip
