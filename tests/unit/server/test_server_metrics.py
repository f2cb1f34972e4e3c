"""Vectorised metric observation and its exposition text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from modelship.server.metrics import (
    OTHER,
    BinnedHistograms,
    CategoryCounts,
    LatencyHistogram,
    category_labels,
    number,
)


def test_each_value_lands_in_its_right_closed_bin_per_column() -> None:
    histograms = BinnedHistograms(["a", "b"], [[1.0, 2.0], [10.0]])
    histograms.observe(np.array([[1.0, 10.0], [1.5, 10.5], [2.0, -5.0], [99.0, 10.0]]))
    assert histograms.bin_counts(0) == [1, 2, 1]
    assert histograms.bin_counts(1) == [3, 1]
    assert histograms.total == 4
    assert histograms.sums.tolist() == [103.5, 25.5]


@given(
    st.lists(st.floats(-100, 100), min_size=0, max_size=5).map(lambda e: sorted(set(e))),
    st.lists(st.floats(-200, 200), min_size=1, max_size=50),
)
def test_counts_match_searchsorted(edges: list[float], values: list[float]) -> None:
    histograms = BinnedHistograms(["x"], [edges])
    histograms.observe(np.asarray(values).reshape(-1, 1))
    expected = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    assert histograms.bin_counts(0) == expected.tolist()


def test_render_is_cumulative_prometheus_text() -> None:
    histograms = BinnedHistograms(["age"], [[30.0, 50.0]])
    histograms.observe(np.array([[20.0], [40.0], [60.0], [30.0]]))
    lines = list(histograms.render("m", 'model="x"', "feature"))
    assert lines == [
        'm_bucket{model="x",feature="age",le="30.0"} 2',
        'm_bucket{model="x",feature="age",le="50.0"} 3',
        'm_bucket{model="x",feature="age",le="+Inf"} 4',
        'm_sum{model="x",feature="age"} 150.0',
        'm_count{model="x",feature="age"} 4',
    ]


def test_unknown_categories_count_as_other() -> None:
    counts = CategoryCounts(["FR", "DE"])
    counts.observe(["FR"])
    counts.observe(["DE", "XX", "FR", "YY"])
    assert dict(zip(counts.categories, counts.counts, strict=True)) == {"FR": 2, "DE": 1, OTHER: 2}


def test_latency_buckets() -> None:
    latency = LatencyHistogram([0.001, 0.01])
    for seconds in (0.0005, 0.001, 0.005, 1.0):
        latency.observe(seconds)
    assert latency.counts == [2, 1, 1]


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        (np.array([1, 0]), ["1", "0"]),
        (np.array([1.0, 2.0]), ["1", "2"]),
        (np.array([True, False]), ["true", "false"]),
        (np.array(["a", "b"]), ["a", "b"]),
        (np.array([1.5]), ["1.5"]),
    ],
)
def test_category_labels_match_the_profile(values: np.ndarray, labels: list[str]) -> None:
    assert category_labels(values) == labels


def test_number_formatting() -> None:
    assert [number(v) for v in (float("inf"), 1.0, 0.25)] == ["+Inf", "1.0", "0.25"]


def test_observing_a_large_batch_is_cheap() -> None:
    """The contract forbids metrics dominating a request: 1000 rows x 20 features, 10 bins."""
    import time

    edges = [list(np.linspace(-2, 2, 9)) for _ in range(20)]
    histograms = BinnedHistograms([f"f{i}" for i in range(20)], edges)
    batch = np.random.default_rng(0).normal(size=(1000, 20))
    started = time.perf_counter()
    for _ in range(20):
        histograms.observe(batch)
    per_batch = (time.perf_counter() - started) / 20
    assert histograms.total == 20_000
    assert per_batch < 0.02  # generous: ~1 ms on a laptop; a per-value loop takes ~100 ms


def test_one_row_at_a_time_counts_exactly_as_a_batch() -> None:
    """The single-row fast path (bisect) and the broadcast agree, on edges, NaN and ±inf."""
    edges = [[-1.0, 0.0, 1.0], [5.0], [0.0, 0.0, 2.0, 3.5]]  # uneven widths, a repeated edge
    rng = np.random.default_rng(4)
    rows = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0, 3.5, 5.0, 9.0, np.nan, np.inf, -np.inf],
                      size=(300, 3))  # fmt: skip
    one_by_one = BinnedHistograms(["a", "b", "c"], edges)
    batched = BinnedHistograms(["a", "b", "c"], edges)
    for row in rows:
        one_by_one.observe(row.reshape(1, -1))
    batched.observe(rows)
    assert one_by_one.counts.tolist() == batched.counts.tolist()
    assert one_by_one.total == batched.total == 300
    np.testing.assert_array_equal(one_by_one.sums, batched.sums)
