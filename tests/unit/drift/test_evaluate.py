"""The drift evaluator, table-tested on live counts binned as the server bins them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.evaluate import Verdict, evaluate
from modelship.drift.observed import LiveCounts, parse_vector
from modelship.drift.queries import PARTS, Target, evaluation_query
from modelship.profile.build import ProfileOptions, build_profile
from modelship.profile.schema import CategoricalDistribution, NumericDistribution, Profile

RNG = np.random.default_rng(7)
N_REFERENCE = 20_000


def frame(n: int, rng: np.random.Generator, shift: dict[str, float] | None = None,
          countries: tuple[list[str], list[float]] | None = None) -> pd.DataFrame:  # fmt: skip
    shift = shift or {}
    names, weights = countries or (["fr", "de", "es"], [0.5, 0.3, 0.2])
    data = {f"x{i}": rng.normal(shift.get(f"x{i}", 0.0), 1.0, n) for i in range(5)}
    data["country"] = rng.choice(names, n, p=weights)
    data["gender"] = rng.choice(["M", "F"], n)
    data["label"] = rng.choice(["approve", "deny"], n, p=[0.7, 0.3])
    return pd.DataFrame(data)


PROFILE = build_profile(
    frame(N_REFERENCE, RNG), ProfileOptions(target="label", fairness=["gender"], bins=10)
)


def cumulative(values: np.ndarray, edges: list[float]) -> list[tuple[str, float]]:
    """Prometheus histogram buckets (le, cumulative count) for right-closed bins."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    running = np.cumsum(counts)
    les = [repr(float(e)) for e in edges] + ["+Inf"]
    return [(le, float(c)) for le, c in zip(les, running, strict=True)]


def live_counts(profile: Profile, data: pd.DataFrame, predictions: list[str] | None = None,
                correct: float | None = None) -> LiveCounts:  # fmt: skip
    """What Prometheus would answer for `data` served by a model with `profile`."""
    live = LiveCounts(rows=float(len(data)))
    for feature in profile.features:
        dist = feature.distribution
        column = data[feature.name]
        if isinstance(dist, NumericDistribution):
            live.numeric[feature.name] = cumulative(column.to_numpy(), dist.edges)
        else:
            known = set(dist.categories)
            counts = {c: float((column == c).sum()) for c in dist.categories}
            counts["__other__"] = float((~column.isin(known)).sum())
            live.categorical[feature.name] = counts
    prediction = predictions if predictions is not None else list(data["label"])
    assert isinstance(profile.prediction.distribution, CategoricalDistribution)
    for cls in [*profile.prediction.distribution.categories, "__other__"]:
        live.prediction_classes[cls] = float(sum(1 for p in prediction if p == cls))
    for gender in ("M", "F"):
        mask = (data["gender"] == gender).to_numpy()
        for cls in ("approve", "deny"):
            count = sum(1 for m, p in zip(mask, prediction, strict=True) if m and p == cls)
            live.fairness[("gender", gender, cls)] = float(count)
    if correct is not None:
        live.feedback["matched"] = float(len(data))
        live.correct = correct * len(data)
    return live


def spec(**fields: Any) -> DriftMonitorSpec:
    return DriftMonitorSpec.model_validate({"modelDeploymentRef": "fraud", **fields})


def test_in_distribution_traffic_is_not_drifted() -> None:
    result = evaluate(spec(), PROFILE, live_counts(PROFILE, frame(2_000, RNG)))
    assert result.verdict is Verdict.NOT_DRIFTED
    assert result.reason == "NoDrift"
    assert result.dataset is not None
    assert result.dataset.features == len(PROFILE.features)
    assert not result.critical_features


def test_two_shifted_features_are_named_and_the_dataset_drifts() -> None:
    data = frame(2_000, RNG, shift={"x1": 1.0, "x3": -1.0})
    result = evaluate(spec(datasetDrift={"share": 0.25}), PROFILE, live_counts(PROFILE, data))
    assert result.verdict is Verdict.DRIFTED
    assert result.reason == "DatasetDrift"
    assert sorted(result.critical_features) == ["x1", "x3"]
    assert [f.name for f in result.features[:2]] == sorted(
        ["x1", "x3"], key=lambda n: -next(f.score or 0 for f in result.features if f.name == n)
    )
    assert "2 of 7 features drifted (critical): x" in result.message


def test_a_shift_below_the_dataset_share_is_reported_but_not_drift() -> None:
    data = frame(2_000, RNG, shift={"x1": 1.0})
    result = evaluate(spec(), PROFILE, live_counts(PROFILE, data))
    assert result.verdict is Verdict.NOT_DRIFTED
    assert result.critical_features == ["x1"]
    assert "1 of 7 features at critical (x1 psi" in result.message


def test_unseen_categories_drift_a_categorical_feature_under_chi2() -> None:
    data = frame(2_000, RNG, countries=(["fr", "de", "it"], [0.4, 0.3, 0.3]))
    overrides = [{"name": "country", "method": "chi2", "critical": 0.01}]
    result = evaluate(spec(features={"overrides": overrides}), PROFILE, live_counts(PROFILE, data))
    country = next(f for f in result.features if f.name == "country")
    assert country.method == "chi2"
    assert country.severity == "critical"
    assert country.p_value is not None
    assert country.p_value < 1e-6


