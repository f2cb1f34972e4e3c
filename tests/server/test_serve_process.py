"""`modelship serve` as a real process: protocol, validation, feedback and /metrics."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest
from credit_model import FEATURES, TrainedModel, columnar
from modelship.profile.schema import NumericFeature
from modelship_testing.waiters import wait_for
from served_process import ServerProcess, call, moved, scrape, start_server

BASE = 'model="credit",version="3",revision="r1"'


def test_metadata(server: ServerProcess) -> None:
    status, body = call(server, "/v2/models/credit")
    assert status == 200
    assert body["name"] == "credit"
    assert body["versions"] == ["3"]
    assert [i["name"] for i in body["inputs"]] == ["age", "income", "country", "gender"]
    assert server.status("/v2/health/live") == 200
    assert server.status("/v2/models/credit/ready") == 200


def test_single_and_batched_inference(server: ServerProcess, trained: TrainedModel) -> None:
    rows = trained.data[FEATURES].sample(25, random_state=1).to_dict("records")
    expected = [str(p) for p in trained.model.predict(pd.DataFrame(rows)[FEATURES])]
    status, single = call(server, "/v2/models/credit/infer", {"id": "s1", **columnar(rows[:1])})
    assert status == 200
    assert single["id"] == "s1"
    assert single["outputs"][0]["data"] == expected[:1]
    status, batch = call(server, "/v2/models/credit/infer", columnar(rows))
    assert status == 200
    assert batch["outputs"][0]["shape"] == [25]
    assert batch["outputs"][0]["data"] == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "income"}, "missing features: 'income'"),
        ({"add": {"name": "zip", "shape": [1], "datatype": "FP64", "data": [1]}},
         "unknown feature 'zip'"),
        ({"set": ("income", {"datatype": "BYTES", "data": ["x"]})},
         "feature 'income': numeric feature needs a numeric datatype, not BYTES"),
        ({"set": ("income", {"shape": [2]})},
         "feature 'income': has 2 rows but other features have 1"),
        ({"set": ("age", {"data": [200]})},
         "feature 'age': value 200 is outside the allowed range [18, 89]"),
        ({"set": ("country", {"data": ["XX"]})}, "feature 'country': unknown category 'XX'"),
    ],
)  # fmt: skip
def test_validation_errors(server: ServerProcess, change: dict[str, Any], message: str) -> None:
    request = columnar([{"age": 40, "income": 50.0, "country": "FR"}])
    inputs: list[dict[str, Any]] = request["inputs"]  # type: ignore[assignment]
    if "drop" in change:
        inputs[:] = [i for i in inputs if i["name"] != change["drop"]]
    if "add" in change:
        inputs.append(change["add"])
    if "set" in change:
        name, updates = change["set"]
        next(i for i in inputs if i["name"] == name).update(updates)
    status, body = call(server, "/v2/models/credit/infer", request)
    assert status == 400
    assert message in body["error"]


def test_feedback_accounting(server: ServerProcess, trained: TrainedModel) -> None:
    rows = [
        {"age": 30, "income": 30.0, "country": "FR"},
        {"age": 50, "income": 80.0, "country": "US"},
    ]
    predicted = [str(p) for p in trained.model.predict(pd.DataFrame(rows)[FEATURES])]
    before = scrape(server)
    status, _ = call(server, "/v2/models/credit/infer",
                     {"id": "feedback-1", **columnar(rows, gender=["F", "M"])})  # fmt: skip
    assert status == 200
    status, body = call(server, "/v2/models/credit/feedback",
                        {"id": "feedback-1", "ground_truth": predicted})  # fmt: skip
    assert (status, body) == (200, {"id": "feedback-1", "matched": True, "rows": 2})
    status, body = call(server, "/v2/models/credit/feedback",
                        {"id": "never-seen", "ground_truth": ["deny"]})  # fmt: skip
    assert (status, body["matched"]) == (200, False)
    after = scrape(server)
    grew = partial(moved, before, after)
    assert grew(f'modelship_feedback_rows_total{{{BASE},result="matched"}}') == 2
    assert grew(f'modelship_feedback_rows_total{{{BASE},result="unmatched"}}') == 1
    assert grew(f"modelship_feedback_correct_rows_total{{{BASE}}}") == 2
    assert grew(f'modelship_feedback_requests_total{{{BASE},outcome="success"}}') == 2


def expected_bins(edges: list[float], values: list[float]) -> list[int]:
    return np.bincount(
        np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1
    ).tolist()


def bucket_counts(samples: dict[str, float], feature: str, edges: list[float]) -> list[int]:
    """Non-cumulative bin counts from the scraped cumulative `le` buckets."""
    labels = [repr(float(e)) for e in edges] + ["+Inf"]
    cumulative = [samples[f'modelship_feature_value_bucket{{{BASE},feature="{feature}",le="{le}"}}']
                  for le in labels]  # fmt: skip
    return [int(c) for c in np.diff([0.0, *cumulative])]


def test_metrics_count_requests_per_profile_bin(
    server: ServerProcess, trained: TrainedModel
) -> None:
    income = trained.profile.feature("income")
    assert isinstance(income, NumericFeature)
    edges = income.distribution.edges
    before = scrape(server)
    sent: list[float] = []
    # A known set: every edge exactly (right-closed bins), and values beyond both ends.
    for values in ([edges[0] - 50.0, *edges], [edges[-1] + 50.0, edges[1]]):
        rows = [{"age": 40, "income": v, "country": "DE"} for v in values]
        assert call(server, "/v2/models/credit/infer", columnar(rows))[0] == 200
        sent += values
    after = scrape(server)
    observed = np.subtract(bucket_counts(after, "income", edges),
                           bucket_counts(before, "income", edges)).tolist()  # fmt: skip
    assert observed == expected_bins(edges, sent)
    de = f'modelship_feature_category_total{{{BASE},feature="country",category="DE"}}'
    assert after[de] - before.get(de, 0) == len(sent)
    success = f'modelship_requests_total{{{BASE},outcome="success"}}'
    assert after[success] - before[success] == 2
    assert after[f"modelship_model_ready{{{BASE}}}"] == 1


def test_a_failed_load_keeps_the_process_up_but_unready(tmp_path: Any) -> None:
    handle = start_server(tmp_path, ["--model-name", "broken", "--model-uri",
                                     f"file://{tmp_path}/nothing.joblib"])  # fmt: skip
    try:
        wait_for(lambda: "model load failed" in handle.log.read_text(), timeout=60,
                 describe="the load failure to be logged")  # fmt: skip
        assert handle.proc.poll() is None
        assert handle.status("/v2/health/live") == 200
        assert handle.status("/v2/health/ready") == 400
        log = handle.log.read_text()
        assert "does not exist" in log
        assert '"level": "error"' in log
    finally:
        handle.stop()
