"""Explanations: per-feature SHAP attributions of a served model's output (docs/server.md).

One explainer per model, chosen once: SHAP's exact tree explainer for tree models (sklearn
tree ensembles, XGBoost and LightGBM boosters), its linear explainer for sklearn linear
models, and its model-agnostic permutation explainer otherwise (pipelines, categorical
inputs, ONNX, custom classes). The latter two need a background sample: drawn from the
reference profile's bins, bounded, the same on every replica. Attributions are additive: per
row and output, their sum plus the base value is the explained output.

shap is an optional extra (`modelship[explain]`), imported on the first explanation so a
server that never explains pays neither its import time nor its memory.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modelship.api.common import RejectReason
from modelship.profile.schema import CategoricalDistribution, Profile
from modelship.server.runtimes import (
    PREDICT,
    PREDICT_PROBA,
    LightGBMRuntime,
    ModelRuntime,
    SklearnRuntime,
    XGBoostRuntime,
)
from modelship.server.schema import Batch, CategoricalSpec, InputSchema, InvalidInputError

BACKGROUND_ROWS = 50  # the model-agnostic explainer's cost grows linearly with it
PERMUTATIONS = 5  # antithetic permutations per row (shap's max_evals = this * (2F + 1))
MAX_EXPLAIN_ROWS = 1000  # an explanation costs ~10^3 predictions a row: bounded per request
DEFAULT_TOP = 3  # reasons per row beside a prediction (parameters.explain)
SEED = 0  # the background sample is the same on every replica and restart


class ExplainUnavailableError(RuntimeError):
    """This server cannot explain (shap missing, no background): HTTP 501 with the reason."""


@dataclass(frozen=True)
class Attributions:
    values: NDArray[np.float64]  # [rows, features, outputs]
    base: NDArray[np.float64]  # [outputs]
    outputs: list[str]  # what each output column is: a class label, or "predict"
    space: str  # what base + sum(values) equals: "raw", "probability" or "prediction"
    method: str  # "tree" | "linear" | "permutation"

    def explained(self) -> NDArray[np.float64]:
        """[rows, outputs]: the model output each row's attributions add up to."""
        explained: NDArray[np.float64] = self.base[None, :] + self.values.sum(axis=1)
        return explained


def _shap() -> Any:
    try:
        return importlib.import_module("shap")
    except ImportError as err:
        raise ExplainUnavailableError(
            f"explanations need 'shap': pip install 'modelship[explain]' ({err})"
        ) from err


def _three_d(values: Any, rows: int, features: int) -> NDArray[np.float64]:
    """shap returns [rows, features], [rows, features, outputs] or (old) a list per output."""
    if isinstance(values, list):
        values = np.stack(values, axis=-1)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[:2] != (rows, features):
        raise ValueError(f"shap returned attributions of shape {array.shape} for "
                         f"{rows} rows of {features} features")  # fmt: skip
    return array


class Vocabulary:
    """Categorical values as float codes (shap masks numbers): the profile's categories first,
    then the values of one request not among them (allowed unknowns)."""

    def __init__(self, categories: Sequence[str]) -> None:
        self.values = list(categories)
        self.codes = {v: i for i, v in enumerate(self.values)}

    def extended(self, values: Sequence[str]) -> Vocabulary:
        unseen = [v for v in dict.fromkeys(values) if v not in self.codes]
        return Vocabulary([*self.values, *unseen]) if unseen else self

    def encode(self, values: Sequence[str]) -> NDArray[np.float64]:
        return np.fromiter((self.codes[v] for v in values), dtype=np.float64, count=len(values))

    def decode(self, codes: NDArray[np.float64]) -> list[str]:
        return [self.values[int(c)] for c in codes]


def background_sample(profile: Profile, schema: InputSchema, rows: int = BACKGROUND_ROWS,
                      seed: int = SEED) -> NDArray[np.float64]:  # fmt: skip
    """[rows, features] in schema order, each feature drawn independently from its profile
    histogram: a bin by its reference proportion, then a point uniform inside it (the open
    outer bins closed at the profile's min and max; integers rounded). Categorical features
    are codes into their sorted categories."""
    rng = np.random.default_rng(seed)
    by_name = {f.name: f for f in profile.features}
    columns: list[NDArray[np.float64]] = []
    for spec in schema.features or ():
        dist = by_name[spec.name].distribution
        proportions = np.asarray(dist.proportions, dtype=np.float64)
        weights = proportions / proportions.sum() if proportions.sum() > 0 else None
        if isinstance(dist, CategoricalDistribution):
            order = {c: i for i, c in enumerate(sorted(dist.categories))}
            codes = [order[c] for c in dist.categories]
            picked = rng.choice(len(codes), size=rows, p=weights)
            columns.append(np.asarray(codes, dtype=np.float64)[picked])
            continue
        edges = dist.edges
        bounds = np.asarray([min(dist.min, edges[0]) if edges else dist.min, *edges,
                             max(dist.max, edges[-1]) if edges else dist.max])  # fmt: skip
        bins = rng.choice(len(bounds) - 1, size=rows, p=weights)
        values = rng.uniform(bounds[bins], bounds[bins + 1])
        if by_name[spec.name].dtype == "integer":  # type: ignore[union-attr]
            values = np.round(values)
        columns.append(values)
    return np.column_stack(columns)


