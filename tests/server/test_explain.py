"""Explanations from a real `modelship serve` process, checked against shap's own values and
against the model's own output (additivity: attributions plus base value = the output)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from credit_model import FEATURES, TrainedModel, columnar
from modelship.profile.schema import load_profile
from modelship.server.explain import MAX_EXPLAIN_ROWS, background_sample
from modelship.server.schema import schema_from_profile
from served_process import ServerProcess, call, scrape, serving
from tiny_models import NUMERIC, Artifact, sklearn_classifier, tensor

EXPLAIN = "/v2/models/tiny/explain"
FIRST = 180  # s: the first explanation of a process imports shap and builds the explainer


def tensors(body: dict[str, Any]) -> dict[str, np.ndarray]:
    return {o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in body["outputs"]}


@pytest.fixture(scope="module", params=["tree", "linear"])
def classifier(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Artifact, ServerProcess]]:
    artifact = sklearn_classifier(tmp_path_factory.mktemp(request.param), request.param)
    with serving(artifact, [], MODELSHIP_MODEL_NAME="tiny",
                 MODELSHIP_MODEL_URI=f"file://{artifact.model_path}") as server:  # fmt: skip
        yield artifact, server


def library_values(artifact: Artifact, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """shap's own attributions and base value for the model, with the server's background."""
    import shap

    model = artifact.model
    if type(model).__name__ == "GradientBoostingClassifier":
        explainer = shap.TreeExplainer(model)
    else:
        profile = load_profile(str(artifact.profile_path))
        explainer = shap.LinearExplainer(
            model, background_sample(profile, schema_from_profile(profile))
        )
    return np.asarray(explainer.shap_values(rows)), float(np.ravel(explainer.expected_value)[0])


def test_tree_and_linear_attributions_are_shaps_and_add_up_to_the_model_output(
    classifier: tuple[Artifact, ServerProcess],
) -> None:
    artifact, server = classifier
    rows = artifact.data[NUMERIC].sample(8, random_state=4).to_numpy()
    status, body = call(server, EXPLAIN, {"id": "e1", **tensor(rows)}, timeout=FIRST)
    assert status == 200, body
    kind = "tree" if type(artifact.model).__name__.startswith("Gradient") else "linear"
    assert body["id"] == "e1"
    assert body["parameters"] == {"explainer": kind, "output_space": "raw", "features": NUMERIC,
                                  "explained_outputs": ["yes"]}  # fmt: skip
    out = tensors(body)
    assert out["attributions"].shape == (8, 3, 1)
    expected, base = library_values(artifact, rows)
    np.testing.assert_allclose(out["attributions"][:, :, 0], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out["base_value"], [base], rtol=1e-9)
    # additivity, against the model itself: the log-odds of "yes" (classes_[1])
    decision = artifact.model.decision_function(rows)
    np.testing.assert_allclose(out["attributions"][:, :, 0].sum(axis=1) + out["base_value"][0],
                               decision, rtol=1e-6, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(out["explained_value"][:, 0], decision, rtol=1e-6, atol=1e-6)


def rejected(server: ServerProcess) -> float:
    return sum(v for k, v in scrape(server).items()
               if k.startswith("modelship_requests_rejected_total"))  # fmt: skip


def test_explain_is_validated_like_inference(classifier: tuple[Artifact, ServerProcess]) -> None:
    _, server = classifier
    good = tensor(np.zeros((1, 3)))
    cases = [
        ({"inputs": [{**good["inputs"][0], "shape": [1, 2]}]}, "shape"),
        ({"inputs": [{**good["inputs"][0], "data": ["a", "b", "c"]}]}, "data must be numbers"),
        ({"inputs": [{**good["inputs"][0], "data": [1.0, None, 2.0]}]}, "null"),
        ({"inputs": []}, "inputs: List should have at least 1 item"),
        ({"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
         "missing features: 'x2', 'x3'"),
    ]  # fmt: skip
    before = rejected(server)
    for body, words in cases:
        status, answer = call(server, EXPLAIN, body)
        assert status == 400, (body, answer)
        assert words in answer["error"], answer
    status, answer = call(server, "/v2/models/other/explain", good)
    assert (status, answer["error"]) == (404, "model 'other' not found; this server serves 'tiny'")
    rows = MAX_EXPLAIN_ROWS + 1
    status, answer = call(server, EXPLAIN, tensor(np.zeros((rows, 3))))
    assert status == 400
    expected = f"the batch has {rows} rows; explanations take at most {MAX_EXPLAIN_ROWS}"
    assert expected in answer["error"]
    assert rejected(server) == before  # explanations are not in the metrics contract
    with_reasons = {**tensor(np.zeros((rows, 3))), "parameters": {"explain": True}}
    status, answer = call(server, "/v2/models/tiny/infer", with_reasons)
    assert status == 400
    assert expected in answer["error"]


@pytest.fixture(scope="module")
def credit_versioned(trained: TrainedModel) -> Iterator[ServerProcess]:
    with serving(trained, []) as handle:
        yield handle


def test_pipeline_with_categories_is_explained_model_agnostically(
    credit_versioned: ServerProcess, trained: TrainedModel
) -> None:
    rows = trained.data[FEATURES].sample(4, random_state=7).to_dict("records")
    status, body = call(credit_versioned, "/v2/models/credit/versions/3/explain", columnar(rows),
                        timeout=FIRST)  # fmt: skip
    assert status == 200, body
    assert body["model_version"] == "3"
    assert body["parameters"] == {
        "explainer": "permutation", "output_space": "probability",
        "features": ["age", "income", "country"], "explained_outputs": ["approve", "deny"],
    }  # fmt: skip
    out = tensors(body)
    assert out["attributions"].shape == (4, 3, 2)
    probabilities = trained.model.predict_proba(pd.DataFrame(rows)[FEATURES])
    np.testing.assert_allclose(out["attributions"].sum(axis=1) + out["base_value"], probabilities,
                               atol=1e-9)  # fmt: skip
    assert np.abs(out["attributions"][:, 1, :]).sum() > 0  # income matters to this model


def test_inference_with_explain_returns_the_top_reasons(
    credit_versioned: ServerProcess, trained: TrainedModel
) -> None:
    rows = trained.data[FEATURES].sample(3, random_state=8).to_dict("records")
    request = {**columnar(rows), "parameters": {"explain": True, "explain_top": 2}}
    status, body = call(credit_versioned, "/v2/models/credit/infer", request, timeout=FIRST)
    assert status == 200, body
    predicted = [str(p) for p in trained.model.predict(pd.DataFrame(rows)[FEATURES])]
    assert body["outputs"][0]["data"] == predicted
    explanations = body["parameters"]["explanations"]
    status, full = call(credit_versioned, "/v2/models/credit/explain", columnar(rows))
    out = tensors(full)
    for row, (reasons, label) in enumerate(zip(explanations, predicted, strict=True)):
        assert reasons["output"] == label  # the predicted class is the one explained
        column = ["approve", "deny"].index(label)
        values = out["attributions"][row, :, column]
        top = np.argsort(-np.abs(values))[:2]
        assert [r["feature"] for r in reasons["reasons"]] == [FEATURES[i] for i in top]
        np.testing.assert_allclose([r["attribution"] for r in reasons["reasons"]], values[top])
    for wrong, words in [
        ({"explain": "yes"}, "parameters.explain: must be true or false"),
        ({"explain": True, "explain_top": 0}, "parameters.explain_top"),
    ]:
        status, answer = call(credit_versioned, "/v2/models/credit/infer",
                              {**columnar(rows), "parameters": wrong})  # fmt: skip
        assert status == 400
        assert words in answer["error"]
    status, plain = call(credit_versioned, "/v2/models/credit/infer",
                         {**columnar(rows), "parameters": {"explain": False}})  # fmt: skip
    assert status == 200
    assert "explanations" not in plain["parameters"]


def test_without_shap_explain_is_501_with_the_extra_to_install(
    trained: TrainedModel, tmp_path: Path
) -> None:
    hidden = tmp_path / "no-shap" / "shap"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError(\"No module named 'shap'\")\n")
    with serving(trained, [], PYTHONPATH=str(hidden.parent)) as server:
        status, body = call(server, "/v2/models/credit/explain", columnar(
            [{"age": 40, "income": 50.0, "country": "FR"}]))  # fmt: skip
        assert status == 501
        assert "explanations need 'shap': pip install 'modelship[explain]'" in body["error"]
        status, _ = call(server, "/v2/models/credit/infer",
                         columnar([{"age": 40, "income": 50.0, "country": "FR"}]))  # fmt: skip
        assert status == 200  # inference is untouched
