"""Merging several processes' Prometheus text expositions into one (`serve --workers N`).

Pure: text in, text out. Counters and histograms add up (a pod's requests are the sum of its
workers'); a gauge takes the rule its meaning needs: readiness is the least ready worker, a
start time the earliest, memory and file descriptors the pod's total, anything else (info
gauges, limits) the largest. The first exposition's order of families and series is kept, so
a merged scrape looks like a single process's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from modelship.server.metrics import number

GAUGE_MIN = frozenset({"modelship_model_ready", "process_start_time_seconds"})
GAUGE_SUM = frozenset({
    "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
})  # fmt: skip
Reduce = Callable[[float, float], float]


def _add(a: float, b: float) -> float:
    return a + b


def _reduction(sample: str, kinds: dict[str, str]) -> Reduce:
    name = sample.split("{", 1)[0]
    if name.endswith("_created"):  # prometheus_client's creation timestamps: the earliest
        return min
    if kinds.get(name) != "gauge":
        return _add
    if name in GAUGE_MIN:
        return min
    return _add if name in GAUGE_SUM else max


def merge(expositions: Sequence[str]) -> str:
    """One exposition of the samples of all `expositions`, each series reduced by its type."""
    comments: dict[str, None] = {}  # ordered set of HELP/TYPE lines, first seen wins
    kinds: dict[str, str] = {}
    order: list[tuple[str, str]] = []  # ("#", line) or ("s", series)
    values: dict[str, float] = {}
    for text in expositions:
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    kinds.setdefault(parts[2], parts[3])
                if line not in comments:
                    comments[line] = None
                    order.append(("#", line))
                continue
            series, _, value = line.rpartition(" ")
            number_value = float(value)
            if series in values:
                values[series] = _reduction(series, kinds)(values[series], number_value)
            else:
                values[series] = number_value
                order.append(("s", series))
    lines = [item if kind == "#" else f"{item} {number(values[item])}" for kind, item in order]
    return "\n".join(lines) + "\n"
