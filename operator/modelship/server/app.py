"""The Starlette application: Open Inference Protocol v2 routes, feedback and /metrics.

Inference runs inline on the event loop: for the small tabular models this server is for, a
thread hop costs more than the prediction. Scale with replicas, or with `--workers N` for N
cores per pod (server/workers.py: the workers merge their metrics and share feedback).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd
import structlog
from numpy.typing import NDArray
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelship import __version__
from modelship.api.common import RejectReason
from modelship.profile.schema import CategoricalDistribution, NumericDistribution, Profile
from modelship.profile.schema import load_profile as read_profile
from modelship.server.auth import BearerAuth, Handler
from modelship.server.batching import MicroBatcher
from modelship.server.binary import (
    HEADER_LENGTH,
    OCTET_STREAM,
    BinaryDataError,
    binary_outputs,
    render_response,
    split_request,
)
from modelship.server.contract import CONTENT_TYPE, ContractMetrics, MetricsLayout
from modelship.server.explain import (
    Attributions,
    Explainer,
    ExplainUnavailableError,
    LazyExplainer,
    check_rows,
    explain_body,
    explain_parameters,
    top_reasons,
)
from modelship.server.exposition import merge
from modelship.server.feedback import FeedbackCache, Remembered
from modelship.server.loader import ModelLoadError, artifact_file, fetch
from modelship.server.metrics import category_labels
from modelship.server.protocol import (
    FeedbackRequest,
    InferenceRequest,
    datatype_of,
    describe_validation_error,
    wrong_number_types,
)
from modelship.server.runtimes import PREDICT, PREDICT_PROBA, ModelRuntime, load_runtime
from modelship.server.schema import (
    Batch,
    CategoricalSpec,
    InputSchema,
    InvalidInputError,
    NumericSpec,
    decode,
    missing_values,
    schema_from_model,
    schema_from_profile,
)
from modelship.server.settings import Settings
from modelship.server.workers import PeerError, Peers, from_peer, new_id_prefix

log = structlog.get_logger("modelship.server")
JSON = "application/json"
# Protocol extensions served, as the server metadata names them (Triton's names).
EXTENSIONS = ("binary_tensor_data",)


def json_response(body: Any, status: int = 200) -> Response:
    content = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, status_code=status, media_type=JSON)


MAX_MESSAGE = 1000  # a message quotes the client's value; a megabyte value is cut, not echoed


def error(message: str, status: int = 400) -> Response:
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 40] + f"... ({len(message)} characters)"
    return json_response({"error": message}, status)


@dataclass(frozen=True)
class Served:
    """A loaded model with everything the hot path needs precomputed."""

    runtime: ModelRuntime
    schema: InputSchema
    classifier: bool
    frame_columns: list[str] | None  # call the model with a DataFrame in this column order
    numeric_index: dict[str, int]
    fairness_sources: dict[str, str]  # attribute -> "categorical" | "numeric" | "extra"
    score_class: str | None = None  # a binary classifier's positive class: its scores count


def metrics_layout(profile: Profile | None, runtime: ModelRuntime | None) -> MetricsLayout:
    if profile is None:
        classes = runtime.classes if runtime else None
        return MetricsLayout(
            prediction_classes=category_labels(classes) if classes is not None else None,
            target_classes=category_labels(classes) if classes is not None else None,
        )
    numeric = [f for f in profile.features if isinstance(f.distribution, NumericDistribution)]
    categorical = {
        f.name: f.distribution.categories
        for f in profile.features
        if isinstance(f.distribution, CategoricalDistribution)
    }
    prediction, target = profile.prediction.distribution, profile.target.distribution
    return MetricsLayout(
        numeric_features=[f.name for f in numeric],
        numeric_edges=[f.distribution.edges for f in numeric],
        numeric_ranges=[(f.distribution.min, f.distribution.max) for f in numeric],
        categorical_features=categorical,
        prediction_classes=prediction.categories
        if isinstance(prediction, CategoricalDistribution)
        else None,
        prediction_edges=prediction.edges if isinstance(prediction, NumericDistribution) else None,
        target_classes=target.categories if isinstance(target, CategoricalDistribution) else None,
        target_edges=target.edges if isinstance(target, NumericDistribution) else None,
        fairness_groups={a.name: a.groups for a in profile.fairness},
    )


def score_class(runtime: ModelRuntime, classifier: bool) -> str | None:
    """The positive class of a binary classifier with predict_proba (sklearn's classes_[1],
    whose probability is column 1), else None."""
    classes = runtime.classes
    if not classifier or classes is None or len(classes) != 2:
        return None
    return category_labels(classes)[1] if PREDICT_PROBA in runtime.outputs else None


def prepare(runtime: ModelRuntime, profile: Profile | None, scores: bool = True) -> Served:
    """Check the model against the profile and precompute the hot path's lookups."""
    if profile is None:
        schema = schema_from_model(runtime.n_features, runtime.feature_names)
        classifier = runtime.classes is not None
        fairness: dict[str, str] = {}
    else:
        schema = schema_from_profile(profile)
        classifier = isinstance(profile.prediction.distribution, CategoricalDistribution)
        if runtime.n_features is not None and runtime.n_features != len(schema.names):
            raise ModelLoadError(
                f"the model takes {runtime.n_features} features but the profile has "
                f"{len(schema.names)}: {', '.join(schema.names)}"
            )
        missing = [n for n in runtime.feature_names or [] if n not in schema.names]
        if missing:
            raise ModelLoadError(f"the profile lacks features the model needs: {missing}")
        kinds = {f.name: f for f in schema.features or ()}
        fairness = {}
        for attribute in profile.fairness:
            spec = kinds.get(attribute.name)
            if spec is None:
                fairness[attribute.name] = "extra"
            else:
                fairness[attribute.name] = (
                    "categorical" if isinstance(spec, CategoricalSpec) else "numeric"
                )
    numeric_index = {spec.name: i for i, spec in enumerate(schema.numeric)}
    frame = runtime.feature_names
    if frame is None and schema.categorical:
        frame = list(schema.names)  # mixed types need a DataFrame anyway
    positive = score_class(runtime, classifier) if scores else None
    return Served(runtime, schema, classifier, frame, numeric_index, fairness, positive)


