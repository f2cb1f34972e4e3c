"""The validation gate, table-tested: absolute bounds, champion/challenger comparisons (direction,
absolute and relative margins, negative and zero baselines), missing metrics and baselines,
NaN and infinity, per-slice checks, the one-line reason, and the API's rules."""

from __future__ import annotations

import math
from typing import Any

import pytest
from modelship.api import KINDS_BY_NAME
from modelship.api.retrainpolicy import Comparison, Validation
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.retrain.validation import (
    REASON_LIMIT,
    CheckKind,
    CheckOutcome,
    compared_threshold,
    validate,
)

NAN, INF = math.nan, math.inf


def validation(**fields: Any) -> Validation:
    """A Validation from its Kubernetes (camelCase) form."""
    return Validation.model_validate(fields)


def compare(
    metric: str, direction: str, margin: float = 0.0, relative: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"metric": metric, "direction": direction, "maxRegression": margin,
            "relative": relative, **extra}  # fmt: skip


HIGHER, LOWER = "higherIsBetter", "lowerIsBetter"

# (id, compare entry, candidate value, baseline value, passes, threshold, relative change)
COMPARISONS: list[tuple[str, dict[str, Any], float, float, bool, float, float | None]] = [
    # higher is better, absolute margin (the metric's units)
    ("higher-absolute-within", compare("m", HIGHER, 0.01), 0.895, 0.9, True, 0.89, -0.005 / 0.9),
    ("higher-absolute-on-the-bound", compare("m", HIGHER, 0.01), 0.89, 0.9, True, 0.89, None),
    ("higher-absolute-beyond", compare("m", HIGHER, 0.01), 0.885, 0.9, False, 0.89, None),
    ("higher-improved", compare("m", HIGHER, 0.01), 0.95, 0.9, True, 0.89, 0.05 / 0.9),
    ("higher-no-margin-equal", compare("m", HIGHER), 0.9, 0.9, True, 0.9, 0.0),
    ("higher-no-margin-worse", compare("m", HIGHER), 0.8999, 0.9, False, 0.9, None),
    # lower is better, absolute margin
    ("lower-absolute-within", compare("m", LOWER, 0.1), 3.05, 3.0, True, 3.1, None),
    ("lower-absolute-beyond", compare("m", LOWER, 0.1), 3.2, 3.0, False, 3.1, None),
    ("lower-improved", compare("m", LOWER, 0.1), 2.5, 3.0, True, 3.1, -0.5 / 3.0),
    # relative margins: a fraction of |baseline|
    ("lower-relative-within", compare("m", LOWER, 0.05, True), 3.1, 3.0, True, 3.15, 0.1 / 3),
    ("lower-relative-on-the-bound", compare("m", LOWER, 0.05, True), 3.15, 3.0, True, 3.15, None),
    ("lower-relative-beyond", compare("m", LOWER, 0.05, True), 3.2, 3.0, False, 3.15, None),
    ("higher-relative-within", compare("m", HIGHER, 0.02, True), 0.79, 0.8, True, 0.784, None),
    ("higher-relative-beyond", compare("m", HIGHER, 0.02, True), 0.78, 0.8, False, 0.784, None),
    # the same numbers, absolute against relative: 0.05 of the metric vs 5% of 2.0 (0.1)
    ("absolute-0.05-of-2", compare("m", HIGHER, 0.05), 1.92, 2.0, False, 1.95, None),
    ("relative-5%-of-2", compare("m", HIGHER, 0.05, True), 1.92, 2.0, True, 1.9, None),
    # negative baselines (r2, a log-likelihood): 10% of |-0.2| is 0.02, so the bound is -0.22
    ("negative-r2-within", compare("r2", HIGHER, 0.1, True), -0.21, -0.2, True, -0.22, -0.05),
    ("negative-r2-worse", compare("r2", HIGHER, 0.1, True), -0.25, -0.2, False, -0.22, -0.25),
    ("negative-r2-improved", compare("r2", HIGHER, 0.1, True), -0.2, -0.25, True, -0.275, 0.2),
    ("negative-lower-within", compare("aic", LOWER, 0.05, True), -96.0, -100.0, True, -95.0, None),
    ("negative-lower-worse", compare("aic", LOWER, 0.05, True), -94.0, -100.0, False, -95.0, None),
    ("negative-absolute", compare("ll", HIGHER, 0.5), -10.4, -10.0, True, -10.5, None),
    # a zero baseline: a relative margin of 0 is 0, so no regression at all (and no change ratio)
    ("zero-relative-equal", compare("m", HIGHER, 0.5, True), 0.0, 0.0, True, 0.0, None),
    ("zero-relative-better", compare("m", HIGHER, 0.5, True), 0.1, 0.0, True, 0.0, None),
    ("zero-relative-worse", compare("m", HIGHER, 0.5, True), -0.001, 0.0, False, 0.0, None),
    ("zero-relative-lower-worse", compare("m", LOWER, 0.5, True), 0.001, 0.0, False, 0.0, None),
    ("zero-absolute", compare("m", HIGHER, 0.01), -0.005, 0.0, True, -0.01, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "candidate", "baseline", "passes", "threshold", "change"),
    [case[1:] for case in COMPARISONS],
    ids=[case[0] for case in COMPARISONS],
)
def test_comparison_table(
    entry: dict[str, Any],
    candidate: float,
    baseline: float,
    passes: bool,
    threshold: float,
    change: float | None,
) -> None:
    metric = entry["metric"]
    verdict = validate(validation(compare=[entry]), {metric: candidate}, {metric: baseline})
    (check,) = verdict.checks
    assert (verdict.passed, check.passed) == (passes, passes), check.message
    assert check.outcome == (CheckOutcome.PASSED if passes else CheckOutcome.FAILED)
    assert check.kind == CheckKind.COMPARE
    assert (check.candidate, check.baseline) == (candidate, baseline)
    assert check.threshold == pytest.approx(threshold)
    if baseline == 0:
        assert check.relative_change is None
    else:
        assert check.relative_change == pytest.approx((candidate - baseline) / abs(baseline))
    if change is not None:
        assert check.relative_change == pytest.approx(change)
    if not passes:
        assert verdict.reason.startswith(f"rejected: {metric} ")


