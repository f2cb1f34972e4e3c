"""The floor: modelship's HTTP stack with nothing behind it.

The same Starlette + uvicorn (uvloop, httptools) configuration as `modelship serve`
(modelship.server.main.uvicorn_options), and one POST route that reads the body and answers a
fixed v2-shaped JSON through the same orjson response, so the gap between it and modelship's
/infer is the whole cost of the inference path. argv: port.
"""

from __future__ import annotations

import sys

import uvicorn
from modelship.server.app import json_response
from modelship.server.main import uvicorn_options
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

OUTPUT = {"name": "predict", "shape": [1], "datatype": "INT64", "data": [1]}
ANSWER = {"model_name": "bench", "id": "1", "parameters": {}, "outputs": [OUTPUT]}


async def noop(request: Request) -> Response:
    await request.body()
    return json_response(ANSWER)


async def ready(request: Request) -> Response:
    return Response(status_code=200)


app = Starlette(routes=[Route("/noop", noop, methods=["POST"]),
                        Route("/v2/health/ready", ready, methods=["GET"])])  # fmt: skip

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), **uvicorn_options())
