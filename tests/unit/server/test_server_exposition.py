"""Merging workers' expositions (`serve --workers N`): counters add, gauges by meaning."""

from __future__ import annotations

from modelship.server.exposition import merge

WORKER_A = """\
# HELP modelship_requests_total Inference requests by outcome.
# TYPE modelship_requests_total counter
modelship_requests_total{model="m",outcome="success"} 3.0
modelship_requests_total{model="m",outcome="client_error"} 1.0
# TYPE modelship_request_duration_seconds histogram
modelship_request_duration_seconds_bucket{model="m",le="0.001"} 2
modelship_request_duration_seconds_bucket{model="m",le="+Inf"} 4
modelship_request_duration_seconds_sum{model="m"} 0.5
modelship_request_duration_seconds_count{model="m"} 4
# TYPE modelship_model_ready gauge
modelship_model_ready{model="m"} 1
# TYPE modelship_model_info gauge
modelship_model_info{model="m",format="sklearn"} 1
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 100.0
# TYPE process_start_time_seconds gauge
process_start_time_seconds 50.0
modelship_feature_category_total{feature="a b",category="x y"} 2
"""
WORKER_B = """\
# HELP modelship_requests_total Inference requests by outcome.
# TYPE modelship_requests_total counter
modelship_requests_total{model="m",outcome="success"} 5.0
# TYPE modelship_request_duration_seconds histogram
modelship_request_duration_seconds_bucket{model="m",le="0.001"} 1
modelship_request_duration_seconds_bucket{model="m",le="+Inf"} 5
modelship_request_duration_seconds_sum{model="m"} 0.25
modelship_request_duration_seconds_count{model="m"} 5
# TYPE modelship_model_ready gauge
modelship_model_ready{model="m"} 0
# TYPE modelship_model_info gauge
modelship_model_info{model="m",format="sklearn"} 1
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 150.0
# TYPE process_start_time_seconds gauge
process_start_time_seconds 40.0
modelship_feature_category_total{feature="a b",category="x y"} 3
"""


def samples(text: str) -> dict[str, float]:
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_counters_and_histograms_add_up() -> None:
    merged = samples(merge([WORKER_A, WORKER_B]))
    assert merged['modelship_requests_total{model="m",outcome="success"}'] == 8
    assert merged['modelship_requests_total{model="m",outcome="client_error"}'] == 1
    assert merged['modelship_request_duration_seconds_bucket{model="m",le="0.001"}'] == 3
    assert merged['modelship_request_duration_seconds_bucket{model="m",le="+Inf"}'] == 9
    assert merged['modelship_request_duration_seconds_sum{model="m"}'] == 0.75
    assert merged['modelship_request_duration_seconds_count{model="m"}'] == 9
    # label values with spaces: the value is after the last space
    assert merged['modelship_feature_category_total{feature="a b",category="x y"}'] == 5


def test_gauges_by_meaning() -> None:
    merged = samples(merge([WORKER_A, WORKER_B]))
    assert merged['modelship_model_ready{model="m"}'] == 0  # one worker unready: not ready
    assert merged['modelship_model_info{model="m",format="sklearn"}'] == 1  # not 2
    assert merged["process_resident_memory_bytes"] == 250  # the pod's memory
    assert merged["process_start_time_seconds"] == 40  # the earliest


def test_one_exposition_keeps_its_order_and_each_header_once() -> None:
    merged = merge([WORKER_A, WORKER_B])
    assert merged.count("# TYPE modelship_requests_total counter") == 1
    assert samples(merge([WORKER_A])) == samples(WORKER_A)
    lines = [line for line in merged.splitlines() if not line.startswith("#")]
    assert [line.rpartition(" ")[0] for line in lines] == list(samples(WORKER_A))