def test_the_messages_say_what_the_bound_is_made_of() -> None:
    verdict = validate(
        validation(compare=[compare("accuracy", HIGHER, 0.01), compare("rmse", LOWER, 0.05, True),
                            compare("bias", LOWER, 0.1, True)]),
        {"accuracy": 0.87, "rmse": 3.4, "bias": 0.01},
        {"accuracy": 0.9, "rmse": 3.0, "bias": 0.0},
    )  # fmt: skip
    assert [c.message for c in verdict.checks] == [
        "accuracy 0.87 < 0.89 (baseline 0.9 - maxRegression 0.01)",
        "rmse 3.4 > 3.15 (baseline 3 + 5% of |3|)",
        "bias 0.01 > 0 (baseline 0 + 10% of |0|: a relative margin of a zero baseline allows "
        "no regression)",
    ]
    assert verdict.reason == "rejected: " + "; ".join(c.message for c in verdict.checks)
    assert verdict.failing_metrics == ("accuracy", "rmse", "bias")


def test_compared_threshold_is_the_baseline_moved_by_the_allowed_regression() -> None:
    entry = Comparison.model_validate(compare("r2", HIGHER, 0.1, True))
    assert compared_threshold(entry, -0.2) == pytest.approx(-0.22)
    assert compared_threshold(entry, 0.2) == pytest.approx(0.18)
    lower = Comparison.model_validate(compare("rmse", LOWER, 0.1, True))
    assert compared_threshold(lower, -0.2) == pytest.approx(-0.18)
    assert compared_threshold(lower, 0.2) == pytest.approx(0.22)


# The two common ways of writing a relative margin, reproduced as formulas (not the libraries):
#
# - MLflow-style signed division: relative change = (candidate - baseline) / baseline, and a
#   higher-is-better candidate passes when that change is at least -maxRegression.
# - TFX-style ratio: candidate / baseline, which passes when at least 1 - maxRegression.
#
# Both are the same rule written two ways, and both divide by the signed baseline. With a
# negative baseline the sign of the quotient flips: a worse r2 (-0.25 against -0.2) reads as a
# 25% improvement and is promoted, and a better one (-0.15) reads as a 25% regression and is
# rejected. Measuring the margin against |baseline| keeps the direction: the worse model is
# rejected, the better one passes.