def model_input(served: Served, batch: Batch) -> Any:
    if served.frame_columns is None:
        return batch.numeric
    columns: dict[str, Any] = {}
    for name in served.frame_columns:
        if name in served.numeric_index:
            columns[name] = batch.numeric[:, served.numeric_index[name]]
        else:
            columns[name] = np.asarray(batch.categorical[name], dtype=object)
    return pd.DataFrame(columns)


def fairness_groups(served: Served, batch: Batch) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for attribute, source in served.fairness_sources.items():
        if source == "categorical":
            groups[attribute] = batch.categorical[attribute]
        elif source == "numeric":
            groups[attribute] = category_labels(batch.numeric[:, served.numeric_index[attribute]])
        elif attribute in batch.extra_attributes:
            groups[attribute] = batch.extra_attributes[attribute]
    return groups


def input_datatype(spec: NumericSpec | CategoricalSpec) -> str:
    if isinstance(spec, CategoricalSpec):
        return "BYTES"
    return "INT64" if spec.integer else "FP64"


def output_array(array: NDArray[Any]) -> NDArray[Any]:
    """Labels as str objects (BYTES), numbers as they are."""
    if array.dtype.kind in "OUS":
        return np.array([str(v) for v in array.ravel().tolist()], dtype=object).reshape(array.shape)
    return array


def output_tensor(name: str, array: NDArray[Any]) -> dict[str, Any]:
    data: Any = array.ravel()
    if array.dtype.kind == "O":
        data = data.tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype_of(array), "data": data}