def test_too_few_predictions_is_unknown_never_drift() -> None:
    data = frame(50, RNG, shift={"x1": 3.0, "x2": 3.0, "x3": 3.0})
    result = evaluate(spec(minSamples=100), PROFILE, live_counts(PROFILE, data))
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason == "NotEnoughSamples"
    assert "only 50 predictions in the last 1h (minSamples 100)" in result.message


def test_buckets_of_another_profile_are_unknown_naming_the_feature() -> None:
    live = live_counts(PROFILE, frame(1_000, RNG))
    live.numeric["x2"] = [("0.5", 10.0), ("+Inf", 1000.0)]
    result = evaluate(spec(), PROFILE, live)
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason == "ProfileMismatch"
    assert result.message.startswith("feature x2: buckets")


def test_a_feature_the_server_does_not_export_is_unknown() -> None:
    live = live_counts(PROFILE, frame(1_000, RNG))
    del live.categorical["country"]
    result = evaluate(spec(), PROFILE, live)
    assert (result.verdict, result.reason) == (Verdict.UNKNOWN, "ProfileMismatch")
    assert "feature country: no live series" in result.message


def test_ignored_features_are_not_scored() -> None:
    data = frame(2_000, RNG, shift={"x1": 2.0})
    result = evaluate(spec(features={"ignore": ["x1"]}), PROFILE, live_counts(PROFILE, data))
    assert "x1" not in [f.name for f in result.features]
    assert not result.critical_features


def test_prediction_drift_alone_drifts() -> None:
    data = frame(2_000, RNG)
    predictions = ["deny"] * 1_500 + ["approve"] * 500
    live = live_counts(PROFILE, data, predictions=predictions)
    result = evaluate(spec(prediction={"critical": 0.1}), PROFILE, live)
    assert result.prediction is not None
    assert result.prediction.severity == "critical"
    assert (result.verdict, result.reason) == (Verdict.DRIFTED, "PredictionDrift")


def test_realised_accuracy_below_its_minimum_is_degraded() -> None:
    live = live_counts(PROFILE, frame(1_000, RNG), correct=0.8)
    result = evaluate(spec(performance={"metric": "accuracy", "min": 0.9}), PROFILE, live)
    assert result.performance is not None
    assert result.performance.value == pytest.approx(0.8)
    assert result.performance.in_range is False
    assert result.degraded == ("accuracy 0.8 out of range",)


def test_performance_without_enough_labels_has_no_value() -> None:
    live = live_counts(PROFILE, frame(1_000, RNG))
    result = evaluate(spec(performance={"metric": "accuracy", "min": 0.9}), PROFILE, live)
    assert result.performance is not None
    assert result.performance.value is None
    assert "only 0 labelled predictions (minSamples 100)" in result.performance.reason
    assert result.degraded == ()


def test_a_biased_model_trips_its_fairness_range() -> None:
    data = frame(2_000, RNG)
    predictions = ["approve" if g == "M" else "deny" for g in data["gender"]]
    check = {
        "attribute": "gender",
        "privileged": ["M"],
        "favourable": ["approve"],
        "metric": "statisticalParityDifference",
        "range": {"min": -0.1, "max": 0.1},
    }
    live = live_counts(PROFILE, data, predictions=predictions)
    result = evaluate(spec(fairness=[check]), PROFILE, live)
    (parity,) = result.fairness
    assert parity.value == pytest.approx(-1.0)
    assert parity.in_range is False
    assert result.degraded == ("gender statisticalParityDifference -1 out of range",)


def test_one_query_whatever_the_feature_count_and_its_answer_parsed() -> None:
    query = evaluation_query(Target("ml", "abc123", "1h"))
    assert query.count(" or ") == len(PARTS) - 1
    assert 'namespace="ml",revision="abc123"' in query
    answer = [
        {"metric": {"ms_part": "numeric", "feature": "x0", "le": "0.5"}, "value": [0, "3"]},
        {"metric": {"ms_part": "categorical", "feature": "c", "category": "fr"}, "value": [0, "2"]},
        {"metric": {"ms_part": "rows"}, "value": [0, "5"]},
        {"metric": {"ms_part": "fairness", "attribute": "g", "group": "M", "class": "a"},
         "value": [0, "NaN"]},
    ]  # fmt: skip
    live = parse_vector(answer)
    assert live.numeric == {"x0": [("0.5", 3.0)]}
    assert live.categorical == {"c": {"fr": 2.0}}
    assert live.rows == 5.0
    assert live.fairness == {("g", "M", "a"): 0.0}


@pytest.mark.parametrize(("correction", "factor"), [("none", 1.0), ("bonferroni", 2.0)])
def test_the_multiple_testing_correction_adjusts_the_p_value_features_together(
    correction: str, factor: float
) -> None:
    overrides = [
        {"name": "country", "method": "chi2", "critical": 0.01},
        {"name": "gender", "method": "chi2", "critical": 0.01},
    ]
    features = {"overrides": overrides, "multipleTesting": correction}
    live = live_counts(PROFILE, frame(1_000, RNG))
    result = evaluate(spec(features=features), PROFILE, live)
    tested = [f for f in result.features if f.method == "chi2"]
    assert len(tested) == 2
    for f in tested:
        assert f.p_value is not None
        assert f.score == pytest.approx(min(1.0, f.p_value * factor))


def test_the_default_correction_is_benjamini_hochberg() -> None:
    assert spec().features.multiple_testing == "benjaminiHochberg"
    assert spec().min_samples == 500
