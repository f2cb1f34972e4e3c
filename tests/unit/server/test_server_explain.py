"""The explainer's pure parts: the profile's background sample, parameters, top reasons."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from credit_model import FEATURES, TrainedModel
from modelship.profile.schema import CategoricalFeature, NumericFeature
from modelship.server.explain import (
    Attributions,
    Explainer,
    ExplainUnavailableError,
    Vocabulary,
    background_sample,
    explain_parameters,
    top_reasons,
)
from modelship.server.schema import InvalidInputError, schema_from_profile


def test_background_sample_follows_the_profile_bins(credit: TrainedModel) -> None:
    profile = credit.profile
    schema = schema_from_profile(profile)
    sample = background_sample(profile, schema, rows=4000)
    assert sample.shape == (4000, 3)
    np.testing.assert_array_equal(sample, background_sample(profile, schema, rows=4000))
    age, income, country = (profile.feature(n) for n in ("age", "income", "country"))
    assert isinstance(age, NumericFeature)
    assert isinstance(income, NumericFeature)
    assert isinstance(country, CategoricalFeature)
    assert (sample[:, 0] == np.round(sample[:, 0])).all()  # age is an integer feature
    for column, feature in ((0, age), (1, income)):
        dist = feature.distribution
        assert dist.min <= sample[:, column].min()
        assert sample[:, column].max() <= dist.max
        counts = np.bincount(np.searchsorted(dist.edges, sample[:, column], side="left"),
                             minlength=len(dist.edges) + 1)  # fmt: skip
        np.testing.assert_allclose(counts / 4000, dist.proportions, atol=0.03)
    codes = sorted(country.distribution.categories)
    shares = {c: float(np.mean(sample[:, 2] == codes.index(c))) for c in codes}
    for category, share in zip(country.distribution.categories,
                               country.distribution.proportions, strict=True):  # fmt: skip
        assert shares[category] == pytest.approx(share, abs=0.03)


def test_vocabulary_codes_unknown_values_of_one_request() -> None:
    vocabulary = Vocabulary(["DE", "FR"])
    extended = vocabulary.extended(["FR", "XX", "XX"])
    assert extended.values == ["DE", "FR", "XX"]
    assert vocabulary.values == ["DE", "FR"]  # the shared one is untouched
    codes = extended.encode(["XX", "DE"])
    assert codes.tolist() == [2.0, 0.0]
    assert extended.decode(codes) == ["XX", "DE"]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [(None, None), ({}, None), ({"other": 1}, None), ({"explain": False}, None),
     ({"explain": True}, 3), ({"explain": True, "explain_top": 1}, 1),
     ({"explain": True, "explain_top": 99}, 4)],
)  # fmt: skip
def test_explain_parameters(parameters: dict[str, Any] | None, expected: int | None) -> None:
    assert explain_parameters(parameters, features=4) == expected


@pytest.mark.parametrize(
    ("parameters", "message"),
    [({"explain": "true"}, "parameters.explain: must be true or false"),
     ({"explain": 1}, "parameters.explain: must be true or false"),
     ({"explain": True, "explain_top": 0}, "parameters.explain_top: must be a positive integer"),
     ({"explain": True, "explain_top": True}, "parameters.explain_top"),
     ({"explain": True, "explain_top": 2.5}, "parameters.explain_top")],
)  # fmt: skip
def test_wrong_explain_parameters_name_the_field(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        explain_parameters(parameters, features=4)


def test_top_reasons_explain_the_highest_output_by_absolute_attribution() -> None:
    values = np.array([[[0.1, -0.1], [-0.5, 0.5], [0.2, -0.2]],
                       [[0.0, 0.0], [0.3, -0.3], [-0.4, 0.4]]])  # fmt: skip
    attributions = Attributions(values, np.array([0.5, 0.5]), ["yes", "no"], "probability", "x")
    reasons = top_reasons(attributions, ["a", "b", "c"], top=2)
    assert [r["output"] for r in reasons] == ["no", "no"]  # 0.5+0.2 and 0.5+0.1 beat the rest
    assert reasons[0]["reasons"] == [{"feature": "b", "attribution": 0.5},
                                     {"feature": "c", "attribution": -0.2}]  # fmt: skip
    assert [r["feature"] for r in reasons[1]["reasons"]] == ["c", "b"]
    assert reasons[0]["base_value"] == 0.5


def test_a_classifier_without_probabilities_cannot_be_explained_agnostically(
    credit: TrainedModel, tmp_path: Path
) -> None:
    import joblib
    from modelship.server.app import model_input, prepare
    from modelship.server.runtimes import SklearnRuntime
    from sklearn.base import clone
    from sklearn.svm import LinearSVC

    model = clone(credit.model).set_params(classify=LinearSVC())
    model.fit(credit.data[FEATURES], credit.data["label"])
    joblib.dump(model, tmp_path / "model.joblib")
    runtime = SklearnRuntime(tmp_path / "model.joblib")
    served = prepare(runtime, credit.profile)
    with pytest.raises(ExplainUnavailableError, match="has no predict_proba"):
        Explainer(runtime, served.schema, credit.profile, partial(model_input, served),
                  served.classifier)  # fmt: skip
