"""The PromQL of one drift evaluation, from the metrics contract (docs/metrics.md). Pure.

One instant query per evaluation, whatever the number of features: each family is summed over
its window with `increase()` (counter resets from pod restarts are handled), tagged with an
`ms_part` label through `label_replace`, and the parts are joined with `or`. Ground truth is
summed over the performance window (labels arrive late), everything else over the monitor's.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelship.analysis.queries import promql_range

# ms_part values, and the expression (by labels) each stands for.
PARTS: dict[str, tuple[str, str]] = {
    "numeric": ("modelship_feature_value_bucket", "feature, le"),
    "categorical": ("modelship_feature_category_total", "feature, category"),
    "predictionClass": ("modelship_prediction_class_total", "class"),
    "predictionBucket": ("modelship_prediction_value_bucket", "le"),
    "score": ("modelship_prediction_score_bucket", "class, le"),
    "rows": ("modelship_inference_rows_total", ""),
    "requests": ("modelship_requests_total", "outcome"),
    "feedback": ("modelship_feedback_rows_total", "result"),
    "correct": ("modelship_feedback_correct_rows_total", ""),
    "confusion": ("modelship_feedback_confusion_total", "class, actual"),
    "absError": ("modelship_feedback_absolute_error_sum", ""),
    "squaredError": ("modelship_feedback_squared_error_sum", ""),
    "fairness": ("modelship_fairness_predictions_total", "attribute, group, class"),
    "fairnessFeedback": ("modelship_fairness_feedback_total", "attribute, group, class, actual"),
    "missing": ("modelship_feature_missing_total", "feature"),
    "outOfRange": ("modelship_feature_out_of_range_total", "feature"),
    "rejected": ("modelship_requests_rejected_total", "reason"),
    "rejectedRows": ("modelship_rejected_rows_total", ""),
}
# Summed over the performance window.
GROUND_TRUTH_PARTS = frozenset({"feedback", "correct", "confusion", "absError", "squaredError"})
# Summed over the baseline window too (spec.reference), tagged `reference.<part>`.
BASELINE_PARTS = ("numeric", "categorical", "predictionClass", "predictionBucket", "rows")
REFERENCE_PREFIX = "reference."
PART_LABEL = "ms_part"


@dataclass(frozen=True)
class Target:
    """Whose traffic an evaluation reads: one revision of one namespace, over a window."""

    namespace: str
    revision: str
    window: str
    """A Prometheus range, e.g. 1h."""
    performance_window: str | None = None
    """The range of the ground-truth parts; None: `window`."""
    baseline: tuple[str, str] | None = None
    """(window, offset) of the baseline reference, if any."""

    @property
    def selector(self) -> str:
        return f'namespace="{_escape(self.namespace)}",revision="{_escape(self.revision)}"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def part(name: str, target: Target, window: str | None = None, offset: str | None = None) -> str:
    metric, by = PARTS[name]
    span = promql_range(window or target.window)
    shifted = f" offset {promql_range(offset)}" if offset else ""
    inner = f"increase({metric}{{{target.selector}}}[{span}]{shifted})"
    summed = f"sum by ({by}) ({inner})" if by else f"sum({inner})"
    tag = f"{REFERENCE_PREFIX}{name}" if offset else name
    return f'label_replace({summed}, "{PART_LABEL}", "{tag}", "", "")'


def evaluation_query(target: Target) -> str:
    """Every family the evaluation reads, the baseline's too, as one query."""
    parts = [
        part(name, target, target.performance_window if name in GROUND_TRUTH_PARTS else None)
        for name in PARTS
    ]
    if target.baseline is not None:
        window, offset = target.baseline
        parts += [part(name, target, window, offset) for name in BASELINE_PARTS]
    return " or ".join(parts)
