"""Model runtimes: one small adapter per format behind the same `ModelRuntime` protocol.

Optional frameworks (xgboost, lightgbm, onnxruntime) are imported only when their format is
asked for, and a missing one fails the load with the pip extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from modelship.server.loader import ModelLoadError

PREDICT = "predict"
PREDICT_PROBA = "predict_proba"


class ModelRuntime(Protocol):
    """What the server needs from a loaded model."""

    @property
    def outputs(self) -> tuple[str, ...]:
        """Output names it can produce; the first is the default."""

    @property
    def classes(self) -> list[Any] | None:
        """Class labels of a classifier, when known."""

    @property
    def n_features(self) -> int | None: ...

    @property
    def feature_names(self) -> list[str] | None:
        """When set, the model is called with a DataFrame with these columns."""

    def run(self, features: Any, outputs: Sequence[str]) -> dict[str, NDArray[Any]]: ...


class CustomModel(Protocol):
    """The custom-model hook (docs/server.md): a class with a no-argument constructor."""

    def load(self, path: str) -> None: ...

    def predict(self, features: Any) -> Any: ...


def _optional(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ModelLoadError(
            f"this format needs {module!r}: pip install 'modelship[{extra}]' ({err})"
        ) from err


class SklearnRuntime:
    """Any joblib-pickled estimator with `predict` (and maybe `predict_proba`)."""

    def __init__(self, path: Path) -> None:
        import joblib

        try:
            self.model = joblib.load(path)
        except ImportError as err:
            raise ModelLoadError(
                f"{path}: the pickled model needs a module that is not installed: {err}"
            ) from err
        except Exception as err:
            # Unpickling garbage raises anything (a CSV: IndexError, pop from empty list).
            raise ModelLoadError(
                f"{path} is not a loadable sklearn/joblib model: expected an estimator saved "
                f"with joblib.dump or pickle (unpickling it raised {type(err).__name__}: {err})"
            ) from err
        if not hasattr(self.model, "predict"):
            raise ModelLoadError(f"{path}: {type(self.model).__name__} has no predict method")
        self.outputs = (
            (PREDICT, PREDICT_PROBA) if hasattr(self.model, PREDICT_PROBA) else (PREDICT,)
        )
        classes = getattr(self.model, "classes_", None)
        self.classes = list(np.asarray(classes).tolist()) if classes is not None else None
        n = getattr(self.model, "n_features_in_", None)
        self.n_features = int(n) if n is not None else None
        names = getattr(self.model, "feature_names_in_", None)
        self.feature_names = [str(x) for x in names] if names is not None else None
        self._predict = self.model.predict
        self._predict_proba = getattr(self.model, PREDICT_PROBA, None)

    def run(self, features: Any, outputs: Sequence[str]) -> dict[str, NDArray[Any]]:
        result: dict[str, NDArray[Any]] = {}
        for name in outputs:
            if name == PREDICT:
                result[name] = np.asarray(self._predict(features))
            elif name == PREDICT_PROBA and self._predict_proba is not None:
                result[name] = np.asarray(self._predict_proba(features))
        return result


class XGBoostRuntime:
    """A native XGBoost model file (JSON/UBJ); predictions are `Booster.predict`'s output."""

    outputs: tuple[str, ...] = (PREDICT,)
    classes: list[Any] | None = None
    feature_names: list[str] | None = None

    def __init__(self, path: Path) -> None:
        xgb = _optional("xgboost", "xgboost")
        self._xgb = xgb
        self.booster = xgb.Booster(model_file=str(path))
        self.n_features = int(self.booster.num_features())

    def run(self, features: Any, outputs: Sequence[str]) -> dict[str, NDArray[Any]]:
        matrix = self._xgb.DMatrix(np.asarray(features, dtype=np.float32))
        return {PREDICT: np.asarray(self.booster.predict(matrix))}


class LightGBMRuntime:
    """A native LightGBM model file (text); predictions are `Booster.predict`'s output."""

    outputs: tuple[str, ...] = (PREDICT,)
    classes: list[Any] | None = None
    feature_names: list[str] | None = None

    def __init__(self, path: Path) -> None:
        lgb = _optional("lightgbm", "lightgbm")
        self.booster = lgb.Booster(model_file=str(path))
        self.n_features = int(self.booster.num_feature())

    def run(self, features: Any, outputs: Sequence[str]) -> dict[str, NDArray[Any]]:
        return {PREDICT: np.asarray(self.booster.predict(np.asarray(features, dtype=np.float64)))}


class OnnxRuntime:
    """An ONNX graph with one [N, F] float input; `predict` is its first output."""

    classes: list[Any] | None = None
    feature_names: list[str] | None = None

    def __init__(self, path: Path) -> None:
        ort = _optional("onnxruntime", "onnx")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        width = graph_input.shape[-1] if graph_input.shape else None
        self.n_features = width if isinstance(width, int) else None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.outputs: tuple[str, ...] = (PREDICT,)

    def run(self, features: Any, outputs: Sequence[str]) -> dict[str, NDArray[Any]]:
        matrix = np.asarray(features, dtype=np.float32)
        first = self.session.run(self.output_names[:1], {self.input_name: matrix})[0]
        return {PREDICT: np.asarray(first)}


class CustomRuntime:
    """Wraps a user class `package.module:ClassName` implementing `CustomModel`."""

    outputs: tuple[str, ...] = (PREDICT,)

    def __init__(self, path: Path, class_path: str) -> None:
        module_name, _, class_name = class_path.partition(":")
        if not module_name or not class_name:
            raise ModelLoadError(f"--model-class {class_path!r}: expected package.module:ClassName")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as err:
            raise ModelLoadError(f"--model-class {class_path!r}: {err}") from err
        self.model: CustomModel = cls()
        self.model.load(str(path))
        classes = getattr(self.model, "classes", None)
        self.classes = list(classes) if classes is not None else None
        self.n_features = getattr(self.model, "n_features", None)
        names = getattr(self.model, "feature_names", None)
        self.feature_names = list(names) if names is not None else None

    def run(self, features: Any, outputs: Sequence[str]) -> dict[str, NDArray[Any]]:
        return {PREDICT: np.asarray(self.model.predict(features))}


def load_runtime(path: Path, fmt: str, model_class: str = "") -> ModelRuntime:
    if fmt == "sklearn":
        return SklearnRuntime(path)
    if fmt == "xgboost":
        return XGBoostRuntime(path)
    if fmt == "lightgbm":
        return LightGBMRuntime(path)
    if fmt == "onnx":
        return OnnxRuntime(path)
    if fmt == "custom":
        return CustomRuntime(path, model_class)
    raise ModelLoadError(f"unknown model format {fmt!r}")