class Rejection(NamedTuple):
    """How a client's error is counted in the rejection metrics."""

    reason: RejectReason
    rows: int
    missing: dict[str, int] | None


class Refused(Exception):  # noqa: N818 - a refusal is an answer, not a fault of the server
    """An inference request answered with an error: 4xx for the client's, 5xx for ours."""

    def __init__(self, message: str, status: int, rejection: Rejection | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.rejection = message, status, rejection

    @property
    def outcome(self) -> str:
        return "client_error" if self.status < 500 else "server_error"


@dataclass(frozen=True)
class Inferred:
    """A served inference: the outputs asked for, in order."""

    model_name: str
    model_version: str
    id: str
    arrays: dict[str, NDArray[Any]]
    parameters: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model_name": self.model_name}
        if self.model_version:  # optional in the protocol: omitted, never null
            body["model_version"] = self.model_version
        body["id"] = self.id
        body["parameters"] = self.parameters
        body["outputs"] = [output_tensor(name, array) for name, array in self.arrays.items()]
        return body


class ModelServer:
    """Server state and the route handlers."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.auth = (
            BearerAuth(token=settings.auth_token, token_file=settings.auth_token_file, clock=clock)
            if settings.auth_enabled
            else None
        )
        self.status = "loading"
        self.load_error: str | None = None
        self.served: Served | None = None
        self.profile: Profile | None = None
        self.feedback = FeedbackCache(settings.feedback_capacity)
        self.metrics = self._metrics(None)
        self.batcher = MicroBatcher(self._predict)
        self.explainer: LazyExplainer | None = None  # set with the served model
        # Generated request ids: a random per-process prefix and a counter (uuid4 is slower).
        self._id_prefix = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self.peers: Peers | None = None  # the sibling workers, under --workers N

    def become_worker(self, peers: Peers) -> None:
        """In a forked worker: its own request ids, and its siblings to merge and ask."""
        self._id_prefix, self._ids, self.peers = new_id_prefix(), itertools.count(1), peers

    def _predict(self, batch: Batch, outputs: Sequence[str]) -> dict[str, NDArray[Any]]:
        served = self.served
        assert served is not None
        results = served.runtime.run(model_input(served, batch), outputs)
        for name, array in results.items():
            if array.shape[:1] != (batch.rows,):
                raise ValueError(f"model returned {name} with shape {array.shape} "
                                 f"for {batch.rows} rows")  # fmt: skip
        return results

    def _metrics(self, runtime: ModelRuntime | None) -> ContractMetrics:
        s = self.settings
        layout = metrics_layout(self.profile, runtime)
        return ContractMetrics(layout, s.model_name, s.model_version, s.revision, s.model_format)

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> None:
        """Load profile and model; on failure log why and stay unready (never crash)."""
        s = self.settings
        started = time.perf_counter()
        try:
            if s.profile_path:
                self.profile = read_profile(s.profile_path)
            self.metrics = self._metrics(None)
            path = artifact_file(fetch(s.model_uri, s.cache_dir), s.model_format)
            runtime = load_runtime(path, s.model_format, s.model_class)
            served = prepare(runtime, self.profile, s.score_histogram)
            if self.profile is None:
                self.metrics = self._metrics(runtime)
            if served.score_class is not None:
                self.metrics.enable_scores(served.score_class)
        except Exception as err:  # noqa: BLE001 - any load failure must keep the server up
            self.status, self.load_error = "failed", f"{type(err).__name__}: {err}"
            log.error(
                "model load failed; readiness stays false",
                model=s.model_name,
                version=s.model_version,
                uri=s.model_uri,
                format=s.model_format,
                error=self.load_error,
            )
            return
        # The imported frameworks hold ~10^6 long-lived objects; freezing them keeps full GC
        # passes (tens of ms each, a p99 spike under load) from rescanning them forever.
        gc.collect()
        gc.freeze()
        self.explainer = LazyExplainer(lambda: Explainer(
            runtime, served.schema, self.profile, partial(model_input, served), served.classifier
        ))  # fmt: skip
        self.served, self.status = served, "ready"
        self.metrics.ready = True
        log.info(
            "model loaded",
            model=s.model_name,
            version=s.model_version,
            uri=s.model_uri,
            format=s.model_format,
            seconds=round(time.perf_counter() - started, 3),
            profile=s.profile_path or None,
        )

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    # -- routing helpers ---------------------------------------------------------------------

    def unknown_model(self, name: str, version: str | None) -> str | None:
        """Why `name` (and `version`) is not served here, or None when it is."""
        if name != self.settings.model_name:
            return f"model {name!r} not found; this server serves {self.settings.model_name!r}"
        if version and version != self.settings.model_version:
            return f"model {name!r} has no version {version!r}"
        return None

    def _unknown_model(self, request: Request) -> Response | None:
        params = request.path_params
        unknown = self.unknown_model(params["name"], params.get("version"))
        return error(unknown, 404) if unknown is not None else None

    # -- handlers ----------------------------------------------------------------------------

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    def readiness(self, body: dict[str, Any]) -> Response:
        """200 with `"ready": true`, or 400 (the protocol's "false") saying why not."""
        if self.ready:
            return json_response({**body, "ready": True})
        reason = self.load_error or "still loading"
        why = f"model {self.settings.model_name!r} is not ready: {reason}"
        return json_response({**body, "ready": False, "error": why}, 400)

    async def server_ready(self, request: Request) -> Response:
        return self.readiness({})

    async def server_metadata(self, request: Request) -> Response:
        return json_response({"name": "modelship", "version": __version__,
                              "extensions": list(EXTENSIONS)})  # fmt: skip

    async def model_ready(self, request: Request) -> Response:
        unknown = self._unknown_model(request)
        if unknown is not None:
            return unknown
        return self.readiness({"name": self.settings.model_name})

    async def model_metadata(self, request: Request) -> Response:
        unknown = self._unknown_model(request)
        if unknown is not None:
            return unknown
        return json_response(self.metadata())

    def metadata(self) -> dict[str, Any]:
        s = self.settings
        schema = self.served.schema if self.served else None
        if schema is None and self.profile is not None:
            schema = schema_from_profile(self.profile)
        inputs: list[dict[str, Any]]
        if schema is None or schema.features is None:
            inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, -1]}]
        else:
            inputs = [
                {"name": f.name, "datatype": input_datatype(f), "shape": [-1]}
                for f in schema.features
            ]  # fmt: skip
            inputs += [{"name": a, "datatype": "BYTES", "shape": [-1],
                        "parameters": {"optional": True, "fairness_attribute": True}}
                       for a in schema.extra_attributes]  # fmt: skip
        outputs: list[dict[str, Any]] = []
        if self.served is not None:
            classes = self.served.runtime.classes
            datatype = datatype_of(np.asarray(classes)) if classes is not None else "FP64"
            outputs.append({"name": PREDICT, "datatype": datatype, "shape": [-1]})
            for extra in self.served.runtime.outputs[1:]:
                outputs.append({"name": extra, "datatype": "FP64", "shape": [-1, -1]})
        return {
            "name": s.model_name,
            "versions": [s.model_version] if s.model_version else [],
            "platform": f"modelship-{s.model_format}",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"revision": s.revision, "ready": self.ready, "status": self.status},
        }

    async def infer(self, request: Request) -> Response:
        started = time.perf_counter()
        response, outcome = await self._infer(request)
        self.metrics.observe_request(outcome, time.perf_counter() - started)
        return response

    def refuse(
        self, message: str, reason: RejectReason, rows: int = 0,
        missing: dict[str, int] | None = None,
    ) -> Refused:  # fmt: skip
        """A client error to raise, counted in the rejections by `counted`."""
        status = 400 if reason != RejectReason.UNKNOWN_MODEL else 404
        return Refused(message, status, Rejection(reason, rows, missing))

    def counted(self, refused: Refused) -> Refused:
        """An inference request's refusal, counted in the rejections (explanations are not)."""
        if refused.rejection is not None:
            self.metrics.observe_rejected(*refused.rejection)
        return refused

    def check_model(self, name: str, version: str | None) -> Served:
        """The served model when `name` and `version` are this server's and it is loaded."""
        unknown = self.unknown_model(name, version)
        if unknown is not None:
            raise self.refuse(unknown, RejectReason.UNKNOWN_MODEL)
        if self.served is None:
            reason = self.load_error or "still loading"
            raise Refused(f"model {self.settings.model_name!r} is not ready: {reason}", 503)
        return self.served

    def parse(self, read: Callable[[], InferenceRequest]) -> InferenceRequest:
        """The request `read` validates (JSON, binary data or gRPC), or Refused naming the field."""
        try:
            return read()
        except BinaryDataError as err:
            reason = RejectReason.INVALID_JSON if err.invalid_json else RejectReason.INVALID_REQUEST
            raise self.refuse(str(err), reason) from None
        except ValidationError as err:
            invalid_json = any(d["type"] == "json_invalid" for d in err.errors(include_url=False))
            reason = RejectReason.INVALID_JSON if invalid_json else RejectReason.INVALID_REQUEST
            raise self.refuse(describe_validation_error(err), reason) from None

    def decode(self, served: Served, payload: InferenceRequest) -> Batch:
        """The request's rows, validated against the model's schema, or Refused."""
        try:
            return served_decode(served, payload, self.settings.max_batch_rows)
        except InvalidInputError as err:
            # Only now read what is missing: a served request has nothing missing.
            rows, missing = missing_values(payload.inputs, served.schema) or (0, None)
            raise self.refuse(str(err), err.reason, rows, missing) from None

    async def _infer(self, request: Request) -> tuple[Response, str]:
        try:
            params = request.path_params
            self.check_model(params["name"], params.get("version"))
            body, header_length = await request.body(), request.headers.get(HEADER_LENGTH)
            payload = self.parse(lambda: read_request(body, header_length))
            requested = [(o.name, o.parameters) for o in payload.outputs or ()]
            try:
                binary = binary_outputs(payload.parameters, requested or [(PREDICT, None)])
            except BinaryDataError as err:
                raise self.refuse(str(err), RejectReason.INVALID_REQUEST) from None
            inferred = await self.run(payload)
        except Refused as refused:
            self.counted(refused)
            return error(refused.message, refused.status), refused.outcome
        content, json_length = render_response(inferred.body(), inferred.arrays, binary)
        if json_length is None:
            return Response(content, media_type=JSON), "success"
        headers = {"Inference-Header-Content-Length": str(json_length)}
        return Response(content, media_type=OCTET_STREAM, headers=headers), "success"

    async def run(self, payload: InferenceRequest) -> Inferred:
        """Validate, predict (micro-batched) and observe one inference request, for REST and
        gRPC alike; raises Refused (uncounted: the caller counts it)."""
        served = self.served
        assert served is not None  # check_model came first
        batch = self.decode(served, payload)
        try:
            top = explain_parameters(payload.parameters, len(served.schema.names))
            if top is not None:
                check_rows(batch)
        except InvalidInputError as err:
            raise self.refuse(str(err), err.reason, batch.rows) from None
        requested = [o.name for o in payload.outputs] if payload.outputs else [PREDICT]
        unknown_outputs = [n for n in requested if n not in served.runtime.outputs]
        if unknown_outputs:
            available = ", ".join(served.runtime.outputs)
            raise self.refuse(f"unknown output {unknown_outputs[0]!r}; available: {available}",
                              RejectReason.UNKNOWN_OUTPUT, batch.rows)  # fmt: skip
        wanted = [PREDICT, *requested]
        if served.score_class is not None and PREDICT_PROBA not in wanted:
            wanted.append(PREDICT_PROBA)
        try:
            results = await self.batcher.predict(batch, wanted)
            predictions = results[PREDICT]
        except Exception as err:  # noqa: BLE001 - a model failure is a 500 with its reason
            log.error("prediction failed", model=self.settings.model_name, error=repr(err))
            raise Refused(f"prediction failed: {type(err).__name__}: {err}", 500) from None
        # Explained before anything is observed: a failed explanation serves nothing.
        explained = await self._explained(batch) if top is not None else None
        request_id = payload.id or f"{self._id_prefix}-{next(self._ids)}"
        groups = fairness_groups(served, batch)
        if served.classifier:
            labels = category_labels(predictions)
            probabilities = results.get(PREDICT_PROBA) if served.score_class else None
            scores = None
            if probabilities is not None and probabilities.shape[1:] == (2,):
                scores = probabilities[:, 1].astype(np.float64)
            self.metrics.observe_batch(batch, labels, None, groups, scores)
            self.feedback.remember(request_id, Remembered(labels, groups))
        else:
            values = predictions.astype(np.float64).reshape(batch.rows, -1)[:, 0]
            self.metrics.observe_batch(batch, None, values, groups)
            self.feedback.remember(request_id, Remembered(values, groups))
        parameters: dict[str, Any] = {}
        if explained is not None and top is not None:
            parameters["explanations"] = top_reasons(explained, served.schema.names, top)
        arrays = {name: output_array(results[name]) for name in requested}
        return Inferred(self.settings.model_name, self.settings.model_version, request_id,
                        arrays, parameters)  # fmt: skip

    async def _explained(self, batch: Batch) -> Attributions:
        assert self.explainer is not None  # set before the model is served
        try:
            return await self.explainer.explain(batch)
        except ExplainUnavailableError as err:
            raise Refused(str(err), 501) from None
        except Exception as err:  # noqa: BLE001 - a failed explanation is a 500 with its reason
            log.error("explanation failed", model=self.settings.model_name, error=repr(err))
            raise Refused(f"explanation failed: {type(err).__name__}: {err}", 500) from None

    async def explain(self, request: Request) -> Response:
        """Attributions for the request's rows; validated like inference, in no metric."""
        try:
            params = request.path_params
            served = self.check_model(params["name"], params.get("version"))
            body, header_length = await request.body(), request.headers.get(HEADER_LENGTH)
            payload = self.parse(lambda: read_request(body, header_length))
            batch = self.decode(served, payload)
            try:
                check_rows(batch)
            except InvalidInputError as err:
                raise self.refuse(str(err), err.reason, batch.rows) from None
            explained = await self._explained(batch)
        except Refused as refused:
            return error(refused.message, refused.status)
        answer: dict[str, Any] = {"model_name": self.settings.model_name}
        if self.settings.model_version:
            answer["model_version"] = self.settings.model_version
        answer["id"] = payload.id or f"{self._id_prefix}-{next(self._ids)}"
        return json_response({**answer, **explain_body(explained, served.schema.names)})

    async def feedback_handler(self, request: Request) -> Response:
        response, outcome = await self._feedback(request)
        self.metrics.feedback_requests.inc((outcome,))
        return response

    async def peer_feedback(self, request: Request) -> Response:
        """A sibling worker's lookup: score the feedback only if this worker remembers the
        request (404 otherwise, counting nothing); the asking worker counts the request."""
        if not from_peer(request.scope.get("server")):
            return error("not found", 404)
        response, _ = await self._feedback(request, peer=True)
        return response

    async def _feedback(self, request: Request, peer: bool = False) -> tuple[Response, str]:
        unknown = self._unknown_model(request)
        if unknown is not None:
            return unknown, "client_error"
        served = self.served
        if served is None:
            return error(f"model {self.settings.model_name!r} is not ready", 503), "server_error"
        try:
            payload = FeedbackRequest.model_validate_json(await request.body())
        except ValidationError as err:
            return error(describe_validation_error(err)), "client_error"
        truth = payload.ground_truth
        truth_labels: list[str] | None = None
        truth_values: NDArray[np.float64] | None = None
        if served.classifier:
            truth_labels = category_labels(np.asarray(truth, dtype=object))
        else:
            if any(isinstance(v, str | bool) for v in truth):
                return error("ground_truth: this model is a regressor; send numbers"), (
                    "client_error"
                )
            try:
                truth_values = np.asarray(truth, dtype=np.float64)
            except OverflowError:
                return error("ground_truth: a value is too large for a 64-bit float"), (
                    "client_error"
                )
            if not np.isfinite(truth_values).all():
                return error("ground_truth: values must be finite numbers"), "client_error"
        entry = self.feedback.take(payload.id)
        if entry is None and peer:
            return error("not remembered here", 404), "client_error"
        if entry is None and self.peers is not None:
            name = request.path_params["name"]
            answer = await self.peers.first_match(f"/_worker/feedback/{name}", await request.body())
            if answer is not None:  # a sibling served that request and scored it
                status, content = answer
                outcome = "success" if status == 200 else "client_error"
                return Response(content, status_code=status, media_type=JSON), outcome
        if entry is not None and entry.rows != len(truth):
            self.feedback.put_back(payload.id, entry)
            return error(f"ground_truth has {len(truth)} values but request {payload.id!r} "
                         f"had {entry.rows} rows"), "client_error"  # fmt: skip
        self.metrics.observe_truth(truth_labels, truth_values)
        if entry is None:
            self.metrics.feedback_rows.inc(("unmatched",), len(truth))
        else:
            self.metrics.observe_matched_feedback(
                entry.predicted, truth_labels, truth_values, entry.groups
            )
        body = {"id": payload.id, "matched": entry is not None, "rows": len(truth)}
        return json_response(body), "success"

    def own_metrics(self) -> bytes:
        text = self.metrics.render()
        if self.auth is not None:
            text += self.auth.render(self.metrics.base)
        return text

    async def metrics_handler(self, request: Request) -> Response:
        text = self.own_metrics()
        if self.peers is not None:  # the pod's metrics: every worker's, merged
            try:
                theirs = await self.peers.gather("/_worker/metrics")
            except PeerError as err:  # a partial sum would look like a counter reset
                return error(f"metrics incomplete: {err}", 503)
            text = merge([text.decode(), *(t.decode() for t in theirs)]).encode()
        return Response(text, media_type=CONTENT_TYPE)

    async def peer_metrics(self, request: Request) -> Response:
        """This worker's own metrics, for a sibling's merge (its private socket only)."""
        if not from_peer(request.scope.get("server")):
            return error("not found", 404)
        return Response(self.own_metrics(), media_type=CONTENT_TYPE)