def mlflow_style_passes(candidate: float, baseline: float, max_regression: float) -> bool:
    return (candidate - baseline) / baseline >= -max_regression


def tfx_style_passes(candidate: float, baseline: float, max_regression: float) -> bool:
    return candidate / baseline >= 1 - max_regression


@pytest.mark.parametrize(
    ("candidate", "baseline", "intended"),
    [
        (-0.25, -0.2, False),  # worse by 0.05, more than 10% of 0.2: must be rejected
        (-0.15, -0.2, True),  # better by 0.05: must pass
    ],
    ids=["worse-r2", "better-r2"],
)
def test_signed_division_and_ratio_invert_on_a_negative_baseline_and_this_does_not(
    candidate: float, baseline: float, intended: bool
) -> None:
    assert mlflow_style_passes(candidate, baseline, 0.1) is not intended
    assert tfx_style_passes(candidate, baseline, 0.1) is not intended
    verdict = validate(
        validation(compare=[compare("r2", HIGHER, 0.1, True)]), {"r2": candidate}, {"r2": baseline}
    )
    assert verdict.passed is intended
    # On positive values the three agree; the difference is the sign alone. Negated, the
    # worse r2 becomes the better score and the other way round.
    mirrored = not intended
    assert mlflow_style_passes(-candidate, -baseline, 0.1) is mirrored
    assert tfx_style_passes(-candidate, -baseline, 0.1) is mirrored
    positive = validate(
        validation(compare=[compare("r2", HIGHER, 0.1, True)]), {"r2": -candidate},
        {"r2": -baseline},
    )  # fmt: skip
    assert positive.passed is mirrored


