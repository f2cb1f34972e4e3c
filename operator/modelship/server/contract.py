"""The metric families of the contract, observed per request and rendered on scrape.

Names, types and labels are documented in docs/metrics.md; the operator's analysis and the
DriftMonitor query exactly these. Every series carries `model`, `version` and `revision`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from prometheus_client import REGISTRY, generate_latest

from modelship.api.common import RejectReason
from modelship.server.metrics import (
    OTHER,
    OUTCOMES,
    SCORE_EDGES,
    BinnedHistograms,
    CategoryCounts,
    Family,
    LabelledCounter,
    LatencyHistogram,
    escape,
    labels_text,
    number,
)
from modelship.server.schema import Batch

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Family("modelship_requests_total", "counter", "Inference requests by outcome.")
DURATION = Family(
    "modelship_request_duration_seconds", "histogram", "Inference request latency in seconds."
)
ROWS = Family("modelship_inference_rows_total", "counter", "Rows (instances) predicted.")
FEATURE_VALUE = Family(
    "modelship_feature_value",
    "histogram",
    "Numeric feature values; buckets are the reference profile's bin edges.",
)
FEATURE_CATEGORY = Family(
    "modelship_feature_category_total", "counter", "Categorical feature values per category."
)
PREDICTION_CLASS = Family(
    "modelship_prediction_class_total", "counter", "Predictions per class (classifiers)."
)
PREDICTION_VALUE = Family(
    "modelship_prediction_value",
    "histogram",
    "Predicted values (regressors); buckets are the profile's prediction bin edges.",
)
TRUTH_CLASS = Family(
    "modelship_ground_truth_class_total", "counter", "Ground truth received at /feedback per class."
)
TRUTH_VALUE = Family(
    "modelship_ground_truth_value",
    "histogram",
    "Ground truth values received at /feedback; buckets are the profile's target bin edges.",
)
FEEDBACK_ROWS = Family(
    "modelship_feedback_rows_total",
    "counter",
    "Ground-truth rows received, by whether they matched a remembered prediction.",
)
FEEDBACK_CORRECT = Family(
    "modelship_feedback_correct_rows_total",
    "counter",
    "Matched ground-truth rows whose prediction was right (classifiers).",
)
FEEDBACK_ABS_ERROR = Family(
    "modelship_feedback_absolute_error_sum", "counter", "Sum of |prediction - truth| (regressors)."
)
FEEDBACK_SQ_ERROR = Family(
    "modelship_feedback_squared_error_sum", "counter", "Sum of (prediction - truth)^2 (regressors)."
)
FEEDBACK_REQUESTS = Family(
    "modelship_feedback_requests_total", "counter", "Feedback requests by outcome."
)
FAIRNESS_PREDICTIONS = Family(
    "modelship_fairness_predictions_total",
    "counter",
    "Predictions per class within each group of each fairness attribute.",
)
FAIRNESS_FEEDBACK = Family(
    "modelship_fairness_feedback_total",
    "counter",
    "Matched ground truth per group, predicted class and actual class.",
)
REJECTED = Family(
    "modelship_requests_rejected_total",
    "counter",
    "Inference requests rejected (HTTP 400/404), by the first problem found.",
)
REJECTED_ROWS = Family(
    "modelship_rejected_rows_total",
    "counter",
    "Rows of rejected inference requests, when the request says how many it has.",
)
FEATURE_MISSING = Family(
    "modelship_feature_missing_total",
    "counter",
    "Missing values (no input, null or NaN) per feature in rejected inference requests.",
)
FEATURE_OUT_OF_RANGE = Family(
    "modelship_feature_out_of_range_total",
    "counter",
    "Served numeric feature values outside the reference profile's [min, max].",
)
PREDICTION_SCORE = Family(
    "modelship_prediction_score",
    "histogram",
    "Positive-class scores of a binary classifier; buckets of 0.05 over [0, 1].",
)
FEEDBACK_CONFUSION = Family(
    "modelship_feedback_confusion_total",
    "counter",
    "Matched ground-truth rows by predicted class and actual class (classifiers).",
)
READY = Family("modelship_model_ready", "gauge", "1 when the model is loaded and serving.")
INFO = Family("modelship_model_info", "gauge", "Always 1; labels describe the served model.")


@dataclass(frozen=True)
class MetricsLayout:
    """What the profile (or the model) says to count."""

    numeric_features: Sequence[str] = ()
    numeric_edges: Sequence[Sequence[float]] = ()
    numeric_ranges: Sequence[tuple[float, float]] | None = None
    """The profile's (min, max) of each numeric feature."""
    categorical_features: Mapping[str, Sequence[str]] | None = None
    prediction_classes: Sequence[str] | None = None  # classifier
    prediction_edges: Sequence[float] | None = None  # regressor
    target_classes: Sequence[str] | None = None
    target_edges: Sequence[float] | None = None
    fairness_groups: Mapping[str, Sequence[str]] | None = None

    @property
    def classifier(self) -> bool:
        return self.prediction_classes is not None

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric_features, *(self.categorical_features or {})]