def read_request(body: bytes, header_length: str | None) -> InferenceRequest:
    """A REST request body: JSON, or the binary data extension's header and tensors."""
    if header_length is None:
        return InferenceRequest.model_validate_json(body)
    return InferenceRequest.model_validate(split_request(body, header_length))


def served_decode(served: Served, payload: InferenceRequest, max_rows: int) -> Batch:
    declared = max((item.shape[0] for item in payload.inputs if item.shape), default=0)
    if declared > max_rows:  # before decoding: converting the data is what costs
        raise InvalidInputError(f"the batch has {declared} rows; this server takes at most "
                                f"{max_rows} per request (--max-batch-rows): split it",
                                RejectReason.TOO_MANY_ROWS)  # fmt: skip
    for item in payload.inputs:
        wrong = wrong_number_types(item)
        if wrong is not None:
            what = "feature" if item.name in served.schema.names else "input"
            raise InvalidInputError(f"{what} {item.name!r}: {wrong}", RejectReason.NOT_A_NUMBER)
    batch = decode(payload.inputs, served.schema)
    if batch.rows == 0:
        raise InvalidInputError("the batch has no rows", RejectReason.WRONG_SHAPE)
    return batch


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(str(exc.detail), exc.status_code)


class RequestLimits:
    """Refuse a request body past `max_bytes` (413) or still arriving after `read_timeout`
    seconds (408), before any handler holds it whole.

    A declared Content-Length over the limit is refused before a byte of the body is read; a
    chunked body is counted as it arrives. Starlette's HTTPException handler writes the
    protocol's error body. After the answer uvicorn discards the rest of the body and closes
    the connection within its keep-alive timeout, so a client cannot hold it open by trickling.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float) -> None:
        self.app, self.max_bytes, self.read_timeout = app, max_bytes, read_timeout

    def too_large(self) -> HTTPException:
        return HTTPException(413, f"the request body is larger than {self.max_bytes} bytes "
                                  "(--max-request-bytes): send smaller batches")  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            exc = self.too_large()
            await error(str(exc.detail), exc.status_code)(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        received, complete = 0, False

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: later reads only wait for a disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                late = f"the request body did not arrive within {self.read_timeout:g} s"
                raise HTTPException(408, f"{late} (--read-timeout)") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise self.too_large()
            return message

        await self.app(scope, limited, send)


def _open(handler: Handler) -> Handler:
    return handler


def create_app(
    settings: Settings,
    load_in_background: bool = True,
    clock: Callable[[], float] = time.monotonic,
    server: ModelServer | None = None,
) -> Starlette:
    """The app; `clock` (monotonic seconds) paces the token file's rechecks. A `server`
    given (a worker's, loaded before the fork) is served as it is."""
    server = server or ModelServer(settings, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if server.status == "loading":
            loading = asyncio.get_running_loop().run_in_executor(None, server.load)
            if not load_in_background:
                await loading
        if settings.grpc_port is None:
            yield
            return
        from modelship.server.grpc_service import start_grpc

        # The same loop, so gRPC requests join REST ones in the micro-batches.
        grpc_server = await start_grpc(server, settings)
        try:
            yield
        finally:
            await grpc_server.stop(grace=5)

    # Health stays open for probes; the rest needs the token when one is configured (no
    # wrapper at all, so no cost, when none is). /metrics only with --auth-metrics.
    auth = server.auth
    protect: Callable[[Handler], Handler] = auth.guard if auth is not None else _open
    scrape = protect if settings.auth_metrics else _open
    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes: Sequence[Route] = [
        Route("/v2/health/live", server.live, methods=["GET"]),
        Route("/v2/health/ready", server.server_ready, methods=["GET"]),
        Route("/v2", protect(server.server_metadata), methods=["GET"]),
        Route("/metrics", scrape(server.metrics_handler), methods=["GET"]),
        # Between workers of one server, on their private Unix sockets only (404 elsewhere).
        Route("/_worker/metrics", server.peer_metrics, methods=["GET"]),
        Route("/_worker/feedback/{name}", server.peer_feedback, methods=["POST"]),
        *[
            route
            for prefix in (model, versioned)
            for route in (
                Route(prefix, protect(server.model_metadata), methods=["GET"]),
                Route(f"{prefix}/ready", server.model_ready, methods=["GET"]),
                Route(f"{prefix}/infer", protect(server.infer), methods=["POST"]),
                Route(f"{prefix}/explain", protect(server.explain), methods=["POST"]),
                Route(f"{prefix}/feedback", protect(server.feedback_handler), methods=["POST"]),
            )
        ],
    ]
    limits = Middleware(RequestLimits, max_bytes=settings.max_request_bytes,
                        read_timeout=settings.read_timeout)  # fmt: skip
    app = Starlette(routes=list(routes), lifespan=lifespan, middleware=[limits],
                    exception_handlers={HTTPException: http_error})  # fmt: skip
    app.state.server = server
    return app
