"""The live counts of one evaluation window, sorted out of the query's answer. Pure."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelship.drift.queries import PART_LABEL, REFERENCE_PREFIX

Buckets = list[tuple[str, float]]
"""(le, cumulative count) pairs of one histogram."""


@dataclass
class LiveCounts:
    numeric: dict[str, Buckets] = field(default_factory=lambda: defaultdict(list))
    """feature -> its histogram's buckets."""
    categorical: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    """feature -> category -> count (unseen categories under __other__)."""
    prediction_classes: dict[str, float] = field(default_factory=dict)
    prediction_buckets: Buckets = field(default_factory=list)
    rows: float = 0.0
    """Rows predicted in the window."""
    requests: dict[str, float] = field(default_factory=dict)
    """outcome -> inference requests."""
    feedback: dict[str, float] = field(default_factory=dict)
    """result (matched, unmatched) -> ground-truth rows."""
    correct: float = 0.0
    abs_error: float = 0.0
    squared_error: float = 0.0
    fairness: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """(attribute, group, predicted class) -> predictions."""
    fairness_feedback: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    """(attribute, group, predicted class, actual class) -> matched ground truth."""
    missing: dict[str, float] = field(default_factory=dict)
    """feature -> missing values in rejected requests."""
    out_of_range: dict[str, float] = field(default_factory=dict)
    """numeric feature -> served values outside the profile's [min, max]."""
    rejected: dict[str, float] = field(default_factory=dict)
    """reason -> rejected inference requests."""
    rejected_rows: float = 0.0
    """Rows of rejected requests."""
    confusion: dict[tuple[str, str], float] = field(default_factory=dict)
    """(predicted class, actual class) -> matched ground truth (performance window)."""
    scores: dict[str, Buckets] = field(default_factory=lambda: defaultdict(list))
    """positive class -> the score histogram's buckets."""
    reference: LiveCounts | None = None
    """The baseline window's counts (spec.reference), when the query asked for them."""

    @property
    def received_rows(self) -> float:
        """Rows received: served and rejected."""
        return self.rows + self.rejected_rows


# Parts whose series add up into one number, or a dict keyed by their labels (one label: the
# label's value; more: a tuple), or histograms keyed by a label (None: one histogram).
_SCALARS = {"rows": "rows", "correct": "correct", "absError": "abs_error",
            "squaredError": "squared_error", "rejectedRows": "rejected_rows"}  # fmt: skip
_KEYED: dict[str, tuple[str, tuple[str, ...]]] = {
    "predictionClass": ("prediction_classes", ("class",)),
    "requests": ("requests", ("outcome",)),
    "feedback": ("feedback", ("result",)),
    "fairness": ("fairness", ("attribute", "group", "class")),
    "fairnessFeedback": ("fairness_feedback", ("attribute", "group", "class", "actual")),
    "missing": ("missing", ("feature",)),
    "outOfRange": ("out_of_range", ("feature",)),
    "rejected": ("rejected", ("reason",)),
    "confusion": ("confusion", ("class", "actual")),
}
_HISTOGRAMS: dict[str, tuple[str, str | None]] = {
    "numeric": ("numeric", "feature"),
    "predictionBucket": ("prediction_buckets", None),
    "score": ("scores", "class"),
}


def _value(series: Mapping[str, Any]) -> float:
    value = float(series["value"][1])
    return value if math.isfinite(value) else 0.0


def _add(live: LiveCounts, name: str, labels: Mapping[str, str], value: float) -> None:
    if name in _SCALARS:
        setattr(live, _SCALARS[name], value)
    elif name in _KEYED:
        attribute, keys = _KEYED[name]
        key = labels[keys[0]] if len(keys) == 1 else tuple(labels[k] for k in keys)
        getattr(live, attribute)[key] = value
    elif name in _HISTOGRAMS:
        attribute, by = _HISTOGRAMS[name]
        target = getattr(live, attribute)
        buckets = target if by is None else target.setdefault(labels[by], [])
        buckets.append((labels["le"], value))
    elif name == "categorical":
        live.categorical.setdefault(labels["feature"], {})[labels["category"]] = value


def parse_vector(result: Sequence[Mapping[str, Any]]) -> LiveCounts:
    """Sort an instant query's vector by its `ms_part` tags; unknown parts are ignored, the
    baseline's (`reference.numeric`, ...) go to `LiveCounts.reference`."""
    live = LiveCounts(numeric={}, categorical={}, scores={})
    for series in result:
        labels: Mapping[str, str] = series.get("metric", {})
        name, value = labels.get(PART_LABEL, ""), _value(series)
        if name.startswith(REFERENCE_PREFIX):
            if live.reference is None:
                live.reference = LiveCounts(numeric={}, categorical={}, scores={})
            _add(live.reference, name.removeprefix(REFERENCE_PREFIX), labels, value)
        else:
            _add(live, name, labels, value)
    return live
