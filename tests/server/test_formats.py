"""Every model format served by a real `modelship serve` process with its real library:
a tiny model trained with the library, served, and its predictions equal the library's own."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from served_process import call, serving
from tiny_models import (
    NUMERIC,
    Artifact,
    custom_model,
    lightgbm_regressor,
    onnx_regressor,
    tensor,
    xgboost_regressor,
)

INFER = "/v2/models/tiny/infer"
EXPLAIN = "/v2/models/tiny/explain"
FIRST_EXPLANATION = 180  # s: the first one imports shap and builds the explainer


def same(served: list[float], expected: np.ndarray) -> None:
    """Equal at the library's own precision (a float32 is sent as its shortest repr)."""
    np.testing.assert_array_equal(np.asarray(served, dtype=expected.dtype), expected.ravel())


def served_predictions(artifact: Artifact, fmt: str, rows: np.ndarray, **env: str) -> list[float]:
    """The served predictions; the model-agnostic explanation of the first rows is checked
    on the way: its attributions add up to those very predictions."""
    env = {"MODELSHIP_MODEL_URI": f"file://{artifact.directory}", **env}
    with serving(artifact, [], MODELSHIP_MODEL_NAME="tiny", MODELSHIP_MODEL_FORMAT=fmt,
                 **env) as server:  # fmt: skip
        status, body = call(server, INFER, tensor(rows))
        assert status == 200, body
        output = body["outputs"][0]
        assert output["shape"][0] == len(rows)  # an ONNX regressor answers [N, 1]
        predictions = [float(v) for v in output["data"]]
        if fmt in ("onnx", "custom"):
            status, explained = call(server, EXPLAIN, tensor(rows[:3]), timeout=FIRST_EXPLANATION)
            assert status == 200, explained
            assert explained["parameters"]["explainer"] == "permutation"
            out = {
                o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in explained["outputs"]
            }
            np.testing.assert_allclose(
                out["attributions"].sum(axis=1) + out["base_value"],
                np.reshape(predictions[:3], (3, 1)),
                rtol=1e-5,
                atol=1e-5,
            )
        return predictions


def sample(artifact: Artifact) -> np.ndarray:
    return artifact.data[NUMERIC].sample(20, random_state=2).to_numpy()


def test_xgboost_predictions_are_the_boosters(tmp_path: Path) -> None:
    import xgboost as xgb

    artifact = xgboost_regressor(tmp_path)
    rows = sample(artifact)
    expected = artifact.model.predict(xgb.DMatrix(rows.astype(np.float32)))
    same(served_predictions(artifact, "xgboost", rows), expected)


def test_lightgbm_predictions_are_the_boosters(tmp_path: Path) -> None:
    artifact = lightgbm_regressor(tmp_path)
    rows = sample(artifact)
    expected = artifact.model.predict(rows)
    same(served_predictions(artifact, "lightgbm", rows), expected)


def test_onnx_from_skl2onnx_predictions_are_onnxruntimes(tmp_path: Path) -> None:
    artifact = onnx_regressor(tmp_path)
    rows = sample(artifact)
    session = artifact.model
    expected = session.run(None, {session.get_inputs()[0].name: rows.astype(np.float32)})[0]
    served = served_predictions(artifact, "onnx", rows)
    same(served, expected)
    # and the conversion kept the forest's own predictions (to float32 precision)
    forest = artifact.data.attrs["sklearn"]
    np.testing.assert_allclose(served, forest.predict(rows.astype(np.float32)), rtol=1e-5)


def test_custom_class_hook_predictions_are_the_classs(tmp_path: Path) -> None:
    artifact = custom_model(tmp_path)
    rows = sample(artifact)
    expected = artifact.model.predict(rows)
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    served = served_predictions(
        artifact, "custom", rows, MODELSHIP_MODEL_CLASS="tiny_custom_model:LinearFromText",
        MODELSHIP_MODEL_URI=f"file://{artifact.model_path}", PYTHONPATH=path,
    )  # fmt: skip
    same(served, expected)


def margin_xgboost(artifact: Artifact, rows: np.ndarray) -> np.ndarray:
    import xgboost as xgb

    matrix = xgb.DMatrix(rows.astype(np.float32))
    return np.asarray(artifact.model.predict(matrix, output_margin=True))


def raw_lightgbm(artifact: Artifact, rows: np.ndarray) -> np.ndarray:
    return np.asarray(artifact.model.predict(rows, raw_score=True))


@pytest.mark.parametrize(
    ("fmt", "train", "raw"),
    [
        ("xgboost", xgboost_regressor, margin_xgboost),
        ("lightgbm", lightgbm_regressor, raw_lightgbm),
    ],
)
def test_boosters_are_explained_by_the_exact_tree_explainer(
    tmp_path: Path, fmt: str, train: Callable[[Path], Artifact],
    raw: Callable[[Artifact, np.ndarray], np.ndarray],
) -> None:  # fmt: skip
    import shap

    artifact = train(tmp_path)
    rows = sample(artifact)[:5]
    with serving(artifact, [], MODELSHIP_MODEL_NAME="tiny", MODELSHIP_MODEL_FORMAT=fmt,
                 MODELSHIP_MODEL_URI=f"file://{artifact.directory}") as server:  # fmt: skip
        status, body = call(server, EXPLAIN, tensor(rows), timeout=FIRST_EXPLANATION)
    assert status == 200, body
    assert body["parameters"]["explainer"] == "tree"
    outputs = {o["name"]: o for o in body["outputs"]}
    values = np.asarray(outputs["attributions"]["data"]).reshape(outputs["attributions"]["shape"])
    base = np.asarray(outputs["base_value"]["data"])
    library = shap.TreeExplainer(artifact.model)
    np.testing.assert_allclose(values[:, :, 0], library.shap_values(rows), rtol=1e-6, atol=1e-9)
    # additivity: attributions plus the base value are the booster's raw output
    np.testing.assert_allclose(values[:, :, 0].sum(axis=1) + base[0], raw(artifact, rows),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
