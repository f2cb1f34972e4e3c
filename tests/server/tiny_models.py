"""Tiny models of every format, trained with their real libraries on three numeric features,
each saved where `modelship serve` loads it, beside its reference profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from credit_model import TrainedModel
from modelship.profile.build import ProfileOptions, build_profile

NUMERIC = ["x1", "x2", "x3"]


# What the server tests need of a model: the credit model's record (directory, model and
# profile paths, the model object, its profile and training data).
Artifact = TrainedModel


def numeric_data(rows: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({name: rng.normal(0.0, 1.0, rows).round(3) for name in NUMERIC})
    data["y"] = 2.0 * data["x1"] - data["x2"] + 0.5 * data["x3"] ** 2 + rng.normal(0, 0.1, rows)
    data["label"] = np.where(data["x1"] + 0.5 * data["x2"] - data["x3"] > 0, "yes", "no")
    return data


def _artifact(directory: Path, path: Path, model: Any, data: pd.DataFrame, target: str) -> Artifact:
    """The record of a saved model, with its profile written beside it."""
    profile = build_profile(data[[*NUMERIC, target]], ProfileOptions(target=target, bins=5))
    profile_path = directory / "profile.json"
    profile_path.write_text(profile.to_json())
    return Artifact(directory, path, profile_path, model, profile, data)


def sklearn_classifier(directory: Path, kind: str) -> Artifact:
    """A binary classifier on a plain matrix: `tree` (gradient boosting) or `linear`."""
    import joblib
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    data = numeric_data()
    model = (
        GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0)
        if kind == "tree"
        else LogisticRegression()
    )
    model.fit(data[NUMERIC].to_numpy(), data["label"])  # a matrix: no feature_names_in_
    path = directory / "model.joblib"
    joblib.dump(model, path)
    return _artifact(directory, path, model, data, "label")


def xgboost_regressor(directory: Path) -> Artifact:
    import xgboost as xgb

    data = numeric_data()
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3, random_state=0)
    model.fit(data[NUMERIC].to_numpy(), data["y"])
    path = directory / "model.json"
    model.get_booster().save_model(path)
    booster = xgb.Booster(model_file=str(path))
    return _artifact(directory, path, booster, data, "y")


def lightgbm_regressor(directory: Path) -> Artifact:
    import lightgbm as lgb

    data = numeric_data()
    model = lgb.LGBMRegressor(n_estimators=20, num_leaves=7, min_child_samples=5, verbose=-1)
    model.fit(data[NUMERIC].to_numpy(), data["y"])
    path = directory / "model.txt"
    model.booster_.save_model(path)
    booster = lgb.Booster(model_file=str(path))
    return _artifact(directory, path, booster, data, "y")


def onnx_regressor(directory: Path) -> Artifact:
    """A scikit-learn random forest converted with skl2onnx; `model` is its onnxruntime
    session (the library's own predictions), `data.attrs["sklearn"]` the forest."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestRegressor

    data = numeric_data()
    forest = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0)
    matrix = data[NUMERIC].to_numpy(np.float32)
    forest.fit(matrix, data["y"])
    path = directory / "model.onnx"
    path.write_bytes(to_onnx(forest, matrix[:1]).SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    data.attrs["sklearn"] = forest
    return _artifact(directory, path, session, data, "y")


CUSTOM_MODULE = '''
"""A custom model for `--model-format custom`: coefficients read from a text file."""
import numpy as np


class LinearFromText:
    n_features = 3

    def load(self, path):
        self.coefficients = np.loadtxt(path)

    def predict(self, features):
        return np.asarray(features, dtype=float) @ self.coefficients[1:] + self.coefficients[0]
'''


def custom_model(directory: Path) -> Artifact:
    """A user class in its own module (on PYTHONPATH of the server) and its artifact."""
    import importlib.util

    data = numeric_data()
    (directory / "tiny_custom_model.py").write_text(CUSTOM_MODULE)
    path = directory / "coefficients.txt"
    np.savetxt(path, [0.25, 2.0, -1.0, 0.5])
    source = directory / "tiny_custom_model.py"
    spec = importlib.util.spec_from_file_location("tiny_custom_model", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.LinearFromText()
    model.load(str(path))
    return _artifact(directory, path, model, data, "y")


def tensor(rows: np.ndarray[Any, Any]) -> dict[str, Any]:
    """A tensor-layout inference request: one [N, 3] FP64 input in profile order."""
    return {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64",
                        "data": rows.ravel().tolist()}]}  # fmt: skip
