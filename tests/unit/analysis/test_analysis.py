"""Analysis semantics as tables: judging one value, counting rounds, gate verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.analysis.measure import RoundData, judge, measure_round, parse_batch
from modelship.analysis.queries import Subject, builtin_batch, render_custom
from modelship.analysis.run import (
    current_run,
    metrics_for,
    next_round_at,
    record_round,
    verdicts,
)
from modelship.api.analysis import (
    Analysis,
    AnalysisGate,
    Measurement,
    MeasurementResult,
    Metric,
)
from modelship.rollout.types import Verdict

NOW = datetime(2026, 1, 1, tzinfo=UTC)
R = MeasurementResult


def metric(**fields: Any) -> Metric:
    return Metric.model_validate({"name": "m", "builtin": "errorRate", **fields})


@pytest.mark.parametrize(
    ("fields", "value", "stable", "samples", "result"),
    [
        ({"max": 0.01}, 0.005, None, 500, R.SUCCESSFUL),
        ({"max": 0.01}, 0.02, None, 500, R.FAILED),
        ({"max": 0.01}, 0.02, None, 50, R.INCONCLUSIVE),  # too few requests: no verdict
        ({"max": 0.01}, None, None, 500, R.INCONCLUSIVE),  # no data
        ({"max": 0.01}, float("nan"), None, 500, R.INCONCLUSIVE),
        ({"min": 10}, 5.0, None, 500, R.FAILED),
        ({"min": 1, "max": 2}, 1.5, None, 500, R.SUCCESSFUL),
        ({"maxIncrease": 0.2}, 0.13, 0.10, 500, R.FAILED),
        ({"maxIncrease": 0.2}, 0.11, 0.10, 500, R.SUCCESSFUL),
        ({"maxIncrease": 0.2}, 0.11, None, 500, R.INCONCLUSIVE),
        ({"max": 0.01, "maxIncrease": 0.2}, 0.5, None, 500, R.FAILED),
    ],
)
def test_judge(
    fields: dict[str, Any],
    value: float | None,
    stable: float | None,
    samples: float,
    result: MeasurementResult,
) -> None:
    measurement = judge(metric(**fields), value, stable, samples, 100, NOW)
    assert measurement.result is result
    assert measurement.message


def analysis(**fields: Any) -> Analysis:
    body: dict[str, Any] = {
        "interval": "10s",
        "metrics": [
            {"name": "errors", "builtin": "errorRate", "max": 0.01},
            {"name": "p99", "builtin": "latencyP99", "max": 0.25},
        ],
    }
    body.update(fields)
    return Analysis.model_validate(body)


def measurements(*results: MeasurementResult) -> list[Measurement]:
    names = ["errors", "p99"]
    return [
        Measurement(metric=names[i], result=r, measured_at=NOW, message=str(r))
        for i, r in enumerate(results)
    ]


def test_a_gate_passes_after_count_successful_rounds() -> None:
    spec = analysis()
    gates = {"step-2": AnalysisGate(count=2)}
    run = current_run(None, "canary", NOW)
    assert next_round_at(run, spec) == NOW
    run = record_round(run, measurements(R.SUCCESSFUL, R.SUCCESSFUL), gates, spec, NOW)
    assert verdicts(run, gates, spec)["step-2"].verdict is Verdict.RUNNING
    assert next_round_at(run, spec) == NOW + timedelta(seconds=10)
    run = record_round(run, measurements(R.SUCCESSFUL, R.SUCCESSFUL), gates, spec, NOW)
    assert verdicts(run, gates, spec)["step-2"].verdict is Verdict.SUCCESSFUL


def test_failures_beyond_the_limit_fail_every_gate() -> None:
    spec = analysis(failureLimit=1)
    gates = {"step-2": AnalysisGate(), "background": AnalysisGate()}
    run = current_run(None, "canary", NOW)
    run = record_round(run, measurements(R.FAILED, R.SUCCESSFUL), gates, spec, NOW)
    assert verdicts(run, gates, spec)["background"].verdict is Verdict.RUNNING
    run = record_round(run, measurements(R.FAILED, R.SUCCESSFUL), gates, spec, NOW)
    result = verdicts(run, gates, spec)
    assert result["background"].verdict is Verdict.FAILED
    assert result["step-2"].verdict is Verdict.FAILED
    assert "errors" in result["step-2"].message


def test_inconclusive_rounds_pause_and_recover() -> None:
    spec = analysis(inconclusiveLimit=1)
    gates = {"step-0": AnalysisGate()}
    run = current_run(None, "canary", NOW)
    for _ in range(2):
        run = record_round(run, measurements(R.INCONCLUSIVE, R.SUCCESSFUL), gates, spec, NOW)
    assert verdicts(run, gates, spec)["step-0"].verdict is Verdict.INCONCLUSIVE
    assert run.failed == 0
    run = record_round(run, measurements(R.SUCCESSFUL, R.SUCCESSFUL), gates, spec, NOW)
    assert verdicts(run, gates, spec)["step-0"].verdict is Verdict.SUCCESSFUL


def test_a_new_gate_counts_from_zero() -> None:
    spec = analysis()
    run = current_run(None, "canary", NOW)
    run = record_round(
        run, measurements(R.SUCCESSFUL, R.SUCCESSFUL), {"step-1": AnalysisGate()}, spec, NOW
    )
    later = {"step-3": AnalysisGate()}
    assert verdicts(run, later, spec)["step-3"].verdict is Verdict.RUNNING


def test_gate_metric_subsets() -> None:
    spec = analysis()
    gates = {"step-1": AnalysisGate(metrics=["p99"])}
    assert [m.name for m in metrics_for(spec, gates)] == ["p99"]
    run = record_round(
        current_run(None, "c", NOW),
        [Measurement(metric="p99", result=R.SUCCESSFUL, measured_at=NOW)],
        gates,
        spec,
        NOW,
    )
    assert verdicts(run, gates, spec)["step-1"].verdict is Verdict.SUCCESSFUL


def test_initial_delay_postpones_the_first_round() -> None:
    spec = analysis(initialDelay="30s")
    run = current_run(None, "canary", NOW)
    assert next_round_at(run, spec) == NOW + timedelta(seconds=30)


def test_batch_query_tags_every_part() -> None:
    spec = analysis(
        metrics=[
            {"name": "errors", "builtin": "errorRate", "max": 0.01},
            {"name": "drift", "builtin": "predictionDrift", "max": 0.1},
            {"name": "custom", "prometheus": {"query": "vector(1)"}, "min": 0},
        ]
    )
    subject = Subject("ml", "fraud", "c1", "s1", "30s")
    query = builtin_batch(spec.metrics, subject)
    # one tagged part each: samples x2 sides, errors x2, drift (classes, buckets) x2
    assert query.count("label_replace(label_replace(label_replace(") == 8
    assert 'revision="c1"' in query
    assert 'revision="s1"' in query
    assert '"ms_metric", "errors"' in query
    assert "vector(1)" not in query  # custom queries go on their own


def test_custom_placeholders() -> None:
    subject = Subject("ml", "fraud", "c1", "s1", "1m")
    rendered = render_custom(
        'rate(x{revision="{{canary}}",ns="{{ namespace }}"}[{{interval}}])', subject
    )
    assert rendered == 'rate(x{revision="c1",ns="ml"}[1m])'


def test_round_from_a_prometheus_answer() -> None:
    def series(metric: str, side: str, kind: str, value: float, **extra: str) -> dict[str, Any]:
        labels = {"ms_metric": metric, "ms_side": side, "ms_kind": kind, **extra}
        return {"metric": labels, "value": [0, str(value)]}

    answer = [
        series("__samples__", "canary", "value", 400),
        series("__samples__", "stable", "value", 4000),
        series("errors", "canary", "value", 0.05),
        series("errors", "stable", "value", 0.001),
        series("drift", "canary", "class", 300, **{"class": "approve"}),
        series("drift", "canary", "class", 100, **{"class": "reject"}),
        series("drift", "stable", "class", 2000, **{"class": "approve"}),
        series("drift", "stable", "class", 2000, **{"class": "reject"}),
    ]
    data = parse_batch(answer)
    assert isinstance(data, RoundData)
    spec = analysis(
        metrics=[
            {"name": "errors", "builtin": "errorRate", "max": 0.01},
            {"name": "drift", "builtin": "predictionDrift", "max": 0.01},
        ]
    )
    out = {m.metric: m for m in measure_round(spec.metrics, data, {}, 100, NOW)}
    assert out["errors"].result is R.FAILED
    assert out["errors"].stable_value == pytest.approx(0.001)
    assert out["drift"].result is R.FAILED
    assert out["drift"].value is not None
    assert out["drift"].value > 0.05


def test_prediction_drift_orders_histogram_bins_by_edge() -> None:
    from modelship.analysis.measure import RoundData, prediction_drift

    data = RoundData()
    edges = [1.0, 2.0, 3.0, 10.0]
    for edge, stable, canary in zip(edges, [100, 100, 100, 200], [0, 100, 200, 200], strict=True):
        data.buckets[("drift", "stable")][edge] = stable
        data.buckets[("drift", "canary")][edge] = canary
    drift = metric(name="drift", builtin="predictionDrift", method="kolmogorovSmirnov", min=0.05)
    value = prediction_drift(drift, data)
    assert value is not None
    assert value < 1e-10  # string order (le=10 < le=2) would scramble the CDF


def test_prediction_drift_wasserstein_on_a_regressors_buckets_is_scipys_normed_distance() -> None:
    import math

    import numpy as np
    from modelship.analysis.measure import RoundData, bucket_centres, prediction_drift
    from scipy.stats import wasserstein_distance

    data = RoundData()
    edges = [1.0, 2.0, 3.0, math.inf]
    stable_bins, canary_bins = [100, 300, 400, 200], [50, 150, 300, 500]
    for edge, s, c in zip(edges, np.cumsum(stable_bins), np.cumsum(canary_bins), strict=True):
        data.buckets[("drift", "stable")][edge] = float(s)
        data.buckets[("drift", "canary")][edge] = float(c)
    drift = metric(name="drift", builtin="predictionDrift", method="wasserstein", max=0.1)
    centres = [1.0, 1.5, 2.5, 3.0]  # the open outer buckets sit at their finite edge
    assert bucket_centres(["le=1", "le=2", "le=3", "le=inf"]) == centres
    mean = np.average(centres, weights=stable_bins)
    std = math.sqrt(np.average((np.array(centres) - mean) ** 2, weights=stable_bins))
    expected = wasserstein_distance(centres, centres, stable_bins, canary_bins) / std
    assert prediction_drift(drift, data) == pytest.approx(expected)
    data.values[("__samples__", "canary")] = 1000
    (out,) = measure_round([drift], data, {}, 100, NOW)
    assert out.result is R.FAILED  # a real shift towards the top bucket


def test_prediction_drift_wasserstein_on_classes_says_why_it_has_no_value() -> None:
    data = RoundData()
    data.values[("__samples__", "canary")] = 500
    for side in ("canary", "stable"):
        data.classes[("drift", side)].update({"approve": 300, "reject": 200})
    drift = metric(name="drift", builtin="predictionDrift", method="wasserstein", max=0.1)
    (out,) = measure_round([drift], data, {}, 100, NOW)
    assert out.result is R.INCONCLUSIVE
    assert out.message is not None
    assert "regressor" in out.message


def test_a_failure_says_which_metric_what_value_on_how_much_traffic_and_over_which_window() -> None:
    spec = analysis()
    gates = {"step-2": AnalysisGate()}
    failing = Measurement(
        metric="errors", result=R.FAILED, measured_at=NOW, message="0.048 > max 0.01", samples=412
    )
    run = record_round(current_run(None, "canary", NOW), [failing], gates, spec, NOW)
    message = verdicts(run, gates, spec)["step-2"].message
    assert message == (
        "1 failed measurement rounds over 10s windows (failureLimit 0): "
        "errors: 0.048 > max 0.01 (412 requests)"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"builtin": "errorRate", "max": 0.01},
         '((sum(rate(modelship_requests_total{namespace="ml",revision="c1",outcome="server_error"}'
         '[30s]))) or (0 * sum(rate(modelship_requests_total{namespace="ml",revision="c1"}[30s]))))'
         ' / sum(rate(modelship_requests_total{namespace="ml",revision="c1"}[30s]))'),
        ({"builtin": "latencyP99", "max": 0.2},
         "histogram_quantile(0.99, sum by (le) (rate(modelship_request_duration_seconds_bucket"
         '{namespace="ml",revision="c1"}[30s])))'),
        ({"prometheus": {"query": 'sum(rate(x{revision="{{canary}}"}[{{interval}}]))'}, "min": 1},
         'sum(rate(x{revision="c1"}[30s]))'),
    ],
)  # fmt: skip
def test_each_measurement_can_be_looked_at_with_a_query_a_person_pastes(
    fields: dict[str, Any], expected: str
) -> None:
    from modelship.analysis.queries import look_at

    subject = Subject("ml", "fraud", "c1", "s1", "30s")
    assert look_at(Metric.model_validate({"name": "m", **fields}), subject) == expected


def test_prediction_drift_wasserstein_without_spread_on_stable_says_so() -> None:
    data = RoundData()
    data.values[("__samples__", "canary")] = 500
    for side, cumulative in (("stable", [0, 500, 500]), ("canary", [0, 100, 500])):
        for edge, total in zip([1.0, 2.0, float("inf")], cumulative, strict=True):
            data.buckets[("drift", side)][edge] = float(total)
    drift = metric(name="drift", builtin="predictionDrift", method="wasserstein", max=0.1)
    (out,) = measure_round([drift], data, {}, 100, NOW)
    assert out.result is R.INCONCLUSIVE
    assert "one bucket" in out.message