ModelInput = Callable[[Batch], Any]  # a batch as the model takes it (matrix or DataFrame)


class Explainer:
    """Built once per served model, on the first explanation (in a worker thread)."""

    def __init__(self, runtime: ModelRuntime, schema: InputSchema, profile: Profile | None,
                 model_input: ModelInput, classifier: bool) -> None:  # fmt: skip
        self.shap = _shap()
        self.runtime, self.schema, self.model_input = runtime, schema, model_input
        if schema.features is None:
            raise ExplainUnavailableError(
                "explanations need the model's features: serve it with a profile (--profile-path)"
            )
        self.names = list(schema.names)
        self.vocabularies = {s.name: Vocabulary(sorted(s.categories)) for s in schema.categorical}
        self.background = background_sample(profile, schema) if profile is not None else None
        self.lock = threading.Lock()  # shap explainers are not documented as thread-safe
        direct = self._direct_explainer()
        if direct is not None:
            self.method, self._explainer = direct
        else:
            if self.background is None:
                raise ExplainUnavailableError(
                    f"a {type(runtime).__name__} model is explained model-agnostically, which "
                    "needs a background sample from the reference profile (--profile-path)"
                )
            self.method, self._explainer = "permutation", None
        self.output = PREDICT_PROBA if classifier and PREDICT_PROBA in runtime.outputs else PREDICT
        if self.method == "permutation" and classifier and self.output == PREDICT:
            raise ExplainUnavailableError(
                "this classifier has no predict_proba: its labels cannot be attributed to "
                "features (a model-agnostic explanation needs a number per row)"
            )

    def _direct_explainer(self) -> tuple[str, Any] | None:
        """The exact tree or linear explainer when the model is one and takes numbers."""
        if self.schema.categorical:
            return None
        runtime, shap = self.runtime, self.shap
        if isinstance(runtime, XGBoostRuntime | LightGBMRuntime):
            return "tree", shap.TreeExplainer(runtime.booster)
        if not isinstance(runtime, SklearnRuntime):
            return None
        model = runtime.model
        try:
            return "tree", shap.TreeExplainer(model)
        except Exception:  # noqa: BLE001 - shap refuses non-tree models with various errors
            pass
        if self.background is not None and type(model).__module__.startswith(
            "sklearn.linear_model"
        ):
            return "linear", shap.LinearExplainer(model, self.background)
        return None

    def _batch(self, matrix: NDArray[np.float64], vocabularies: dict[str, Vocabulary]) -> Batch:
        numeric_columns = [i for i, s in enumerate(self.schema.features or ())
                           if not isinstance(s, CategoricalSpec)]  # fmt: skip
        categorical = {
            name: vocabularies[name].decode(matrix[:, self.names.index(name)])
            for name in vocabularies
        }
        return Batch(len(matrix), matrix[:, numeric_columns], categorical, {})

    def _matrix(self, batch: Batch, vocabularies: dict[str, Vocabulary]) -> NDArray[np.float64]:
        columns, numeric = [], iter(range(batch.numeric.shape[1]))
        for spec in self.schema.features or ():
            if isinstance(spec, CategoricalSpec):
                columns.append(vocabularies[spec.name].encode(batch.categorical[spec.name]))
            else:
                columns.append(batch.numeric[:, next(numeric)])
        return np.column_stack(columns)

    def explain(self, batch: Batch) -> Attributions:
        with self.lock:
            if self.method == "permutation":
                return self._permutation(batch)
            return self._direct(batch)

    def _direct(self, batch: Batch) -> Attributions:
        features = self.model_input(batch)
        raw = self._explainer.shap_values(features)
        values = _three_d(raw, batch.rows, len(self.names))
        frame = list(getattr(features, "columns", self.names))
        if frame != self.names:  # a DataFrame in the model's column order: back to the schema's
            values = values[:, [frame.index(n) for n in self.names], :]
        base = np.atleast_1d(np.asarray(self._explainer.expected_value, dtype=np.float64))
        return Attributions(values, base, self._output_names(values.shape[2]), "raw", self.method)

    def _permutation(self, batch: Batch) -> Attributions:
        vocabularies = {
            name: vocabulary.extended(batch.categorical[name])
            for name, vocabulary in self.vocabularies.items()
        }

        def predict(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
            rows = self._batch(np.asarray(matrix, dtype=np.float64), vocabularies)
            result = self.runtime.run(self.model_input(rows), [self.output])[self.output]
            return np.asarray(result, dtype=np.float64)

        masker = self.shap.maskers.Independent(self.background, max_samples=BACKGROUND_ROWS)
        explainer = self.shap.explainers.Permutation(predict, masker, seed=SEED)
        features = len(self.names)
        result = explainer(self._matrix(batch, vocabularies),
                           max_evals=PERMUTATIONS * (2 * features + 1), silent=True)  # fmt: skip
        values = _three_d(result.values, batch.rows, features)
        base = np.asarray(result.base_values, dtype=np.float64).reshape(batch.rows, -1)[0]
        space = "probability" if self.output == PREDICT_PROBA else "prediction"
        return Attributions(values, base, self._output_names(values.shape[2]), space, "permutation")

    def _output_names(self, count: int) -> list[str]:
        classes = [str(c) for c in self.runtime.classes or []]
        if count == len(classes):
            return classes
        if count == 1 and len(classes) == 2:
            return [classes[1]]  # a binary classifier's raw output is its positive class's
        return [PREDICT] if count == 1 else [f"output-{i}" for i in range(count)]


def top_reasons(attributions: Attributions, names: Sequence[str], top: int) -> list[dict[str, Any]]:
    """Per row: the explained output (the highest one when there are several, the predicted
    class of a classifier) and its `top` features by absolute attribution."""
    explained = attributions.explained()
    chosen = explained.argmax(axis=1)
    reasons: list[dict[str, Any]] = []
    for row, output in enumerate(chosen.tolist()):
        values = attributions.values[row, :, output]
        order = np.argsort(-np.abs(values), kind="stable")[:top]
        reasons.append({
            "output": attributions.outputs[output],
            "base_value": float(attributions.base[output]),
            "reasons": [{"feature": names[i], "attribution": float(values[i])} for i in order],
        })  # fmt: skip
    return reasons


def explain_parameters(parameters: dict[str, Any] | None, features: int) -> int | None:
    """The number of reasons an inference request asks for (`parameters.explain: true`,
    optional `parameters.explain_top`), or None; a wrong value is a 400 naming the field."""
    if not parameters or "explain" not in parameters:
        return None
    wanted = parameters["explain"]
    if not isinstance(wanted, bool):
        raise InvalidInputError("parameters.explain: must be true or false",
                                RejectReason.INVALID_REQUEST)  # fmt: skip
    top = parameters.get("explain_top", DEFAULT_TOP)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InvalidInputError("parameters.explain_top: must be a positive integer",
                                RejectReason.INVALID_REQUEST)  # fmt: skip
    return min(top, features) if wanted else None


def check_rows(batch: Batch) -> None:
    if batch.rows > MAX_EXPLAIN_ROWS:
        raise InvalidInputError(f"the batch has {batch.rows} rows; explanations take at most "
                                f"{MAX_EXPLAIN_ROWS} per request: split it",
                                RejectReason.TOO_MANY_ROWS)  # fmt: skip


def explain_body(attributions: Attributions, names: Sequence[str]) -> dict[str, Any]:
    """The explanation's tensors and parameters (docs/server.md#explanations)."""
    values = attributions.values
    return {
        "parameters": {
            "explainer": attributions.method,
            "output_space": attributions.space,
            "features": list(names),
            "explained_outputs": attributions.outputs,
        },
        "outputs": [
            {"name": "attributions", "shape": list(values.shape), "datatype": "FP64",
             "data": values.ravel()},
            {"name": "base_value", "shape": list(attributions.base.shape), "datatype": "FP64",
             "data": attributions.base},
            {"name": "explained_value", "shape": [values.shape[0], values.shape[2]],
             "datatype": "FP64", "data": attributions.explained().ravel()},
        ],
    }  # fmt: skip


class LazyExplainer:
    """The explainer, built on first use (shap's import and the tree parsing take seconds),
    in a worker thread like every explanation: the event loop keeps serving inference."""

    def __init__(self, build: Callable[[], Explainer]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._explainer: Explainer | None = None
        self._unavailable: ExplainUnavailableError | None = None

    def get(self) -> Explainer:
        with self._lock:
            if self._unavailable is not None:
                raise self._unavailable
            if self._explainer is None:
                try:
                    self._explainer = self._build()
                except ExplainUnavailableError as err:
                    self._unavailable = err
                    raise
            return self._explainer

    async def explain(self, batch: Batch) -> Attributions:
        return await asyncio.to_thread(lambda: self.get().explain(batch))
