"""A scikit-learn model served by KServe's Python model server (the `kserve` package).

The same as KServe's own sklearnserver does: `get_predict_input` turns the v2 request into a
NumPy array, `predict` runs, `get_predict_response` writes the v2 response. Runs in its own
virtualenv (bench/serving/run.py makes it); argv: model path, name, HTTP port, gRPC port.
"""

from __future__ import annotations

import sys
from typing import Any

import joblib
from kserve import Model, ModelServer
from kserve.utils.utils import get_predict_input, get_predict_response


class SKLearnModel(Model):  # type: ignore[misc]
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.model: Any = None

    def load(self) -> bool:
        self.model = joblib.load(self.path)
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
        instances = get_predict_input(payload)
        return get_predict_response(payload, self.model.predict(instances), self.name)


if __name__ == "__main__":
    path, name, http_port, grpc_port = sys.argv[1:5]
    model = SKLearnModel(name, path)
    model.load()
    ModelServer(http_port=int(http_port), grpc_port=int(grpc_port), workers=1).start([model])