def _single_histogram(name: str, edges: Sequence[float] | None) -> BinnedHistograms:
    """A one-column histogram, or an empty one (no series) when there are no edges."""
    return BinnedHistograms([name], [edges]) if edges is not None else BinnedHistograms([], [])


def _header(family: Family) -> Iterable[str]:
    yield f"# HELP {family.name} {family.help}"
    yield f"# TYPE {family.name} {family.kind}"


class ContractMetrics:
    def __init__(
        self, layout: MetricsLayout, model: str, version: str, revision: str, fmt: str
    ) -> None:
        self.layout = layout
        self.base = labels_text([("model", model), ("version", version), ("revision", revision)])
        self.format = fmt
        self.ready = False
        self.requests = LabelledCounter(REQUESTS, ["outcome"])
        self.latency = LatencyHistogram()
        self.rows = 0
        self.features = BinnedHistograms(layout.numeric_features, layout.numeric_edges)
        self.rejected = {reason: 0 for reason in RejectReason}
        self.rejected_rows = 0
        self.missing = dict.fromkeys(layout.feature_names, 0)
        ranges = layout.numeric_ranges
        self._low = np.array([r[0] for r in ranges or ()], dtype=np.float64)
        self._high = np.array([r[1] for r in ranges or ()], dtype=np.float64)
        self.out_of_range = np.zeros(len(ranges or ()), dtype=np.int64)
        self.categories = {
            name: CategoryCounts(values)
            for name, values in (layout.categorical_features or {}).items()
        }
        self.prediction_classes = CategoryCounts(layout.prediction_classes or [])
        self.prediction_values = _single_histogram("prediction", layout.prediction_edges)
        self.truth_classes = CategoryCounts(layout.target_classes or [])
        self.truth_values = _single_histogram("target", layout.target_edges)
        self.feedback_rows = LabelledCounter(FEEDBACK_ROWS, ["result"])
        self.feedback_requests = LabelledCounter(FEEDBACK_REQUESTS, ["outcome"])
        self.feedback_correct = 0
        self.abs_error = 0.0
        self.sq_error = 0.0
        groups = layout.fairness_groups or {}
        # Label values stay bounded: unknown groups and classes are counted as __other__.
        self._groups = {a: set(g) for a, g in groups.items()}
        self._classes = set(layout.prediction_classes or [])
        self._targets = set(layout.target_classes or [])
        self.fairness_predictions = LabelledCounter(
            FAIRNESS_PREDICTIONS, ["attribute", "group", "class"]
        )
        self.fairness_feedback = LabelledCounter(
            FAIRNESS_FEEDBACK, ["attribute", "group", "class", "actual"]
        )
        self.confusion = LabelledCounter(FEEDBACK_CONFUSION, ["class", "actual"])
        if layout.prediction_classes is not None and layout.target_classes is not None:
            # Bounded, and every series there from the first scrape.
            for predicted in [*layout.prediction_classes, OTHER]:
                for actual in [*layout.target_classes, OTHER]:
                    self.confusion.inc((predicted, actual), 0)
        self.scores = BinnedHistograms([], [])

    def enable_scores(self, positive_class: str) -> None:
        """Export the score histogram of a binary classifier whose positive class (the
        score's) is `positive_class`."""
        self.scores = BinnedHistograms([positive_class], [SCORE_EDGES])

    # -- observation -------------------------------------------------------------------------

    def observe_request(self, outcome: str, seconds: float) -> None:
        self.requests.inc((outcome,))
        self.latency.observe(seconds)

    def observe_rejected(
        self, reason: RejectReason, rows: int = 0, missing: Mapping[str, int] | None = None
    ) -> None:
        """Count a rejected request: its reason, its rows and each feature's missing values."""
        self.rejected[reason] += 1
        self.rejected_rows += rows
        for name, count in (missing or {}).items():
            if name in self.missing:
                self.missing[name] += count

    def observe_batch(
        self,
        batch: Batch,
        labels: Sequence[str] | None,
        values: NDArray[np.float64] | None,
        groups: dict[str, list[str]],
        scores: NDArray[np.float64] | None = None,
    ) -> None:
        """Count one successful batch: its inputs, its predictions (and their positive-class
        scores), its fairness groups."""
        self.rows += batch.rows
        self.features.observe(batch.numeric)
        if self.out_of_range.size and batch.numeric.shape[1] == self.out_of_range.size:
            values = batch.numeric
            outside = (values < self._low) | (values > self._high)
            if batch.rows == 1:  # skip the reduction: a single row is its own sum
                self.out_of_range += outside[0]
            else:
                self.out_of_range += outside.sum(axis=0)
        for name, counts in self.categories.items():
            counts.observe(batch.categorical[name])
        if labels is not None:
            self.prediction_classes.observe(labels)
            classes = self._classes
            for attribute, members in groups.items():
                known = self._groups.get(attribute, set())
                for group, label in zip(members, labels, strict=True):
                    member = group if group in known else OTHER
                    self.fairness_predictions.inc(
                        (attribute, member, label if label in classes else OTHER)
                    )
        if values is not None and self.prediction_values.names:
            self.prediction_values.observe(values.reshape(-1, 1))
        if scores is not None and self.scores.names:
            self.scores.observe(scores.reshape(-1, 1))

    def observe_truth(
        self,
        truth_labels: Sequence[str] | None,
        truth_values: NDArray[np.float64] | None,
    ) -> None:
        if truth_labels is not None:
            self.truth_classes.observe(truth_labels)
        if truth_values is not None and self.truth_values.names:
            self.truth_values.observe(truth_values.reshape(-1, 1))

    def observe_matched_feedback(
        self,
        predicted: Sequence[str] | NDArray[np.float64],
        truth_labels: Sequence[str] | None,
        truth_values: NDArray[np.float64] | None,
        groups: dict[str, list[str]],
    ) -> None:
        rows = len(predicted)
        self.feedback_rows.inc(("matched",), rows)
        if truth_labels is not None and not isinstance(predicted, np.ndarray):
            self.feedback_correct += sum(
                p == t for p, t in zip(predicted, truth_labels, strict=True)
            )
            for p, t in zip(predicted, truth_labels, strict=True):
                self.confusion.inc(
                    (p if p in self._classes else OTHER, t if t in self._targets else OTHER)
                )
            for attribute, members in groups.items():
                known = self._groups.get(attribute, set())
                for group, p, t in zip(members, predicted, truth_labels, strict=True):
                    member = group if group in known else OTHER
                    p_label = p if p in self._classes else OTHER
                    t_label = t if t in self._targets else OTHER
                    self.fairness_feedback.inc((attribute, member, p_label, t_label))
        elif truth_values is not None and isinstance(predicted, np.ndarray):
            error = predicted.astype(np.float64) - truth_values
            self.abs_error += float(np.abs(error).sum())
            self.sq_error += float((error**2).sum())

    # -- exposition --------------------------------------------------------------------------

    def render(self) -> bytes:
        lines: list[str] = []
        base = self.base
        lines += _header(REQUESTS)
        for outcome in self._outcomes():
            count = self.requests.values.get((outcome,), 0)
            lines.append(f'{REQUESTS.name}{{{base},outcome="{outcome}"}} {number(float(count))}')
        lines += _header(DURATION)
        lines += self.latency.render(DURATION.name, base)
        lines += _header(ROWS)
        lines.append(f"{ROWS.name}{{{base}}} {number(float(self.rows))}")
        lines += _header(REJECTED)
        for reason, count in self.rejected.items():
            lines.append(f'{REJECTED.name}{{{base},reason="{reason}"}} {number(float(count))}')
        lines += _header(REJECTED_ROWS)
        lines.append(f"{REJECTED_ROWS.name}{{{base}}} {number(float(self.rejected_rows))}")
        if self.missing:
            lines += _header(FEATURE_MISSING)
            for name, count in self.missing.items():
                lines.append(
                    f'{FEATURE_MISSING.name}{{{base},feature="{escape(name)}"}} '
                    f"{number(float(count))}"
                )
        if self.out_of_range.size:
            lines += _header(FEATURE_OUT_OF_RANGE)
            outside = self.out_of_range.tolist()
            for name, n in zip(self.layout.numeric_features, outside, strict=True):
                lines.append(
                    f'{FEATURE_OUT_OF_RANGE.name}{{{base},feature="{escape(name)}"}} {number(n)}'
                )
        if self.features.names:
            lines += _header(FEATURE_VALUE)
            lines += self.features.render(FEATURE_VALUE.name, base, "feature")
        if self.categories:
            lines += _header(FEATURE_CATEGORY)
            for name, counts in self.categories.items():
                lines += self._render_categories(FEATURE_CATEGORY.name, counts, "category", name)
        if self.layout.prediction_classes is not None:
            lines += _header(PREDICTION_CLASS)
            lines += self._render_categories(
                PREDICTION_CLASS.name, self.prediction_classes, "class"
            )
        if self.prediction_values.names:
            lines += _header(PREDICTION_VALUE)
            lines += self.prediction_values.render(PREDICTION_VALUE.name, base, None)
        if self.scores.names:
            lines += _header(PREDICTION_SCORE)
            lines += self.scores.render(PREDICTION_SCORE.name, base, "class")
        if self.layout.target_classes is not None:
            lines += _header(TRUTH_CLASS)
            lines += self._render_categories(TRUTH_CLASS.name, self.truth_classes, "class")
        if self.truth_values.names:
            lines += _header(TRUTH_VALUE)
            lines += self.truth_values.render(TRUTH_VALUE.name, base, None)
        lines += _header(FEEDBACK_REQUESTS)
        lines += self.feedback_requests.render(base)
        lines += _header(FEEDBACK_ROWS)
        for result in ("matched", "unmatched"):
            count = self.feedback_rows.values.get((result,), 0)
            lines.append(f'{FEEDBACK_ROWS.name}{{{base},result="{result}"}} {number(count)}')
        if self.layout.classifier:
            lines += _header(FEEDBACK_CORRECT)
            lines.append(f"{FEEDBACK_CORRECT.name}{{{base}}} {number(self.feedback_correct)}")
            if self.confusion.values:
                lines += _header(FEEDBACK_CONFUSION)
                lines += self.confusion.render(base)
        else:
            lines += _header(FEEDBACK_ABS_ERROR)
            lines.append(f"{FEEDBACK_ABS_ERROR.name}{{{base}}} {number(self.abs_error)}")
            lines += _header(FEEDBACK_SQ_ERROR)
            lines.append(f"{FEEDBACK_SQ_ERROR.name}{{{base}}} {number(self.sq_error)}")
        if self.layout.fairness_groups:
            lines += _header(FAIRNESS_PREDICTIONS)
            lines += self.fairness_predictions.render(base)
            lines += _header(FAIRNESS_FEEDBACK)
            lines += self.fairness_feedback.render(base)
        lines += _header(READY)
        lines.append(f"{READY.name}{{{base}}} {1 if self.ready else 0}")
        lines += _header(INFO)
        lines.append(f'{INFO.name}{{{base},format="{escape(self.format)}"}} 1')
        text = "\n".join(lines) + "\n"
        return text.encode() + generate_latest(REGISTRY)

    def _outcomes(self) -> list[str]:
        seen = {key[0] for key in self.requests.values}
        return [*OUTCOMES, *sorted(seen - set(OUTCOMES))]

    def _render_categories(
        self, metric: str, counts: CategoryCounts, label: str, feature: str | None = None
    ) -> Iterable[str]:
        prefix = self.base if feature is None else f'{self.base},feature="{escape(feature)}"'
        for category, count in zip(counts.categories, counts.counts, strict=True):
            yield f'{metric}{{{prefix},{label}="{escape(category)}"}} {count}'
