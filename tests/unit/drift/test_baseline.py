"""A baseline window of live traffic as the reference (spec.reference): in the one query, what
it is compared with, when the profile stands in, and what status and Events say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.evaluate import Verdict, evaluate
from modelship.drift.observed import LiveCounts, parse_vector
from modelship.drift.plan import Reference, plan_evaluation
from modelship.drift.queries import BASELINE_PARTS, PARTS, Target, evaluation_query

from tests.unit.drift.test_evaluate import PROFILE, RNG, frame, live_counts

SHIFT = {"x0": 1.5, "x1": 1.5, "x2": 1.5, "x3": 1.5}
REFERENCE = Reference("fraud-profile", "profile.json", "rev1", "1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**reference: Any) -> DriftMonitorSpec:
    return DriftMonitorSpec.model_validate({
        "modelDeploymentRef": "m", "minSamples": 100, "prediction": {"critical": 0.1},
        "reference": {"window": "168h", "offset": "168h", **reference},
    })  # fmt: skip


def with_baseline(current: LiveCounts, baseline: LiveCounts | None) -> LiveCounts:
    current.reference = baseline
    return current


def test_the_baseline_is_in_the_one_query_offset_and_tagged() -> None:
    query = evaluation_query(Target("ml", "r", "1h", baseline=("168h", "336h")))
    assert query.count(" or ") == len(PARTS) + len(BASELINE_PARTS) - 1
    assert ('increase(modelship_feature_value_bucket{namespace="ml",revision="r"}[604800s] '
            'offset 1209600s)') in query  # fmt: skip
    assert '"ms_part", "reference.numeric"' in query
    answer = [
        {"metric": {"ms_part": "rows"}, "value": [0, "5"]},
        {"metric": {"ms_part": "reference.rows"}, "value": [0, "7"]},
        {"metric": {"ms_part": "reference.numeric", "feature": "x0", "le": "+Inf"},
         "value": [0, "7"]},
    ]  # fmt: skip
    live = parse_vector(answer)
    assert live.rows == 5.0
    assert live.reference is not None
    assert (live.reference.rows, live.reference.numeric) == (7.0, {"x0": [("+Inf", 7.0)]})


def test_traffic_that_drifted_from_the_profile_but_not_from_the_baseline_is_not_drifted() -> None:
    shifted = frame(2_000, RNG, shift=SHIFT)
    against_profile = evaluate(spec(), PROFILE, live_counts(PROFILE, shifted))
    assert against_profile.verdict is Verdict.DRIFTED  # no baseline counts: the profile
    assert against_profile.baseline is not None
    assert against_profile.baseline.source == "profile"
    last_week = live_counts(PROFILE, frame(3_000, RNG, shift=SHIFT))
    live = with_baseline(live_counts(PROFILE, shifted), last_week)
    result = evaluate(spec(), PROFILE, live)
    assert result.baseline is not None
    assert (result.baseline.source, result.baseline.samples) == ("window", 3_000)
    assert result.verdict is Verdict.NOT_DRIFTED
    assert not result.critical_features


def test_traffic_that_moved_away_from_the_baseline_drifts() -> None:
    live = with_baseline(live_counts(PROFILE, frame(2_000, RNG, shift=SHIFT)),
                         live_counts(PROFILE, frame(3_000, RNG)))  # fmt: skip
    result = evaluate(spec(), PROFILE, live)
    assert result.verdict is Verdict.DRIFTED
    assert set(result.critical_features) == set(SHIFT)


def test_too_few_baseline_predictions_fall_back_to_the_profile_saying_why() -> None:
    live = with_baseline(live_counts(PROFILE, frame(2_000, RNG)),
                         live_counts(PROFILE, frame(50, RNG)))  # fmt: skip
    result = evaluate(spec(minSamples=60), PROFILE, live)
    assert result.baseline is not None
    assert result.baseline.source == "profile"
    assert result.baseline.reason == (
        "only 50 predictions in the baseline window (minSamples 60): the profile is the reference"
    )
    assert result.verdict is Verdict.NOT_DRIFTED  # scored against the profile


def test_baseline_bins_that_are_not_the_profiles_fall_back_naming_the_feature() -> None:
    baseline = live_counts(PROFILE, frame(2_000, RNG))
    baseline.numeric["x2"] = [("0.5", 10.0), ("+Inf", 2_000.0)]  # another profile's edges
    result = evaluate(spec(), PROFILE, with_baseline(live_counts(PROFILE, frame(2_000, RNG)),
                                                     baseline))  # fmt: skip
    assert result.baseline is not None
    assert result.baseline.source == "profile"
    assert result.baseline.reason.startswith("baseline x2: buckets")


def _reference_status(e: Any, current: dict[str, Any] | None = None) -> Any:
    return plan_evaluation(current, spec(), e, REFERENCE, 1, NOW)


def test_status_says_which_reference_and_an_event_marks_the_switch() -> None:
    first = evaluate(spec(), PROFILE, live_counts(PROFILE, frame(2_000, RNG)))
    plan = _reference_status(first)
    assert plan.patch["reference"] == {
        "configMap": "fraud-profile", "key": "profile.json", "revision": "rev1",
        "modelVersion": "1", "source": "profile", "window": "168h", "offset": "168h",
        "samples": 0,
        "reason": "only 0 predictions in the baseline window (minSamples 100): the profile is "
                  "the reference",
    }  # fmt: skip
    live = with_baseline(live_counts(PROFILE, frame(2_000, RNG)),
                         live_counts(PROFILE, frame(3_000, RNG)))  # fmt: skip
    second = _reference_status(evaluate(spec(), PROFILE, live), plan.patch)
    assert second.patch["reference"]["source"] == "window"
    assert second.patch["reference"]["samples"] == 3_000
    assert second.patch["reference"]["reason"] is None  # erased by the merge patch
    changed = [t for t in second.transitions if t.reason == "ReferenceChanged"]
    assert [t.message for t in changed] == [
        "comparing with live traffic of the 168h ending 168h ago (3000 predictions) instead "
        "of the profile"
    ]
    third = _reference_status(evaluate(spec(), PROFILE, live), {**plan.patch, **second.patch})
    assert not [t for t in third.transitions if t.reason == "ReferenceChanged"]
