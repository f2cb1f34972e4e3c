"""The metrics contract (docs/metrics.md), with vectorised batch observation.

prometheus_client's per-value `observe` would cost O(rows x features) Python calls per
request; here a batch costs a handful of numpy calls whatever its size and feature count:
one broadcast comparison finds every value's bin, one bincount adds them all.
Rendering happens only on scrape. Single-threaded by design: the server observes on its
event loop.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

OTHER = "__other__"  # label for values outside a bounded label set (unseen categories)
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
OUTCOMES = ("success", "client_error", "server_error")
# Fixed bucket edges of the score histogram: 20 bins of 0.05 over [0, 1] (interior edges; the
# first bin is (-inf, 0.05], the last (0.95, +inf)). 0.5, the decision threshold, is an edge.
SCORE_EDGES = tuple(round(i / 20, 2) for i in range(1, 20))


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels_text(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{k}="{escape(v)}"' for k, v in pairs)


def number(value: float) -> str:
    """Go-style float text (as prometheus_client writes it): +Inf, 1.0, 0.25."""
    if value == float("inf"):
        return "+Inf"
    if value == float("-inf"):
        return "-Inf"
    if value != value:
        return "NaN"
    return repr(float(value))


def category_labels(values: NDArray[np.generic] | Sequence[object]) -> list[str]:
    """Predictions/ground truth as category strings, as the profile writes them."""
    array = np.asarray(values)
    if array.dtype.kind == "b":
        return ["true" if v else "false" for v in array.tolist()]
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.floor(array)).all():
        return [str(v) for v in array.astype(np.int64).tolist()]
    return [
        ("true" if v else "false")
        if isinstance(v, bool)
        else str(int(v))
        if isinstance(v, float) and v.is_integer()
        else str(v)
        for v in array.tolist()
    ]


class BinnedHistograms:
    """One histogram per column of a [rows, columns] matrix, each with its own bucket edges.

    Edges are padded with +inf to a rectangle E[columns, width]; a value's bin is the number of
    its column's edges strictly below it (right-closed, Prometheus `le`), found for the whole
    batch by one broadcast comparison, then added with one bincount.
    """

    def __init__(self, names: Sequence[str], edges: Sequence[Sequence[float]]) -> None:
        if len(names) != len(edges):
            raise ValueError(f"{len(names)} names but {len(edges)} edge lists")
        self.names = list(names)
        self.edges = [list(e) for e in edges]
        width = max((len(e) for e in self.edges), default=0)
        self._padded = np.full((len(self.names), width), np.inf)
        for i, row in enumerate(self.edges):
            self._padded[i, : len(row)] = row
        self._stride = width + 1
        self._offsets = np.arange(len(self.names), dtype=np.intp) * self._stride
        self.counts = np.zeros(len(self.names) * self._stride, dtype=np.int64)
        self.sums = np.zeros(len(self.names), dtype=np.float64)
        self.total = 0

    def observe(self, matrix: NDArray[np.float64]) -> None:
        if not self.names or matrix.shape[0] == 0:
            return
        if matrix.shape[0] == 1:  # one row (one connection's traffic): bisect, no broadcast
            self._observe_row(matrix[0])
            return
        bins = (matrix[:, :, None] > self._padded[None, :, :]).sum(axis=2)
        flat = (bins + self._offsets[None, :]).ravel()
        self.counts += np.bincount(flat, minlength=self.counts.size)
        self.sums += matrix.sum(axis=0)
        self.total += matrix.shape[0]

    def _observe_row(self, row: NDArray[np.float64]) -> None:
        """The same bins as the broadcast: the count of edges strictly below the value
        (bisect_left), NaN in the first bin (every comparison with NaN is false)."""
        counts, stride = self.counts, self._stride
        for column, (value, edges) in enumerate(zip(row.tolist(), self.edges, strict=True)):
            counts[column * stride + bisect.bisect_left(edges, value)] += 1
        self.sums += row
        self.total += 1

    def bin_counts(self, column: int) -> list[int]:
        """Non-cumulative counts of one column's len(edges) + 1 bins."""
        start = column * self._stride
        size = len(self.edges[column]) + 1
        return [int(c) for c in self.counts[start : start + size]]

    def render(self, metric: str, base: str, label: str | None) -> Iterable[str]:
        for column, name in enumerate(self.names):
            prefix = f'{base},{label}="{escape(name)}"' if label else base
            cumulative = np.cumsum(self.bin_counts(column)).tolist()
            for edge, count in zip([*self.edges[column], float("inf")], cumulative, strict=True):
                yield f'{metric}_bucket{{{prefix},le="{number(edge)}"}} {count}'
            yield f"{metric}_sum{{{prefix}}} {number(float(self.sums[column]))}"
            yield f"{metric}_count{{{prefix}}} {self.total}"


class CategoryCounts:
    """Counters over a bounded label set; values outside it count as `__other__`."""

    def __init__(self, categories: Sequence[str]) -> None:
        self.categories = [*categories, OTHER]
        self._index = {c: i for i, c in enumerate(categories)}
        self.counts = [0] * len(self.categories)

    def observe(self, values: Sequence[str]) -> None:
        index, other = self._index, len(self.categories) - 1
        if len(values) == 1:
            self.counts[index.get(values[0], other)] += 1
            return
        for value, count in Counter(values).items():
            self.counts[index.get(value, other)] += count


@dataclass
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str


class LabelledCounter:
    """A counter keyed by a tuple of label values, for low-cardinality families."""

    def __init__(self, family: Family, label_names: Sequence[str]) -> None:
        self.family = family
        self.label_names = list(label_names)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1) -> None:
        self.values[key] = self.values.get(key, 0) + amount

    def render(self, base: str) -> Iterable[str]:
        for key, value in sorted(self.values.items()):
            extra = labels_text(zip(self.label_names, key, strict=True))
            labels = f"{base},{extra}" if extra else base
            yield f"{self.family.name}{{{labels}}} {number(float(value))}"


class LatencyHistogram:
    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = list(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds

    def render(self, metric: str, base: str) -> Iterable[str]:
        cumulative = 0
        for edge, count in zip([*self.buckets, float("inf")], self.counts, strict=True):
            cumulative += count
            yield f'{metric}_bucket{{{base},le="{number(edge)}"}} {cumulative}'
        yield f"{metric}_sum{{{base}}} {number(self.sum)}"
        yield f"{metric}_count{{{base}}} {cumulative}"
