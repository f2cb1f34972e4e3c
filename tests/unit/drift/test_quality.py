"""Data quality: each share against its threshold, the Degraded condition, the Events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.evaluate import evaluate
from modelship.drift.observed import LiveCounts
from modelship.drift.plan import plan_evaluation, status_fields
from modelship.drift.quality import data_quality
from modelship.profile.build import ProfileOptions, build_profile

RNG = np.random.default_rng(3)
PROFILE = build_profile(
    pd.DataFrame(
        {
            "amount": RNG.normal(100, 10, 1_000),
            "age": RNG.integers(18, 80, 1_000),
            "country": RNG.choice(["fr", "de"], 1_000),
            "label": RNG.choice(["yes", "no"], 1_000),
        }
    ),
    ProfileOptions(target="label", bins=4),
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**data_quality: Any) -> DriftMonitorSpec:
    return DriftMonitorSpec.model_validate(
        {"modelDeploymentRef": "m", "minSamples": 1, "dataQuality": data_quality}
    )


def live(
    served: float = 1_000, rejected_rows: float = 0, missing: dict[str, float] | None = None,
    out_of_range: dict[str, float] | None = None, unseen: float = 0,
    rejected: dict[str, float] | None = None,
) -> LiveCounts:  # fmt: skip
    """`served` rows in `served` requests, `rejected_rows` more in one request each."""
    counts = LiveCounts(rows=served, rejected_rows=rejected_rows)
    counts.categorical["country"] = {"fr": (served - unseen) / 2, "de": (served - unseen) / 2,
                                     "__other__": unseen}  # fmt: skip
    counts.missing = {"amount": 0.0, "age": 0.0, "country": 0.0, **(missing or {})}
    counts.out_of_range = {"amount": 0.0, "age": 0.0, **(out_of_range or {})}
    rejected = rejected or {}
    counts.rejected = rejected
    counts.requests = {"success": served, "client_error": sum(rejected.values())}
    return counts


CASES: list[tuple[str, dict[str, Any], LiveCounts, set[str]]] = [
    ("clean traffic", {}, live(), set()),
    ("missing at the threshold passes", {}, live(950, 50, missing={"amount": 50}), set()),
    ("missing above it fails", {}, live(940, 60, missing={"amount": 60}), {"amount/missing"}),
    ("out of range over the served rows", {}, live(900, 100, out_of_range={"age": 46}),
     {"age/outOfRange"}),
    ("unseen categories are __other__", {}, live(unseen=51), {"country/unseen"}),
    ("an override raises one feature's threshold",
     {"overrides": [{"name": "amount", "missing": 0.2}]},
     live(900, 100, missing={"amount": 100, "age": 100}), {"age/missing"}),
    ("a zero threshold tolerates none", {"default": {"outOfRange": 0}},
     live(out_of_range={"amount": 1}), {"amount/outOfRange"}),
    ("rejected per reason, over all requests", {},
     live(900, 100, missing={"amount": 40}, rejected={"missingFeature": 40, "wrongType": 60}),
     {"rejected/wrongType"}),
    ("a reason's own threshold", {"rejected": {"reasons": [{"reason": "wrongType", "max": 0.1}]}},
     live(900, 100, rejected={"missingFeature": 40, "wrongType": 60}), set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "counts", "failed"),
    [pytest.param(g, c, f, id=case) for case, g, c, f in CASES],
)
def test_each_share_fails_only_above_its_threshold(
    given: dict[str, Any], counts: LiveCounts, failed: set[str]
) -> None:
    result = data_quality(spec(**given), PROFILE, counts)
    assert result is not None
    assert {key for key, _ in result.failed()} == failed
    assert result.degraded is bool(failed)


def test_denominators_missing_over_received_out_of_range_over_served() -> None:
    result = data_quality(
        spec(), PROFILE, live(800, 200, missing={"amount": 100}, out_of_range={"amount": 80})
    )
    assert result is not None
    amount = next(f for f in result.features if f.name == "amount")
    assert (amount.missing, amount.out_of_range, amount.unseen) == (0.1, 0.1, None)
    country = next(f for f in result.features if f.name == "country")
    assert (country.out_of_range, country.unseen) == (None, 0.0)
    assert result.rows == 1_000


def test_too_few_rows_or_requests_are_not_judged_and_say_so() -> None:
    result = data_quality(spec(minSamples=2_000), PROFILE, live(unseen=900, rejected={"x": 500}))
    assert result is not None
    assert result.features == ()
    assert result.rejected == ()
    assert not result.degraded
    assert "only 1000 rows received (dataQuality.minSamples 2000)" in result.reason
    assert "only 1500 requests" in result.reason


def test_ignored_features_are_not_judged_and_unknown_overrides_are_named() -> None:
    monitor = DriftMonitorSpec.model_validate({
        "modelDeploymentRef": "m", "features": {"ignore": ["amount"]},
        "dataQuality": {"overrides": [{"name": "nope", "missing": 0.5}]},
    })  # fmt: skip
    result = data_quality(monitor, PROFILE, live(900, 100, missing={"amount": 100}))
    assert result is not None
    assert [f.name for f in result.features] == ["age", "country"]
    assert not result.degraded
    assert "dataQuality.overrides name features the profile lacks: nope" in result.reason


def test_no_data_quality_block_no_result() -> None:
    monitor = DriftMonitorSpec.model_validate({"modelDeploymentRef": "m"})
    assert data_quality(monitor, PROFILE, live()) is None


def _conditions(patch: dict[str, Any]) -> dict[str, Any]:
    return {c["type"]: c for c in patch["conditions"]}


def test_failing_data_quality_alone_is_degraded_with_its_own_reason_and_status() -> None:
    monitor = spec()
    e = evaluate(monitor, PROFILE, live(900, 100, missing={"amount": 100}, unseen=0))
    plan = plan_evaluation(None, monitor, e, None, 1, NOW)
    degraded = _conditions(plan.patch)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "DataQuality")
    assert degraded["message"] == "data quality: amount missing 0.1 above 0.05"
    quality = plan.patch["dataQuality"]
    assert quality["degraded"] is True
    # features with nothing to report are left out of status
    assert quality["features"] == [{"name": "amount", "missing": 0.1, "outOfRange": 0.0,
                                    "failed": ["missing"]}]  # fmt: skip
    assert quality["rows"] == 1_000


def test_with_performance_out_of_range_too_the_reason_is_out_of_range() -> None:
    monitor = DriftMonitorSpec.model_validate({
        "modelDeploymentRef": "m", "minSamples": 1, "dataQuality": {},
        "performance": {"metric": "accuracy", "min": 0.9, "minSamples": 10},
    })  # fmt: skip
    counts = live(900, 100, missing={"amount": 100})
    counts.feedback, counts.correct = {"matched": 100.0}, 50.0
    e = evaluate(monitor, PROFILE, counts)
    degraded = _conditions(plan_evaluation(None, monitor, e, None, 1, NOW).patch)["Degraded"]
    assert degraded["reason"] == "OutOfRange"
    assert degraded["message"] == (
        "accuracy 0.5 out of range; data quality: amount missing 0.1 above 0.05"
    )


def _events(previous: LiveCounts | None, now: LiveCounts) -> list[tuple[str, str, str]]:
    monitor = spec()
    current = None
    if previous is not None:
        before = evaluate(monitor, PROFILE, previous)
        current = {"dataQuality": status_fields(before, None)["dataQuality"]}
    e = evaluate(monitor, PROFILE, now)
    plan = plan_evaluation(current, monitor, e, None, 1, NOW)
    return [(t.type, t.reason, t.message) for t in plan.transitions if "DataQuality" in t.reason]


BAD = live(900, 100, missing={"amount": 100})
WORSE = live(800, 200, missing={"amount": 200}, rejected={"wrongType": 200})


@pytest.mark.parametrize(
    ("previous", "now", "events"),
    [
        pytest.param(None, live(), [], id="clean from the start"),
        pytest.param(None, BAD, [("Warning", "DataQualityDegraded",
                                  "data quality: amount missing 0.1 above 0.05")], id="fails"),
        pytest.param(BAD, BAD, [], id="stays failing: no news"),
        pytest.param(BAD, WORSE, [("Warning", "DataQualityDegraded",
                                   "data quality: rejected wrongType 0.2 above 0.05")],
                     id="one more check fails: only it is named"),
        pytest.param(BAD, live(), [("Normal", "DataQualityRestored",
                                    "every data-quality check passes")], id="clears"),
        pytest.param(BAD, live(50), [], id="too few rows to tell: no news"),
    ],
)  # fmt: skip
def test_events_mark_transitions_only(
    previous: LiveCounts | None, now: LiveCounts, events: list[tuple[str, str, str]]
) -> None:
    assert _events(previous, now) == events
