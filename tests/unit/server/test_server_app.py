"""The ASGI app in process: protocol shapes, validation messages, feedback, metrics."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from credit_model import FEATURES, TrainedModel, columnar, settings_for
from modelship.profile.schema import NumericDistribution
from modelship.server.app import create_app
from modelship.server.metrics import OTHER
from starlette.testclient import TestClient

ROWS = [
    {"age": 30, "income": 40.5, "country": "FR"},
    {"age": 60, "income": 70.0, "country": "US"},
    {"age": 45, "income": 52.0, "country": "DE"},
]


def expected_predictions(credit: TrainedModel, rows: list[dict[str, Any]]) -> list[str]:
    import pandas as pd

    return [str(p) for p in credit.model.predict(pd.DataFrame(rows)[FEATURES])]


def test_health_and_server_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/credit/ready").status_code == 200
    assert client.get("/v2/models/credit/versions/3/ready").status_code == 200
    assert client.get("/v2").json()["name"] == "modelship"


def test_model_metadata_lists_inputs_and_outputs(client: TestClient) -> None:
    body = client.get("/v2/models/credit").json()
    assert body["name"] == "credit"
    assert body["versions"] == ["3"]
    assert body["platform"] == "modelship-sklearn"
    assert [(i["name"], i["datatype"], i["shape"]) for i in body["inputs"]] == [
        ("age", "INT64", [-1]),
        ("income", "FP64", [-1]),
        ("country", "BYTES", [-1]),
        ("gender", "BYTES", [-1]),
    ]
    assert body["inputs"][3]["parameters"]["optional"] is True
    assert [o["name"] for o in body["outputs"]] == ["predict", "predict_proba"]
    assert body["outputs"][0]["datatype"] == "BYTES"


def test_single_inference(client: TestClient, credit: TrainedModel) -> None:
    response = client.post("/v2/models/credit/infer", json={"id": "one", **columnar(ROWS[:1])})
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "credit"
    assert body["model_version"] == "3"
    assert body["id"] == "one"
    assert body["outputs"] == [
        {
            "name": "predict",
            "shape": [1],
            "datatype": "BYTES",
            "data": expected_predictions(credit, ROWS[:1]),
        }
    ]


def test_batched_inference_and_probabilities(client: TestClient, credit: TrainedModel) -> None:
    request = {**columnar(ROWS), "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}
    response = client.post("/v2/models/credit/versions/3/infer", json=request)
    assert response.status_code == 200, response.text
    predict, proba = response.json()["outputs"]
    assert predict["data"] == expected_predictions(credit, ROWS)
    assert proba["shape"] == [3, 2]
    import pandas as pd

    expected = credit.model.predict_proba(pd.DataFrame(ROWS)[FEATURES]).ravel()
    assert np.allclose(proba["data"], expected)
    assert response.json()["id"]  # generated when the client sends none


def test_nested_column_shape_n_by_1_is_accepted(client: TestClient) -> None:
    request = columnar(ROWS[:2])
    for item in request["inputs"]:  # type: ignore[attr-defined]
        item["shape"] = [2, 1]
        item["data"] = [[v] for v in item["data"]]
    assert client.post("/v2/models/credit/infer", json=request).status_code == 200


def with_input(name: str, **changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(columnar(ROWS[:2]))
    for item in request["inputs"]:  # type: ignore[attr-defined]
        if item["name"] == name:
            item.update(changes)
    return request


def without_input(name: str) -> dict[str, Any]:
    request = copy.deepcopy(columnar(ROWS[:2]))
    request["inputs"] = [i for i in request["inputs"] if i["name"] != name]  # type: ignore[attr-defined]
    return request


def with_extra_input(item: dict[str, Any]) -> dict[str, Any]:
    request = copy.deepcopy(columnar(ROWS[:2]))
    request["inputs"].append(item)  # type: ignore[attr-defined]
    return request


VALIDATION_CASES: list[tuple[str, Any, str]] = [
    ("missing feature", without_input("income"), "missing features: 'income'"),
    (
        "unknown feature",
        with_extra_input({"name": "zip", "shape": [2], "datatype": "FP64", "data": [1, 2]}),
        "unknown feature 'zip'",
    ),
    (
        "wrong datatype for numeric",
        with_input("income", datatype="BYTES", data=["a", "b"]),
        "feature 'income': numeric feature needs a numeric datatype, not BYTES",
    ),
    (
        "wrong datatype for categorical",
        with_input("country", datatype="FP64", data=[1.0, 2.0]),
        "feature 'country': categorical feature needs datatype BYTES, not FP64",
    ),
    (
        "strings in numeric data",
        with_input("income", data=["a", "b"]),
        "feature 'income': data must be numbers",
    ),
    (
        "shape and data disagree",
        with_input("income", data=[1.0, 2.0, 3.0]),
        "feature 'income': shape [2] needs 2 values but data has 3",
    ),
    (
        "wrong shape rank",
        with_input("income", shape=[1, 2]),
        "feature 'income': shape [1, 2] must be [N] or [N, 1]",
    ),
    (
        "rows disagree",
        with_input("income", shape=[3], data=[1.0, 2.0, 3.0]),
        "feature 'income': has 3 rows but other features have 2",
    ),
    (
        "null value",
        with_input("income", data=[None, 2.0]),
        "feature 'income': values must be finite numbers",
    ),
    (
        "out of range",
        with_input("age", data=[30, 130]),
        "feature 'age': value 130 is outside the allowed range [18, 89]",
    ),
    (
        "number too large for a float",
        with_input("income", data=[10**400, 1.0]),
        "feature 'income': a value is too large for a 64-bit float",
    ),
    ("integer feature", with_input("age", datatype="FP64", data=[30.5, 40]), "needs integer"),
    (
        "unknown category",
        with_input("country", data=["FR", "XX"]),
        "feature 'country': unknown category 'XX' (known: 'DE', 'FR', 'US')",
    ),
    ("invalid datatype name", with_input("age", datatype="INT128"), "inputs.0.datatype"),
    ("negative shape", with_input("age", shape=[-2]), "inputs.0.shape.0"),
    ("no inputs", {"inputs": []}, "inputs: List should have at least 1 item"),
    ("not JSON", b"{not json", "invalid JSON"),
    ("not an object", [1, 2, 3], "Input should be an object"),
    (
        "empty batch",
        {"inputs": [dict(i, shape=[0], data=[]) for i in columnar(ROWS)["inputs"]]},  # type: ignore[attr-defined]
        "the batch has no rows",
    ),
    (
        "tensor with categorical features",
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        "this model has categorical features (country); send one input per feature",
    ),
    (
        "unknown output",
        {**columnar(ROWS[:1]), "outputs": [{"name": "explain"}]},
        "unknown output 'explain'; available: predict, predict_proba",
    ),
]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [pytest.param(body, message, id=case) for case, body, message in VALIDATION_CASES],
)
def test_invalid_requests_answer_400_naming_the_problem(
    client: TestClient, request_body: Any, message: str
) -> None:
    if isinstance(request_body, bytes):
        response = client.post("/v2/models/credit/infer", content=request_body)
    else:
        response = client.post("/v2/models/credit/infer", json=request_body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


# The reason each rejected request is counted under (modelship_requests_rejected_total), and
# the rows the request says it has (2 for the ROWS[:2] requests; 0 when it cannot say).
REJECTIONS: dict[str, tuple[str, int]] = {
    "missing feature": ("missingFeature", 2),
    "unknown feature": ("unknownFeature", 2),
    "wrong datatype for numeric": ("wrongType", 2),
    "wrong datatype for categorical": ("wrongType", 2),
    "strings in numeric data": ("notANumber", 2),
    "shape and data disagree": ("wrongShape", 2),
    "wrong shape rank": ("wrongShape", 2),
    "rows disagree": ("wrongShape", 2),
    "null value": ("missingValue", 2),
    "out of range": ("outOfRange", 2),
    "number too large for a float": ("notANumber", 2),
    "integer feature": ("notInteger", 2),
    "unknown category": ("unknownCategory", 2),
    "invalid datatype name": ("invalidRequest", 0),
    "negative shape": ("invalidRequest", 0),
    "no inputs": ("invalidRequest", 0),
    "not JSON": ("invalidJson", 0),
    "not an object": ("invalidRequest", 0),
    "empty batch": ("wrongShape", 0),
    "tensor with categorical features": ("wrongShape", 1),
    "unknown output": ("unknownOutput", 1),
}
BASE = 'model="credit",version="3",revision="r1"'


def _moved(
    before: str, after: str, family: str, label: str, values: Iterable[str]
) -> dict[str, float]:
    """The series of `family` (one per `label` value) that moved between two scrapes."""
    moved = {}
    for value in values:
        series = f'{family}{{{BASE},{label}="{value}"}}'
        delta = metric_value(after, series) - metric_value(before, series)
        if delta:
            moved[value] = delta
    return moved


def test_every_validation_case_has_its_rejection_reason() -> None:
    assert set(REJECTIONS) == {case for case, _, _ in VALIDATION_CASES}


def _post(client: TestClient, body: Any, path: str = "/v2/models/credit/infer") -> int:
    if isinstance(body, bytes):
        return client.post(path, content=body).status_code
    return client.post(path, json=body).status_code


@pytest.mark.parametrize(
    ("request_body", "reason", "rows"),
    [pytest.param(body, *REJECTIONS[case], id=case) for case, body, _ in VALIDATION_CASES],
)
def test_a_rejected_request_is_counted_under_its_reason_with_its_rows(
    client: TestClient, request_body: Any, reason: str, rows: int
) -> None:
    before = client.get("/metrics").text
    assert _post(client, request_body) == 400
    after = client.get("/metrics").text
    reasons = {r for r, _ in REJECTIONS.values()} | {"unknownModel"}
    counted = _moved(before, after, "modelship_requests_rejected_total", "reason", reasons)
    assert counted == {reason: 1}
    rejected_rows = f"modelship_rejected_rows_total{{{BASE}}}"
    assert metric_value(after, rejected_rows) - metric_value(before, rejected_rows) == rows
    client_errors = f'modelship_requests_total{{{BASE},outcome="client_error"}}'
    assert metric_value(after, client_errors) - metric_value(before, client_errors) == 1


@pytest.mark.parametrize(
    ("request_body", "missing"),
    [
        pytest.param(without_input("income"), {"income": 2}, id="no input"),
        pytest.param(with_input("income", data=[None, 2.0]), {"income": 1}, id="null"),
        pytest.param(with_input("country", data=[None, "FR"]), {"country": 1}, id="null category"),
        pytest.param(
            {
                "inputs": [
                    {"name": "gender", "shape": [3], "datatype": "BYTES", "data": ["F", "M", "F"]}
                ]
            },
            {"age": 3, "income": 3, "country": 3},
            id="only a fairness attribute",
        ),
        pytest.param(with_input("age", data=[30, 130]), {}, id="out of range: nothing missing"),
    ],
)
def test_missing_values_of_rejected_requests_are_counted_per_feature(
    client: TestClient, request_body: Any, missing: dict[str, int]
) -> None:
    before = client.get("/metrics").text
    assert _post(client, request_body) == 400
    after = client.get("/metrics").text
    assert _moved(before, after, "modelship_feature_missing_total", "feature", FEATURES) == missing


def test_a_request_for_another_model_is_rejected_as_unknown_model(client: TestClient) -> None:
    series = f'modelship_requests_rejected_total{{{BASE},reason="unknownModel"}}'
    before = metric_value(client.get("/metrics").text, series)
    assert _post(client, columnar(ROWS[:1]), "/v2/models/other/infer") == 404
    assert metric_value(client.get("/metrics").text, series) - before == 1


def test_served_values_outside_the_profile_range_are_counted(
    client: TestClient, credit: TrainedModel
) -> None:
    income = credit.profile.feature("income").distribution
    assert isinstance(income, NumericDistribution)
    values = [income.min - 1.0, income.min, income.max, income.max + 0.5, 50.0]
    rows = [{"age": 40, "income": v, "country": "FR"} for v in values]
    series = f'modelship_feature_out_of_range_total{{{BASE},feature="income"}}'
    age = f'modelship_feature_out_of_range_total{{{BASE},feature="age"}}'
    before = client.get("/metrics").text
    assert _post(client, columnar(rows)) == 200
    after = client.get("/metrics").text
    assert metric_value(after, series) - metric_value(before, series) == 2  # min, max are in
    assert metric_value(after, age) - metric_value(before, age) == 0


def test_unknown_model_and_version_are_404(client: TestClient) -> None:
    response = client.post("/v2/models/other/infer", json=columnar(ROWS[:1]))
    assert response.status_code == 404
    assert "model 'other' not found" in response.json()["error"]
    response = client.get("/v2/models/credit/versions/9")
    assert response.status_code == 404
    assert client.get("/nope").json() == {"error": "Not Found"}


def metric_value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in metrics")


def test_feedback_scores_remembered_predictions(client: TestClient, credit: TrainedModel) -> None:
    base = 'model="credit",version="3",revision="r1"'
    before = client.get("/metrics").text
    request = {"id": "fb-1", **columnar(ROWS[:2], gender=["F", "M"])}
    assert client.post("/v2/models/credit/infer", json=request).status_code == 200
    predicted = expected_predictions(credit, ROWS[:2])
    truth = [predicted[0], "deny" if predicted[1] == "approve" else "approve"]  # one right

    response = client.post("/v2/models/credit/feedback", json={"id": "fb-1", "ground_truth": truth})
    assert response.status_code == 200
    assert response.json() == {"id": "fb-1", "matched": True, "rows": 2}
    again = client.post("/v2/models/credit/feedback", json={"id": "fb-1", "ground_truth": truth})
    assert again.json()["matched"] is False  # scored at most once

    after = client.get("/metrics").text

    def delta(series: str) -> float:
        try:
            old = metric_value(before, series)
        except AssertionError:
            old = 0.0
        return metric_value(after, series) - old

    assert delta(f'modelship_feedback_rows_total{{{base},result="matched"}}') == 2
    assert delta(f'modelship_feedback_rows_total{{{base},result="unmatched"}}') == 2
    assert delta(f"modelship_feedback_correct_rows_total{{{base}}}") == 1
    for t in set(truth):
        assert delta(
            f'modelship_ground_truth_class_total{{{base},class="{t}"}}'
        ) == 2 * truth.count(t)
    assert (
        delta(
            f'modelship_fairness_predictions_total{{{base},attribute="gender",group="F",'
            f'class="{predicted[0]}"}}'
        )
        == 1
    )
    assert (
        delta(
            f'modelship_fairness_feedback_total{{{base},attribute="gender",group="M",'
            f'class="{predicted[1]}",actual="{truth[1]}"}}'
        )
        == 1
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "x"}, "ground_truth: Field required"),
        ({"id": "", "ground_truth": ["a"]}, "id: String should have at least 1 character"),
        ({"id": "x", "ground_truth": []}, "ground_truth: List should have at least 1 item"),
        ({"id": "x", "ground_truth": [{"a": 1}]}, "ground_truth.0"),
    ],
)
def test_invalid_feedback_is_400(client: TestClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/v2/models/credit/feedback", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_feedback_with_the_wrong_row_count_is_400_and_kept(client: TestClient) -> None:
    assert client.post("/v2/models/credit/infer", json={"id": "fb-2", **columnar(ROWS)}).is_success
    wrong = client.post("/v2/models/credit/feedback", json={"id": "fb-2", "ground_truth": ["a"]})
    assert wrong.status_code == 400
    assert "ground_truth has 1 values but request 'fb-2' had 3 rows" in wrong.json()["error"]
    right = {"id": "fb-2", "ground_truth": ["approve"] * 3}
    assert client.post("/v2/models/credit/feedback", json=right).json()["matched"] is True


def test_metrics_count_each_value_in_its_profile_bin(
    client: TestClient, credit: TrainedModel
) -> None:
    from modelship.profile.schema import NumericFeature

    base = 'model="credit",version="3",revision="r1"'
    income = credit.profile.feature("income")
    assert isinstance(income, NumericFeature)
    edges = income.distribution.edges
    # One value on each edge (right-closed: it counts in the bin below), one beyond each end.
    values = [*edges, edges[0] - 100.0, edges[-1] + 100.0]
    rows = [{"age": 40, "income": v, "country": "FR"} for v in values]
    before = client.get("/metrics").text
    assert client.post("/v2/models/credit/infer", json=columnar(rows)).status_code == 200
    after = client.get("/metrics").text
    cumulative_expected = np.cumsum(
        np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    )
    for edge, expected in zip([*edges, float("inf")], cumulative_expected, strict=True):
        le = "+Inf" if edge == float("inf") else repr(float(edge))
        series = f'modelship_feature_value_bucket{{{base},feature="income",le="{le}"}}'
        assert metric_value(after, series) - metric_value(before, series) == expected
    country = f'modelship_feature_category_total{{{base},feature="country",category="FR"}}'
    assert metric_value(after, country) - metric_value(before, country) == len(values)
    other = f'modelship_feature_category_total{{{base},feature="country",category="{OTHER}"}}'
    assert metric_value(after, other) == 0
    success = f'modelship_requests_total{{{base},outcome="success"}}'
    assert metric_value(after, success) - metric_value(before, success) == 1


async def test_concurrent_requests_are_micro_batched_with_the_same_answers(
    credit: TrainedModel,
) -> None:
    app = create_app(settings_for(credit), load_in_background=False)
    rows = [
        {"age": int(a), "income": float(i), "country": str(c)}
        for a, i, c in credit.data[FEATURES].head(40).itertuples(index=False)
    ]
    async with app.router.lifespan_context(app):
        server = app.state.server
        calls: list[int] = []
        original = server._predict

        def counting(batch: Any, outputs: Any) -> Any:
            calls.append(batch.rows)
            return original(batch, outputs)

        server.batcher._predict = counting
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            responses = await asyncio.gather(
                *[http.post("/v2/models/credit/infer", json=columnar([row])) for row in rows]
            )
    answers = [r.json()["outputs"][0]["data"][0] for r in responses]
    assert answers == expected_predictions(credit, rows)
    assert sum(calls) == len(rows)
    assert len(calls) < len(rows)  # requests shared predict calls


def test_a_failed_load_keeps_the_server_up_and_unready(
    credit: TrainedModel, tmp_path: Path
) -> None:
    settings = settings_for(credit, model_uri=f"file://{tmp_path}/missing.joblib")
    app = create_app(settings, load_in_background=False)
    with TestClient(app) as failed:
        assert failed.get("/v2/health/live").status_code == 200
        assert failed.get("/v2/health/ready").status_code == 400
        assert failed.get("/v2/models/credit/ready").status_code == 400
        response = failed.post("/v2/models/credit/infer", json=columnar(ROWS[:1]))
        assert response.status_code == 503
        assert "does not exist" in response.json()["error"]
        assert (
            'modelship_model_ready{model="credit",version="3",revision="r1"} 0'
            in failed.get("/metrics").text
        )


def test_profile_and_model_must_agree(credit: TrainedModel, tmp_path: Path) -> None:
    from modelship.profile.build import ProfileOptions, build_profile

    narrow = build_profile(credit.data[["age", "label"]], ProfileOptions(target="label"))
    path = tmp_path / "narrow.json"
    path.write_text(narrow.to_json())
    app = create_app(settings_for(credit, profile_path=str(path)), load_in_background=False)
    with TestClient(app) as mismatched:
        assert mismatched.get("/v2/health/ready").status_code == 400
        error = mismatched.post("/v2/models/credit/infer", json=columnar(ROWS[:1])).json()["error"]
        assert "the model takes 3 features but the profile has 1: age" in error


def test_no_model_version_is_omitted_never_null(credit: TrainedModel) -> None:
    app = create_app(settings_for(credit, model_version=""), load_in_background=False)
    with TestClient(app) as unversioned:
        response = unversioned.post("/v2/models/credit/infer", json=columnar(ROWS[:1]))
        assert response.status_code == 200
        body = response.json()
        assert "model_version" not in body  # optional in the protocol; null is not a string
        assert list(body) == ["model_name", "id", "parameters", "outputs"]
        assert unversioned.get("/v2/models/credit").json()["versions"] == []


def test_a_file_that_is_not_a_model_fails_the_load_naming_it(
    credit: TrainedModel, tmp_path: Path
) -> None:
    import structlog

    data = tmp_path / "train.csv"
    credit.data.head(20).to_csv(data, index=False)
    app = create_app(settings_for(credit, model_uri=f"file://{data}"), load_in_background=False)
    with structlog.testing.capture_logs() as logs, TestClient(app) as failed:
        assert failed.get("/v2/health/live").status_code == 200
        assert failed.get("/v2/health/ready").status_code == 400
        response = failed.post("/v2/models/credit/infer", json=columnar(ROWS[:1]))
    assert response.status_code == 503
    message = response.json()["error"]
    assert f"{data} is not a loadable sklearn/joblib model" in message
    assert "pop from empty list" not in message.split("(")[0]  # the cause comes after
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1
    assert f"{data} is not a loadable sklearn/joblib model" in errors[0]["error"]


def _buckets(text: str, metric: str) -> dict[str, float]:
    return {
        line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(metric + "_bucket{")
    }


def test_a_binary_classifier_exports_its_positive_class_score_histogram(
    client: TestClient, credit: TrainedModel
) -> None:
    import pandas as pd

    rows = [{"age": 20 + i, "income": 30.0 + 1.5 * i, "country": "FR"} for i in range(40)]
    scores = credit.model.predict_proba(pd.DataFrame(rows)[FEATURES])[:, 1]
    assert list(credit.model.classes_) == ["approve", "deny"]  # the score is of "deny"
    before = _buckets(client.get("/metrics").text, "modelship_prediction_score")
    assert _post(client, columnar(rows)) == 200
    text = client.get("/metrics").text
    after = _buckets(text, "modelship_prediction_score")
    assert f'modelship_prediction_score_bucket{{{BASE},class="deny",le="0.5"}}' in text
    assert sorted(after) == sorted(before)
    assert len(after) == 20  # 0.05 ... 0.95, +Inf
    for le, count in after.items():
        bound = float(le.replace("+Inf", "inf"))
        assert count - before[le] == int((scores <= bound).sum()), le


def test_no_score_histogram_when_turned_off(credit: TrainedModel) -> None:
    app = create_app(settings_for(credit, score_histogram=False), load_in_background=False)  # type: ignore[arg-type]
    with TestClient(app) as plain:
        assert plain.post("/v2/models/credit/infer", json=columnar(ROWS)).status_code == 200
        assert "modelship_prediction_score" not in plain.get("/metrics").text


def test_feedback_counts_predicted_by_actual_class(
    client: TestClient, credit: TrainedModel
) -> None:
    predicted = expected_predictions(credit, ROWS)
    other = {"approve": "deny", "deny": "approve"}
    truth = [predicted[0], other[predicted[1]], "maybe"]  # right, wrong, a class never seen
    request = {"id": "confusion-1", **columnar(ROWS)}
    assert client.post("/v2/models/credit/infer", json=request).status_code == 200

    def series(p: str, a: str) -> str:
        return f'modelship_feedback_confusion_total{{{BASE},class="{p}",actual="{a}"}}'

    keys = [(predicted[0], predicted[0]), (predicted[1], other[predicted[1]]),
            (predicted[2], OTHER)]  # fmt: skip
    before = client.get("/metrics").text
    assert all(metric_value(before, series(p, a)) >= 0 for p, a in keys)  # there from the start
    feedback = {"id": "confusion-1", "ground_truth": truth}
    assert client.post("/v2/models/credit/feedback", json=feedback).status_code == 200
    after = client.get("/metrics").text
    assert sum(metric_value(after, series(p, a)) - metric_value(before, series(p, a))
               for p, a in set(keys)) == 3  # fmt: skip
    for p, a in keys:
        assert metric_value(after, series(p, a)) - metric_value(before, series(p, a)) >= 1
