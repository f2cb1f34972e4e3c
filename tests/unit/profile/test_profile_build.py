"""Building the reference profile from a data frame, the ConfigMap form and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from modelship.profile import PROFILE_CONFIGMAP_KEY, Profile, load_profile
from modelship.profile.build import ProfileError, ProfileOptions, build_profile
from modelship.profile.configmap import configmap_manifest
from modelship.profile.main import main
from modelship.profile.schema import CategoricalFeature, NumericFeature


@pytest.fixture
def training() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 400
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50.0, 12.0, n),
            "country": rng.choice(["FR", "DE", "US"], n, p=[0.5, 0.3, 0.2]),
            "gender": rng.choice(["F", "M"], n),
            "customer_id": np.arange(n),
            "label": rng.choice(["approve", "deny"], n),
            "scored": rng.choice(["approve", "deny"], n),
        }
    )


def test_features_types_bins_and_categories(training: pd.DataFrame) -> None:
    profile = build_profile(
        training,
        ProfileOptions(
            target="label", exclude=["customer_id", "scored"], bins=5, enforce_range=["age"]
        ),
    )
    assert [f.name for f in profile.features] == ["age", "income", "country", "gender"]
    age = profile.feature("age")
    assert isinstance(age, NumericFeature)
    assert age.dtype == "integer"
    assert age.enforce_range is not None
    assert (age.enforce_range.min, age.enforce_range.max) == (
        training["age"].min(),
        training["age"].max(),
    )
    income = profile.feature("income")
    assert isinstance(income, NumericFeature)
    assert income.enforce_range is None
    assert len(income.distribution.edges) == 4
    assert sum(income.distribution.counts) == len(training)
    assert sum(income.distribution.proportions) == pytest.approx(1)
    country = profile.feature("country")
    assert isinstance(country, CategoricalFeature)
    assert country.distribution.categories == ["FR", "DE", "US"]  # most frequent first
    expected = training["country"].value_counts()
    assert country.distribution.counts == [int(expected[c]) for c in ["FR", "DE", "US"]]


def test_prediction_defaults_to_the_target_and_can_come_from_a_column(
    training: pd.DataFrame,
) -> None:
    without = build_profile(training, ProfileOptions(target="label"))
    assert without.prediction_source == "target"
    assert without.prediction == without.target
    with_column = build_profile(training, ProfileOptions(target="label", prediction="scored"))
    assert with_column.prediction_source == "column"
    assert with_column.prediction.name == "scored"
    assert "scored" not in [f.name for f in with_column.features]


def test_fairness_attribute_that_is_not_a_model_input(training: pd.DataFrame) -> None:
    profile = build_profile(
        training, ProfileOptions(target="label", fairness=["gender"], exclude=["gender"])
    )
    assert "gender" not in [f.name for f in profile.features]
    [attribute] = profile.fairness
    assert attribute.name == "gender"
    assert sorted(attribute.groups) == ["F", "M"]
    assert attribute.is_feature is False


def test_integer_target_with_few_values_is_a_class_label() -> None:
    data = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "y": [0, 1, 1, 0]})
    profile = build_profile(data, ProfileOptions(target="y"))
    assert profile.target.distribution.kind == "categorical"


def test_float_target_is_numeric() -> None:
    data = pd.DataFrame({"x": np.arange(50.0), "y": np.linspace(0, 1, 50)})
    profile = build_profile(data, ProfileOptions(target="y", bins=4))
    assert profile.target.distribution.kind == "numeric"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ProfileOptions(target="nope"), "column 'nope' not found"),
        (ProfileOptions(target="label", fairness=["race"]), "column 'race' not found"),
    ],
)
def test_errors_name_the_problem(
    training: pd.DataFrame, options: ProfileOptions, message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        build_profile(training, options)


def test_only_target_is_an_error() -> None:
    with pytest.raises(ProfileError, match="no feature columns"):
        build_profile(pd.DataFrame({"y": [1, 2]}), ProfileOptions(target="y"))


def test_configmap_holds_the_profile_json_under_its_key(training: pd.DataFrame) -> None:
    profile = build_profile(training, ProfileOptions(target="label"))
    manifest = configmap_manifest(profile, "fraud-v7-profile", "ml")
    assert manifest["kind"] == "ConfigMap"
    assert manifest["metadata"]["namespace"] == "ml"
    assert Profile.model_validate_json(manifest["data"][PROFILE_CONFIGMAP_KEY]) == profile


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_reads_csv_and_parquet(training: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    data = tmp_path / f"train{suffix}"
    if suffix == ".csv":
        training.to_csv(data, index=False)
    else:
        training.to_parquet(data)
    out = tmp_path / "profile.json"
    argv = ["--data", str(data), "--target", "label", "--fairness", "gender", "--bins", "4"]
    assert main([*argv, "--out", str(out)]) == 0
    profile = load_profile(out)
    assert profile.rows == len(training)
    assert json.loads(out.read_text())["format_version"] == 1


def test_cli_emits_a_configmap(training: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    training.to_csv(data, index=False)
    out = tmp_path / "cm.yaml"
    argv = ["--data", str(data), "--target", "label", "--configmap", "p", "--namespace", "ml"]
    assert main([*argv, "--out", str(out)]) == 0
    manifest = yaml.safe_load(out.read_text())
    assert manifest["metadata"] == {
        "name": "p",
        "namespace": "ml",
        "labels": {"app.kubernetes.io/managed-by": "modelship", "modelship.io/kind": "profile"},
    }
    Profile.model_validate_json(manifest["data"][PROFILE_CONFIGMAP_KEY])


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", "x.csv", "--target", "y", "--namespace", "ml"]) == 2
    assert main(["--data", str(tmp_path / "missing.csv"), "--target", "y"]) == 1
    assert "missing.csv" in capsys.readouterr().err