# (id, minMetrics, maxMetrics, candidate, passes, messages)
BOUNDS: list[tuple[str, dict[str, float], dict[str, float], dict[str, float], bool, list[str]]] = [
    ("min-passes", {"accuracy": 0.91}, {}, {"accuracy": 0.93}, True, ["accuracy 0.93 >= min 0.91"]),
    ("min-equal-passes", {"accuracy": 0.91}, {}, {"accuracy": 0.91}, True,
     ["accuracy 0.91 >= min 0.91"]),
    ("min-fails", {"accuracy": 0.91}, {}, {"accuracy": 0.87}, False, ["accuracy 0.87 < min 0.91"]),
    ("max-passes", {}, {"rmse": 3.5}, {"rmse": 3.5}, True, ["rmse 3.5 <= max 3.5"]),
    ("max-fails", {}, {"rmse": 3.5}, {"rmse": 3.6}, False, ["rmse 3.6 > max 3.5"]),
    ("negative-min", {"r2": -0.3}, {}, {"r2": -0.25}, True, ["r2 -0.25 >= min -0.3"]),
    ("both-bounds", {"accuracy": 0.8}, {"accuracy": 0.99}, {"accuracy": 0.995}, False,
     ["accuracy 0.995 >= min 0.8", "accuracy 0.995 > max 0.99"]),
    ("missing-min", {"accuracy": 0.91}, {}, {"f1": 0.95}, False,
     ["accuracy not reported by the trainer (minMetrics names it)"]),
    ("missing-max", {}, {"rmse": 3.5}, {}, False,
     ["rmse not reported by the trainer (maxMetrics names it)"]),
    ("nan-min", {"accuracy": 0.91}, {}, {"accuracy": NAN}, False,
     ["accuracy is nan, not a finite number"]),
    ("inf-max", {}, {"rmse": 3.5}, {"rmse": INF}, False, ["rmse is inf, not a finite number"]),
    ("minus-inf-min", {"ll": -5.0}, {}, {"ll": -INF}, False, ["ll is -inf, not a finite number"]),
    ("unchecked-nan-is-ignored", {"accuracy": 0.91}, {}, {"accuracy": 0.95, "other": NAN}, True,
     ["accuracy 0.95 >= min 0.91"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("low", "high", "candidate", "passes", "messages"),
    [case[1:] for case in BOUNDS],
    ids=[case[0] for case in BOUNDS],
)
def test_absolute_bounds_table(
    low: dict[str, float],
    high: dict[str, float],
    candidate: dict[str, float],
    passes: bool,
    messages: list[str],
) -> None:
    verdict = validate(validation(minMetrics=low, maxMetrics=high), candidate, None)
    assert verdict.passed is passes
    assert [c.message for c in verdict.checks] == messages
    if not passes:
        assert verdict.reason == "rejected: " + "; ".join(
            c.message for c in verdict.checks if not c.passed
        )


def test_missing_or_non_finite_values_in_comparisons_reject() -> None:
    spec = validation(compare=[compare("accuracy", HIGHER, 0.01)], onMissingBaseline="pass")
    cases = {
        "missing": ({}, {"accuracy": 0.9}, CheckOutcome.MISSING,
                    "accuracy not reported by the trainer (compare names it)"),
        "candidate-nan": ({"accuracy": NAN}, {"accuracy": 0.9}, CheckOutcome.NOT_FINITE,
                          "accuracy is nan, not a finite number"),
        "baseline-nan": ({"accuracy": 0.9}, {"accuracy": NAN}, CheckOutcome.NOT_FINITE,
                         "accuracy: the baseline is nan, not a finite number"),
        "baseline-inf": ({"accuracy": 0.9}, {"accuracy": -INF}, CheckOutcome.NOT_FINITE,
                         "accuracy: the baseline is -inf, not a finite number"),
    }  # fmt: skip
    for name, (candidate, baseline, outcome, message) in cases.items():
        verdict = validate(spec, candidate, baseline)
        (check,) = verdict.checks
        # A NaN baseline is a broken measurement, not a first run: onMissingBaseline: pass
        # does not let it through.
        assert (verdict.passed, check.outcome, check.message) == (False, outcome, message), name
        assert verdict.reason == f"rejected: {message}", name


# (id, onMissingBaseline or None for the default, baseline, passes, reason)
MISSING_BASELINE: list[tuple[str, str | None, dict[str, float] | None, bool, str]] = [
    ("no-baseline-default-rejects", None, None, False,
     "rejected: accuracy: no baseline reported, rejected (onMissingBaseline: reject)"),
    ("no-baseline-reject", "reject", None, False,
     "rejected: accuracy: no baseline reported, rejected (onMissingBaseline: reject)"),
    ("no-baseline-pass", "pass", None, True,
     "passed 1 of 2 checks; not compared, no baseline (onMissingBaseline: pass): accuracy"),
    ("baseline-without-the-metric-reject", "reject", {"f1": 0.8}, False,
     "rejected: accuracy: no baseline reported, rejected (onMissingBaseline: reject)"),
    ("baseline-without-the-metric-pass", "pass", {"f1": 0.8}, True,
     "passed 1 of 2 checks; not compared, no baseline (onMissingBaseline: pass): accuracy"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("on_missing", "baseline", "passes", "reason"),
    [case[1:] for case in MISSING_BASELINE],
    ids=[case[0] for case in MISSING_BASELINE],
)
def test_missing_baseline_table(
    on_missing: str | None, baseline: dict[str, float] | None, passes: bool, reason: str
) -> None:
    fields: dict[str, Any] = {
        "minMetrics": {"accuracy": 0.5},
        "compare": [compare("accuracy", HIGHER, 0.01)],
    }
    if on_missing is not None:
        fields["onMissingBaseline"] = on_missing
    verdict = validate(validation(**fields), {"accuracy": 0.9}, baseline)
    assert (verdict.passed, verdict.reason) == (passes, reason)
    check = verdict.checks[-1]
    assert (check.outcome, check.passed, check.candidate) == (
        CheckOutcome.NO_BASELINE, passes, 0.9
    )  # fmt: skip
    assert check.baseline is None
    assert check.threshold is None
    assert [c.label for c in verdict.not_compared] == (["accuracy"] if passes else [])


def test_missing_baseline_pass_still_applies_the_absolute_bounds() -> None:
    spec = validation(minMetrics={"accuracy": 0.95}, compare=[compare("accuracy", HIGHER)],
                      onMissingBaseline="pass")  # fmt: skip
    verdict = validate(spec, {"accuracy": 0.9}, None)
    assert not verdict.passed
    assert verdict.reason == "rejected: accuracy 0.9 < min 0.95"


def test_a_missing_candidate_metric_rejects_even_without_a_baseline() -> None:
    spec = validation(compare=[compare("accuracy", HIGHER)], onMissingBaseline="pass")
    verdict = validate(spec, {}, None)
    assert verdict.reason == "rejected: accuracy not reported by the trainer (compare names it)"


SLICED = {"slices": {}}
# (id, compare entry, candidate slices, baseline slices, onMissingBaseline, passes, slice messages)
SLICES: list[tuple[str, dict[str, Any], Any, Any, str, bool, list[str]]] = [
    ("all-pass", compare("acc", HIGHER, 0.01, **SLICED),
     {"F": {"acc": 0.9}, "M": {"acc": 0.91}}, {"F": {"acc": 0.9}, "M": {"acc": 0.9}}, "reject",
     True, ["acc[F] 0.9 >= 0.89 (baseline 0.9 - maxRegression 0.01)",
            "acc[M] 0.91 >= 0.89 (baseline 0.9 - maxRegression 0.01)"]),
    ("one-slice-worse", compare("acc", HIGHER, 0.01, **SLICED),
     {"F": {"acc": 0.8}, "M": {"acc": 0.91}}, {"F": {"acc": 0.9}, "M": {"acc": 0.9}}, "reject",
     False, ["acc[F] 0.8 < 0.89 (baseline 0.9 - maxRegression 0.01)",
             "acc[M] 0.91 >= 0.89 (baseline 0.9 - maxRegression 0.01)"]),
    ("relative-per-slice", compare("rmse", LOWER, 0.1, True, **SLICED),
     {"a": {"rmse": 2.1}, "b": {"rmse": 5.6}}, {"a": {"rmse": 2.0}, "b": {"rmse": 5.0}}, "reject",
     False, ["rmse[a] 2.1 <= 2.2 (baseline 2 + 10% of |2|)",
             "rmse[b] 5.6 > 5.5 (baseline 5 + 10% of |5|)"]),
    ("slice-missing-on-the-candidate", compare("acc", HIGHER, **SLICED),
     {"F": {"acc": 0.9}}, {"F": {"acc": 0.9}, "M": {"acc": 0.9}}, "pass",
     False, ["acc[F] 0.9 >= 0.9 (baseline 0.9 - maxRegression 0)",
             "acc[M]: slice M not reported for the candidate"]),
    ("slice-missing-on-the-baseline-reject", compare("acc", HIGHER, **SLICED),
     {"F": {"acc": 0.9}, "X": {"acc": 0.9}}, {"F": {"acc": 0.9}}, "reject",
     False, ["acc[F] 0.9 >= 0.9 (baseline 0.9 - maxRegression 0)",
             "acc[X]: no baseline reported, rejected (onMissingBaseline: reject)"]),
    ("slice-missing-on-the-baseline-pass", compare("acc", HIGHER, **SLICED),
     {"F": {"acc": 0.9}, "X": {"acc": 0.9}}, {"F": {"acc": 0.9}}, "pass",
     True, ["acc[F] 0.9 >= 0.9 (baseline 0.9 - maxRegression 0)",
            "acc[X]: no baseline reported, passed without comparison (onMissingBaseline: pass)"]),
    ("no-baseline-slices-at-all", compare("acc", HIGHER, **SLICED),
     {"F": {"acc": 0.9}}, None, "reject",
     False, ["acc[F]: no baseline reported, rejected (onMissingBaseline: reject)"]),
    ("metric-missing-in-a-candidate-slice", compare("acc", HIGHER, **SLICED),
     {"F": {"f1": 0.9}}, {"F": {"acc": 0.9}}, "pass",
     False, ["acc[F] not reported by the trainer for slice F (compare names it)"]),
    ("nan-in-a-slice", compare("acc", HIGHER, **SLICED),
     {"F": {"acc": NAN}}, {"F": {"acc": 0.9}}, "pass",
     False, ["acc[F] is nan, not a finite number"]),
    ("all-but-none-reported", compare("acc", HIGHER, **SLICED), None, None, "pass",
     False, ["acc: compare asks for every slice, and no slice was reported"]),
    ("listed-only", compare("acc", HIGHER, slices={"names": ["F"]}),
     {"F": {"acc": 0.9}, "M": {"acc": 0.1}}, {"F": {"acc": 0.9}, "M": {"acc": 0.9}}, "reject",
     True, ["acc[F] 0.9 >= 0.9 (baseline 0.9 - maxRegression 0)"]),
    ("listed-missing-on-both-sides", compare("acc", HIGHER, slices={"names": ["F", "Z"]}),
     {"F": {"acc": 0.9}}, {"F": {"acc": 0.9}}, "pass",
     False, ["acc[F] 0.9 >= 0.9 (baseline 0.9 - maxRegression 0)",
             "acc[Z]: slice Z not reported for the candidate"]),
    ("listed-twice-counts-once", compare("acc", HIGHER, slices={"names": ["F", "F"]}),
     {"F": {"acc": 0.9}}, {"F": {"acc": 0.9}}, "reject",
     True, ["acc[F] 0.9 >= 0.9 (baseline 0.9 - maxRegression 0)"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "candidate_slices", "baseline_slices", "on_missing", "passes", "messages"),
    [case[1:] for case in SLICES],
    ids=[case[0] for case in SLICES],
)
def test_slices_table(
    entry: dict[str, Any],
    candidate_slices: Any,
    baseline_slices: Any,
    on_missing: str,
    passes: bool,
    messages: list[str],
) -> None:
    metric = entry["metric"]
    spec = validation(compare=[entry], onMissingBaseline=on_missing)
    verdict = validate(
        spec, {metric: 1.0}, {metric: 1.0},
        candidate_slices=candidate_slices, baseline_slices=baseline_slices,
    )  # fmt: skip
    overall, *per_slice = verdict.checks
    assert (overall.slice, overall.passed) == (None, True)  # the overall metric comes first
    assert [c.message for c in per_slice] == messages
    assert verdict.passed is passes
    for check in per_slice:
        if check.slice is not None:
            assert check.label == f"{metric}[{check.slice}]"
    if not passes:
        failing = [c.message for c in verdict.checks if not c.passed]
        assert verdict.reason == "rejected: " + "; ".join(failing)


def test_without_slices_the_reported_slices_are_not_checked() -> None:
    verdict = validate(
        validation(compare=[compare("acc", HIGHER)]), {"acc": 0.9}, {"acc": 0.9},
        candidate_slices={"F": {"acc": 0.1}}, baseline_slices={"F": {"acc": 0.9}},
    )  # fmt: skip
    assert verdict.passed
    assert len(verdict.checks) == 1


def test_reasons_of_passing_verdicts() -> None:
    assert validate(validation(), {"accuracy": 0.5}, None).reason == "passed: no checks configured"
    spec = validation(minMetrics={"a": 0.5}, maxMetrics={"b": 2.0},
                      compare=[compare("a", HIGHER)])  # fmt: skip
    verdict = validate(spec, {"a": 0.9, "b": 1.0}, {"a": 0.8})
    assert (verdict.passed, verdict.reason) == (True, "passed all 3 checks")
    assert [c.kind for c in verdict.checks] == [CheckKind.MIN, CheckKind.MAX, CheckKind.COMPARE]


def test_the_reason_is_one_bounded_line_naming_what_it_leaves_out() -> None:
    names = [f"metric_with_a_rather_long_name_{i:02d}" for i in range(32)]
    verdict = validate(validation(minMetrics=dict.fromkeys(names, 0.5)), {}, None)
    assert not verdict.passed
    assert len(verdict.failures) == 32
    assert len(verdict.reason) <= REASON_LIMIT
    assert "\n" not in verdict.reason
    assert verdict.reason.startswith(f"rejected: {names[0]} not reported by the trainer")
    shown = sum(name in verdict.reason for name in names)
    assert 0 < shown < 32
    assert verdict.reason.endswith(f"; and {32 - shown} more")
    assert verdict.failing_metrics == tuple(names)


# The API's rules, through the same parser the operator uses: (spec.validation, path, message)
BROKEN: list[tuple[dict[str, Any], str, str]] = [
    ({"minMetrics": {"accuracy": 0.95}, "maxMetrics": {"accuracy": 0.9}}, "spec.validation",
     "minMetrics and maxMetrics: min must not exceed max for a metric in both"),
    ({"compare": [compare("a", HIGHER), compare("a", LOWER)]}, "spec.validation",
     "compare: metric names must be unique"),
    ({"compare": [compare("a", HIGHER, -0.01)]}, "spec.validation.compare[0].maxRegression",
     "greater than or equal to 0"),
    ({"compare": [{"metric": "a"}]}, "spec.validation.compare[0].direction", "Field required"),
    ({"compare": [compare("a", "up")]}, "spec.validation.compare[0].direction",
     "'higherIsBetter' or 'lowerIsBetter'"),
    ({"compare": [compare("", HIGHER)]}, "spec.validation.compare[0].metric", "at least 1"),
    ({"compare": [compare("a", HIGHER, slices={"names": []})]},
     "spec.validation.compare[0].slices.names", "at least 1 item"),
    ({"compare": [compare("a", HIGHER, slices="all")]}, "spec.validation.compare[0].slices",
     "valid dictionary"),
    ({"onMissingBaseline": "skip"}, "spec.validation.onMissingBaseline", "'pass' or 'reject'"),
]  # fmt: skip


def parse_policy(validation_spec: dict[str, Any]) -> Any:
    body = {
        "metadata": {"name": "p"},
        "spec": {
            "modelDeploymentRef": "m",
            "job": {"template": {"spec": {"template": {"spec": {"containers": [{"name": "t"}]}}}}},
            "output": {"uri": "s3://b/{version}/"},
            "validation": validation_spec,
        },
    }
    return parse_spec(KINDS_BY_NAME["RetrainPolicy"], body)


@pytest.mark.parametrize(("spec", "field", "message"), BROKEN, ids=[b[2] for b in BROKEN])
def test_rules_reject_with_field_and_message(
    spec: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidObjectError) as error:
        parse_policy(spec)
    assert any(p.path == field and message in p.message for p in error.value.problems), str(
        error.value
    )


def test_valid_variations_are_accepted_and_defaults_applied() -> None:
    policy = parse_policy({
        "minMetrics": {"accuracy": 0.9}, "maxMetrics": {"accuracy": 0.9, "rmse": 3},
        "compare": [compare("accuracy", HIGHER, 0.01),
                    {"metric": "rmse", "direction": LOWER},
                    compare("f1", HIGHER, 0.5, True, slices={"names": ["F", "M"]})],
    })  # fmt: skip
    checks = policy.validation
    assert checks.on_missing_baseline == "reject"
    rmse = checks.compare[1]
    assert (rmse.max_regression, rmse.relative, rmse.slices) == (0.0, False, None)
    assert checks.to_kube()["compare"][2]["slices"] == {"names": ["F", "M"]}
    assert parse_policy({"compare": [compare("a", HIGHER, slices={})]}).validation.compare[0].slices


def test_the_crd_carries_the_rules_and_the_compare_list_map() -> None:
    schema = Validation.model_json_schema(by_alias=True)
    assert schema["x-kubernetes-validations"] == [
        {
            "rule": "!has(self.minMetrics) || !has(self.maxMetrics) || self.minMetrics.all(k, "
            "!(k in self.maxMetrics) || self.minMetrics[k] <= self.maxMetrics[k])",
            "message": "minMetrics and maxMetrics: min must not exceed max for a metric in both",
        }
    ]
    compare_schema = schema["properties"]["compare"]
    assert compare_schema["x-kubernetes-list-type"] == "map"
    assert compare_schema["x-kubernetes-list-map-keys"] == ["metric"]
