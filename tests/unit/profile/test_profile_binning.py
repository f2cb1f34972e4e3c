"""The binning rule: quantile edges, deduplicated, right-closed bins with open ends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from modelship.profile.binning import bin_counts, bin_index, quantile_edges


def test_uniform_values_get_equal_mass_bins() -> None:
    values = np.arange(100, dtype=float)
    edges = quantile_edges(values, 4)
    assert edges == [24.0, 49.0, 74.0]  # data values
    assert bin_counts(values, edges) == [25, 25, 25, 25]


def test_repeated_values_deduplicate_edges_instead_of_making_empty_bins() -> None:
    values = np.array([0.0] * 80 + list(range(1, 21)), dtype=float)
    edges = quantile_edges(values, 10)
    assert edges == sorted(set(edges))
    assert edges[0] == 0.0  # all the zeros share the first bin
    counts = bin_counts(values, edges)
    assert counts[0] == 80
    assert sum(counts) == 100
    assert all(c > 0 for c in counts)


def test_constant_column_is_one_bin() -> None:
    values = np.full(10, 3.0)
    assert quantile_edges(values, 5) == []
    assert bin_counts(values, []) == [10]


def test_mass_at_the_maximum_still_splits_into_two_non_empty_bins() -> None:
    values = np.array([1.0] * 5 + [5.0] * 95)
    edges = quantile_edges(values, 4)
    assert edges == [1.0]
    assert bin_counts(values, edges) == [5, 95]


def test_binary_feature_gets_two_bins() -> None:
    values = np.array([0.0, 1.0] * 50)
    edges = quantile_edges(values, 10)
    assert bin_counts(values, edges) == [50, 50]


def test_bins_are_right_closed_and_open_ended() -> None:
    edges = np.array([1.0, 2.0])
    values = np.array([-100.0, 1.0, 1.5, 2.0, 2.0001, 1e9])
    assert bin_index(values, edges).tolist() == [0, 0, 1, 1, 2, 2]


def test_non_finite_values_are_ignored() -> None:
    values = np.array([1.0, 2.0, np.nan, np.inf, 3.0, 4.0])
    edges = quantile_edges(values, 2)
    assert edges == [2.0]
    assert bin_counts(values, edges) == [2, 2]


def test_bins_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        quantile_edges(np.arange(3.0), 0)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300),
    st.integers(1, 20),
)
def test_edges_are_strictly_increasing_and_counts_cover_all_values(
    values: list[float], bins: int
) -> None:
    array = np.asarray(values)
    edges = quantile_edges(array, bins)
    assert all(b > a for a, b in itertools.pairwise(edges))
    assert len(edges) <= bins - 1
    counts = bin_counts(array, edges)
    assert sum(counts) == len(values)
    assert all(c > 0 for c in counts)  # no empty reference bin, ever
