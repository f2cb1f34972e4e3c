"""The statistical judge, by simulation on the server's own latency buckets and as a table:
an identical canary fails no more often than `significance`, a 20% slower one is caught at
the sample sizes docs/analysis.md recommends, and small samples are Inconclusive."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from modelship.analysis.measure import RoundData, measure_round, parse_batch
from modelship.analysis.queries import Subject, builtin_batch
from modelship.api.analysis import Measurement, MeasurementResult, Metric
from modelship.server.metrics import LATENCY_BUCKETS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
R = MeasurementResult
EDGES = [*LATENCY_BUCKETS, math.inf]
SIMULATIONS = 400


def latency_metric(**judge: Any) -> Metric:
    return Metric.model_validate({"name": "p99", "builtin": "latencyP99", "judge": judge})


def errors_metric(**judge: Any) -> Metric:
    return Metric.model_validate({"name": "errors", "builtin": "errorRate", "judge": judge})


def latency_round(canary: np.ndarray, stable: np.ndarray) -> RoundData:
    """What Prometheus would answer for these latencies: cumulative buckets, counts, means."""
    data = RoundData()
    for side, values in (("canary", canary), ("stable", stable)):
        counts = np.bincount(np.searchsorted(LATENCY_BUCKETS, values), minlength=len(EDGES))
        for edge, total in zip(EDGES, np.cumsum(counts), strict=True):
            data.buckets[("p99", side)][edge] = float(total)
        data.values[("__samples__", side)] = float(len(values))
        data.judged[("p99", side, "mean")] = float(values.mean())
    return data


def error_round(canary: tuple[float, float], stable: tuple[float, float]) -> RoundData:
    data = RoundData()
    for side, (errors, total) in (("canary", canary), ("stable", stable)):
        data.values[("__samples__", side)] = total
        data.judged[("errors", side, "errors")] = errors
    return data


def measure(metric: Metric, data: RoundData, min_samples: int = 100) -> Measurement:
    (out,) = measure_round([metric], data, {}, min_samples, NOW)
    return out


def latencies(rng: np.random.Generator, n: int, slower: float = 1.0) -> np.ndarray:
    return rng.lognormal(math.log(0.08), 0.5, n) * slower


@pytest.mark.parametrize("significance", [0.01, 0.05])
def test_an_identical_canary_fails_no_more_often_than_the_significance(
    significance: float,
) -> None:
    rng = np.random.default_rng(7)
    metric = latency_metric(significance=significance, minEffect=0)  # the test alone decides
    failed = sum(
        measure(metric, latency_round(latencies(rng, 500), latencies(rng, 2000))).result is R.FAILED
        for _ in range(SIMULATIONS)
    )
    margin = 3 * math.sqrt(significance * (1 - significance) / SIMULATIONS)
    assert failed / SIMULATIONS <= significance + margin


def test_a_canary_20_percent_slower_is_caught_at_the_recommended_sample_sizes() -> None:
    rng = np.random.default_rng(11)
    metric = latency_metric()  # defaults: significance 0.01, min effect 10%
    caught = sum(
        measure(metric, latency_round(latencies(rng, 500, 1.2), latencies(rng, 2000))).result
        is R.FAILED
        for _ in range(SIMULATIONS)
    )
    assert caught / SIMULATIONS >= 0.95


def test_an_error_rate_regression_is_caught_and_an_identical_one_passes() -> None:
    rng = np.random.default_rng(3)
    metric = errors_metric()
    identical = regressed = 0
    for _ in range(SIMULATIONS):
        stable = (float(rng.binomial(4000, 0.01)), 4000.0)
        same = measure(metric, error_round((float(rng.binomial(1000, 0.01)), 1000.0), stable))
        worse = measure(metric, error_round((float(rng.binomial(1000, 0.03)), 1000.0), stable))
        identical += same.result is R.FAILED
        regressed += worse.result is R.FAILED
    assert identical / SIMULATIONS <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / SIMULATIONS)
    assert regressed / SIMULATIONS >= 0.95


@pytest.mark.parametrize(
    ("canary", "stable", "result", "says"),
    [
        ((40, 1000), (40, 4000), R.FAILED, "worse than stable"),
        ((12, 1000), (40, 4000), R.SUCCESSFUL, "no worse than stable"),
        # 0.4 points more errors, significant with this much traffic, but under the 0.5 floor
        ((140, 10000), (400, 40000), R.SUCCESSFUL, "worse by less than the min effect"),
        ((2, 100), (1, 400), R.INCONCLUSIVE, "not yet significant"),
        ((1, 50), (40, 4000), R.INCONCLUSIVE, "50 canary and 4000 stable requests"),
    ],
)
def test_error_rate_verdicts(
    canary: tuple[int, int], stable: tuple[int, int], result: MeasurementResult, says: str
) -> None:
    out = measure(errors_metric(), error_round(canary, stable))
    assert out.result is result, out.message
    assert says in out.message
    if result is not R.INCONCLUSIVE or "not yet" in says:
        assert out.p_value is not None
        assert out.effect == pytest.approx(canary[0] / canary[1] - stable[0] / stable[1])
        assert out.stable_samples == stable[1]


def test_thresholds_and_judge_together_the_worse_result_wins() -> None:
    both = Metric.model_validate(
        {"name": "errors", "builtin": "errorRate", "max": 0.02, "judge": {}}
    )
    data = error_round((30, 1000), (30, 4000))  # 3%: over max, and worse than stable
    data.values[("errors", "canary")] = 0.03
    out = measure(both, data)
    assert out.result is R.FAILED
    assert "> max 0.02" in out.message
    assert "judge:" in out.message
    calm = error_round((10, 1000), (40, 4000))
    calm.values[("errors", "canary")] = 0.01
    assert measure(both, calm).result is R.SUCCESSFUL


def test_a_judge_without_stable_traffic_is_inconclusive() -> None:
    data = RoundData()
    data.values[("__samples__", "canary")] = 1000
    out = measure(errors_metric(), data)
    assert out.result is R.INCONCLUSIVE
    assert "no stable traffic" in out.message


def test_the_judge_adds_its_parts_to_the_one_batched_query_and_reads_them_back() -> None:
    metrics = [latency_metric(), errors_metric()]
    subject = Subject("ml", "fraud", "c1", "s1", "60s")
    query = builtin_batch(metrics, subject)
    assert query.count("modelship_request_duration_seconds_sum") == 2  # a mean per side
    assert '"ms_kind", "errors"' in query
    answer = [
        {"metric": {"ms_metric": "errors", "ms_side": "canary", "ms_kind": "errors"},
         "value": [0, "7"]},
        {"metric": {"ms_metric": "p99", "ms_side": "stable", "ms_kind": "mean"},
         "value": [0, "0.08"]},
    ]  # fmt: skip
    data = parse_batch(answer)
    assert data.judged == {("errors", "canary", "errors"): 7.0, ("p99", "stable", "mean"): 0.08}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"builtin": "predictionDrift", "judge": {}}, "judge applies only to builtin errorRate"),
        ({"builtin": "errorRate", "judge": {"significance": 0.5}}, "less than or equal to 0.2"),
    ],
)
def test_a_judge_where_it_cannot_judge_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Metric.model_validate({"name": "m", **fields})


@pytest.mark.parametrize("builtin", ["errorRate", "latencyP99"])
def test_with_min_samples_zero_an_empty_side_is_inconclusive_not_a_crash(builtin: str) -> None:
    judged = Metric.model_validate({"name": "m", "builtin": builtin, "judge": {}})
    data = RoundData()
    data.values[("__samples__", "canary")] = 0.0
    data.values[("__samples__", "stable")] = 400.0
    data.judged[("m", "stable", "mean")] = 0.05
    data.judged[("m", "canary", "mean")] = float("nan")
    out = measure(judged, data, min_samples=0)
    assert out.result is R.INCONCLUSIVE
    assert out.effect is None


@pytest.mark.parametrize(
    ("slower", "result", "says"),
    [
        (1.5, R.FAILED, "worse than stable"),
        (1.0, R.SUCCESSFUL, "no worse than stable"),
        (1.05, R.SUCCESSFUL, "worse by less than the min effect"),
    ],
)
def test_latency_verdicts_on_large_samples(
    slower: float, result: MeasurementResult, says: str
) -> None:
    rng = np.random.default_rng(5)
    canary, stable = latencies(rng, 20000, slower), latencies(rng, 20000)
    out = measure(latency_metric(), latency_round(canary, stable))
    assert out.result is result, out.message
    assert says in out.message
    assert out.effect == pytest.approx(canary.mean() / stable.mean() - 1)


def test_latency_large_effect_on_few_samples_is_inconclusive() -> None:
    # Means 25% apart, but so few and so spread requests that the test cannot tell.
    canary = np.array([0.02, 0.3, 0.03, 0.2, 0.04] * 21)
    stable = np.array([0.03, 0.2, 0.04, 0.15, 0.05] * 21)
    out = measure(latency_metric(), latency_round(canary, stable), min_samples=100)
    assert out.effect is not None
    assert out.effect >= 0.1
    assert out.result is R.INCONCLUSIVE, out.message
    assert "not yet significant" in out.message
