"""The live counts of one evaluation window, sorted out of the query's answer. Pure."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelship.drift.queries import PART_LABEL

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

    @property
    def received_rows(self) -> float:
        """Rows received: served and rejected."""
        return self.rows + self.rejected_rows


def _value(series: Mapping[str, Any]) -> float:
    value = float(series["value"][1])
    return value if math.isfinite(value) else 0.0


def parse_vector(result: Sequence[Mapping[str, Any]]) -> LiveCounts:
    """Sort an instant query's vector by its `ms_part` tags; unknown parts are ignored."""
    live = LiveCounts()
    for series in result:
        labels: Mapping[str, str] = series.get("metric", {})
        name, value = labels.get(PART_LABEL, ""), _value(series)
        if name == "numeric":
            live.numeric[labels["feature"]].append((labels["le"], value))
        elif name == "categorical":
            live.categorical[labels["feature"]][labels["category"]] = value
        elif name == "predictionClass":
            live.prediction_classes[labels["class"]] = value
        elif name == "predictionBucket":
            live.prediction_buckets.append((labels["le"], value))
        elif name == "rows":
            live.rows = value
        elif name == "requests":
            live.requests[labels["outcome"]] = value
        elif name == "feedback":
            live.feedback[labels["result"]] = value
        elif name == "correct":
            live.correct = value
        elif name == "absError":
            live.abs_error = value
        elif name == "squaredError":
            live.squared_error = value
        elif name == "fairness":
            live.fairness[(labels["attribute"], labels["group"], labels["class"])] = value
        elif name == "fairnessFeedback":
            key = (labels["attribute"], labels["group"], labels["class"], labels["actual"])
            live.fairness_feedback[key] = value
        elif name == "missing":
            live.missing[labels["feature"]] = value
        elif name == "outOfRange":
            live.out_of_range[labels["feature"]] = value
        elif name == "rejected":
            live.rejected[labels["reason"]] = value
        elif name == "rejectedRows":
            live.rejected_rows = value
    live.numeric, live.categorical = dict(live.numeric), dict(live.categorical)
    return live
