"""The real Prometheus scrapes `modelship serve`; bin counts arrive as the contract says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from credit_model import TrainedModel, columnar
from modelship.profile.schema import NumericFeature
from modelship.stats import binned_counts
from modelship_testing.waiters import diagnostic, wait_for
from served_process import ServerProcess, call, start_server

pytestmark = pytest.mark.prometheus


def binned_from_query(result: list[dict[str, Any]], feature: str, edges: list[float]) -> list[int]:
    """What the DriftMonitor does: one query for every feature, de-cumulated per feature."""
    buckets = [(s["metric"]["le"], float(s["value"][1]))
               for s in result if s["metric"]["feature"] == feature]  # fmt: skip
    return [int(c) for c in binned_counts(buckets, edges)]


def test_prometheus_scrapes_bin_counts(
    prometheus: Any, trained: TrainedModel, tmp_path: Path
) -> None:
    handle: ServerProcess = start_server(
        tmp_path,
        ["--model-name", "credit", "--model-version", "3", "--revision", "scraped",
         "--model-uri", f"file://{trained.model_path}", "--profile", str(trained.profile_path)],
    )  # fmt: skip
    job = f"modelship-server-{handle.port}"
    try:
        with diagnostic(f"modelship serve log (pid {handle.proc.pid})", handle.log_tail):
            wait_for(lambda: handle.status("/v2/health/ready") == 200, timeout=60,
                     describe="modelship serve to become ready")  # fmt: skip
            income = trained.profile.feature("income")
            assert isinstance(income, NumericFeature)
            edges = income.distribution.edges
            values = [edges[0] - 10.0, *edges, edges[-1] + 10.0, edges[-1] + 20.0]
            rows = [{"age": 40, "income": v, "country": "US"} for v in values]
            assert call(handle, "/v2/models/credit/infer", columnar(rows))[0] == 200
            assert call(handle, "/v2/models/credit/infer", columnar(rows[:1]))[0] == 200
            sent = [*values, values[0]]
            expected = np.bincount(
                np.searchsorted(edges, sent, side="left"), minlength=len(edges) + 1
            ).tolist()

            prometheus.add_target(job, handle.address, {"purpose": "server-test"})
            prometheus.wait_for_target_up(job, timeout=60)
            selector = f'job="{job}",model="credit",version="3",revision="scraped"'

            def income_bins() -> list[int] | None:
                result = prometheus.query(f"modelship_feature_value_bucket{{{selector}}}")
                bins = binned_from_query(result, "income", edges)
                return bins if bins == expected else None

            wait_for(income_bins, timeout=30, describe=f"income bins {expected} in Prometheus")
            all_features = prometheus.query(f"modelship_feature_value_bucket{{{selector}}}")
            assert {s["metric"]["feature"] for s in all_features} == {"age", "income"}
            age = trained.profile.feature("age")
            assert isinstance(age, NumericFeature)
            age_bins = binned_from_query(all_features, "age", age.distribution.edges)
            assert sum(age_bins) == len(sent)
            requests = prometheus.query(
                f'sum(modelship_requests_total{{{selector},outcome="success"}})'
            )
            assert float(requests[0]["value"][1]) == 2
            category = prometheus.query(
                f'modelship_feature_category_total{{{selector},feature="country",category="US"}}'
            )
            assert float(category[0]["value"][1]) == len(sent)
    finally:
        prometheus.remove_target(job)
        handle.stop()
