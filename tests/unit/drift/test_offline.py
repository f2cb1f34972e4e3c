"""`modelship drift` offline: the CLI on CSV and Parquet files, its exit codes, and proof that
it counts rows as the reference server does and scores them with the DriftMonitor's code."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from modelship import cli
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift import offline
from modelship.drift.evaluate import evaluate
from modelship.drift.main import main
from modelship.drift.observed import LiveCounts, parse_vector
from modelship.drift.plan import status_fields
from modelship.drift.queries import PART_LABEL, PARTS
from modelship.profile.build import ProfileOptions, build_profile
from modelship.profile.configmap import configmap_yaml
from modelship.profile.schema import NumericDistribution, Profile
from modelship.server.app import create_app
from modelship.server.metrics import OTHER
from modelship.server.protocol import RequestInput
from modelship.server.schema import InvalidInputError, decode, schema_from_profile
from modelship.server.settings import Settings
from prometheus_client.parser import text_string_to_metric_families
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from starlette.testclient import TestClient

N_REFERENCE = 20_000


def frame(n: int, seed: int, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Three numeric features and a country, from a known distribution; a label."""
    rng = np.random.default_rng(seed)
    shift = shift or {}
    data: dict[str, Any] = {f"x{i}": rng.normal(shift.get(f"x{i}", 0.0), 1.0, n) for i in range(3)}
    data["country"] = rng.choice(["fr", "de", "es"], n, p=[0.5, 0.3, 0.2])
    data["label"] = rng.choice(["approve", "deny"], n, p=[0.7, 0.3])
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def profile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    profile = build_profile(frame(N_REFERENCE, 1), ProfileOptions(target="label", bins=10))
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    path.write_text(profile.to_json())
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def drift_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *argv, "--output", "json")
    assert code != offline.EXIT_USAGE, err
    return code, json.loads(out)


def drifted(status: dict[str, Any]) -> dict[str, Any]:
    condition = offline.condition(status, "Drifted")
    assert condition is not None
    return dict(condition)


# -- the CLI and its exit codes --------------------------------------------------------------


def test_in_distribution_csv_exits_0_and_is_not_drifted(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.csv"
    frame(2_000, 2).to_csv(data, index=False)
    code, status = drift_json(capsys, "--profile", profile_path, "--data", data)
    assert code == offline.EXIT_NOT_DRIFTED
    assert (drifted(status)["status"], drifted(status)["reason"]) == ("False", "NoDrift")
    assert status["phase"] == "Monitoring"
    assert status["samples"] == 2_000
    assert status["datasetDrift"] == {
        "drifted": False,
        "share": 0.0,
        "driftedFeatures": 0,
        "features": 4,
    }
    assert sorted(f["name"] for f in status["features"]) == ["country", "x0", "x1", "x2"]
    assert all(f["severity"] == "none" for f in status["features"])
    assert status["offline"]["predictionColumn"] == "label"
    assert status["offline"]["predictionIsTarget"] is True


def test_two_shifted_features_in_parquet_exit_1_naming_exactly_them(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.parquet"
    frame(2_000, 3, shift={"x0": 1.0, "x2": -1.0}).to_parquet(data)
    code, status = drift_json(capsys, "--profile", profile_path, "--data", data)
    assert code == offline.EXIT_DRIFTED
    assert (drifted(status)["status"], drifted(status)["reason"]) == ("True", "DatasetDrift")
    assert status["phase"] == "Drifted"
    critical = sorted(f["name"] for f in status["features"] if f["severity"] == "critical")
    assert critical == ["x0", "x2"]
    assert status["message"].startswith("2 of 4 features drifted (critical): x")
    assert "x1" not in status["message"]
    assert "country" not in status["message"]


def test_ten_rows_exit_3_without_a_verdict(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "few.csv"
    frame(10, 4, shift={"x0": 5.0, "x1": 5.0, "x2": 5.0}).to_csv(data, index=False)
    code, status = drift_json(capsys, "--profile", profile_path, "--data", data)
    assert code == offline.EXIT_UNKNOWN
    assert (drifted(status)["status"], drifted(status)["reason"]) == ("Unknown", "NotEnoughSamples")
    assert status["samples"] == 10
    assert "features" not in status


def test_a_feature_the_data_lacks_exits_3_naming_it(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "lacking.csv"
    frame(500, 5).drop(columns=["x1"]).to_csv(data, index=False)
    code, status = drift_json(capsys, "--profile", profile_path, "--data", data)
    assert code == offline.EXIT_UNKNOWN
    assert drifted(status)["reason"] == "ProfileMismatch"
    assert "no column for feature x1" in status["message"]
    assert status["offline"]["missingFeatures"] == ["x1"]


def test_a_bad_config_exits_2_naming_each_field(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.csv"
    frame(200, 6).to_csv(data, index=False)
    config = tmp_path / "dm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "modelship.io/v1alpha1",
                "kind": "DriftMonitor",
                "metadata": {"name": "fraud-drift"},
                "spec": {
                    "features": {"default": {"method": "psi", "critical": -1}},
                    "datasetDrift": {"share": 2},
                },
            }
        )
    )
    code, out, err = run(capsys, "--profile", profile_path, "--data", data, "--config", config)
    assert code == offline.EXIT_USAGE
    assert out == ""
    assert "spec.features.default.critical: Input should be greater than or equal to 0" in err
    assert "spec.datasetDrift.share: Input should be less than or equal to 1" in err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"kind": "ModelDeployment", "spec": {}},
            "kind: expected DriftMonitor, not ModelDeployment",
        ),
        ({"minSamples": "many"}, "spec.minSamples: Input should be a valid integer"),
        ({"features": {"colour": "red"}}, "spec.features.colour"),
    ],
)
def test_other_bad_configs_exit_2(
    tmp_path: Path,
    profile_path: Path,
    capsys: pytest.CaptureFixture[str],
    config: dict[str, Any],
    message: str,
) -> None:
    data = tmp_path / "current.csv"
    frame(200, 6).to_csv(data, index=False)
    path = tmp_path / "dm.yaml"
    path.write_text(yaml.safe_dump(config))
    code, _, err = run(capsys, "--profile", profile_path, "--data", data, "--config", path)
    assert code == offline.EXIT_USAGE
    assert message in err


def test_unreadable_inputs_exit_2(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.csv"
    frame(200, 6).to_csv(data, index=False)
    assert run(capsys, "--profile", tmp_path / "none.json", "--data", data)[0] == 2
    assert run(capsys, "--profile", profile_path, "--data", tmp_path / "none.csv")[0] == 2
    assert run(capsys, "--profile", profile_path, "--data", tmp_path / "data.xlsx")[0] == 2
    assert run(capsys, "--profile", profile_path)[0] == 2  # argparse: --data is required
    code, _, err = run(capsys, "--profile", profile_path, "--data", data, "--target", "truth")
    assert code == 2
    assert "--target 'truth': no such column" in err


def test_a_whole_manifest_a_bare_spec_and_a_configmap_profile_agree(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.csv"
    frame(2_000, 7, shift={"x1": 1.0}).to_csv(data, index=False)
    spec = {
        "minSamples": 500,
        "datasetDrift": {"share": 0.25},
        "features": {"overrides": [{"name": "country", "method": "chi2", "critical": 0.01}]},
    }
    bare = tmp_path / "spec.yaml"
    bare.write_text(yaml.safe_dump(spec))
    whole = tmp_path / "dm.yaml"
    whole.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "modelship.io/v1alpha1",
                "kind": "DriftMonitor",
                "metadata": {"name": "fraud-drift", "namespace": "ml"},
                "spec": {"modelDeploymentRef": "fraud", **spec},
            }
        )
    )
    configmap = tmp_path / "profile.yaml"
    configmap.write_text(
        configmap_yaml(Profile.model_validate_json(profile_path.read_text()), "fraud-profile")
    )
    code_bare, from_bare = drift_json(
        capsys, "--profile", profile_path, "--data", data, "--config", bare
    )
    code_whole, from_whole = drift_json(
        capsys, "--profile", configmap, "--data", data, "--config", whole
    )
    assert code_bare == code_whole == offline.EXIT_DRIFTED
    assert from_bare == from_whole
    country = next(f for f in from_bare["features"] if f["name"] == "country")
    assert country["method"] == "chi2"
    assert "pValue" in country


def test_the_table_lists_every_feature_and_the_verdict(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.csv"
    frame(2_000, 8, shift={"x0": 1.0, "x2": -1.0}).to_csv(data, index=False)
    code, out, _ = run(capsys, "--profile", profile_path, "--data", data)
    assert code == offline.EXIT_DRIFTED
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("FEATURE"))
    assert lines[header].split() == [
        "FEATURE",
        "METHOD",
        "SCORE",
        "P-VALUE",
        "SEVERITY",
        "SAMPLES",
        "REASON",
    ]
    rows = [line.split() for line in lines[header + 1 : header + 5]]
    assert sorted(r[0] for r in rows) == ["country", "x0", "x1", "x2"]
    assert {r[0] for r in rows if r[4] == "critical"} == {"x0", "x2"}
    assert all(r[1] == "psi" and r[5] == "2000" for r in rows)
    assert (
        "dataset drift: yes, 2 of 4 features at critical (share 0.5, spec.datasetDrift.share 0.5)"
        in out
    )
    assert lines[-1].startswith("Drifted=True (DatasetDrift): 2 of 4 features drifted")


def test_the_modelship_command_dispatches_drift(
    tmp_path: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "current.csv"
    frame(2_000, 2).to_csv(data, index=False)
    assert cli.main(["drift", "--profile", str(profile_path), "--data", str(data)]) == 0
    assert "Drifted=False (NoDrift)" in capsys.readouterr().out
    cli.main(["--help"])
    assert "drift" in capsys.readouterr().out


# -- counting as the server counts -----------------------------------------------------------


EDGES = [-1.0, 0.0, 1.0]


def training_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": np.tile([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0], 50),
            "age": np.tile([20, 30, 40, 50, 60, 70, 80, 90], 50),
            "country": np.tile(["fr", "de", "fr", "es", "fr", "de", "fr", "es"], 50),
            "label": np.tile(["a", "b"], 200),
        }
    )


def small_profile(allow_unknown: bool = True) -> Profile:
    """x (edges -1, 0, 1; integer ages with an enforced range), a country."""
    train = training_frame()
    options = ProfileOptions(
        target="label",
        enforce_range=["age"],
        bins=4,
        allow_unknown=["country"] if allow_unknown else [],
    )
    profile = build_profile(train, options)
    data = profile.model_dump()
    data["features"][0]["distribution"]["edges"] = EDGES  # round edges, to sit values on them
    data["features"][0]["distribution"]["counts"] = [100, 50, 100, 150]
    data["features"][0]["distribution"]["proportions"] = [0.25, 0.125, 0.25, 0.375]
    return Profile.model_validate(data)


def server_accepts(profile: Profile, row: dict[str, Any]) -> bool:
    """Whether the server's own decoding accepts one row as a one-row request."""
    inputs = []
    for feature in profile.features:
        value = row[feature.name]
        if feature.kind == "categorical":
            text = (
                None
                if value is None or (isinstance(value, float) and math.isnan(value))
                else (str(value))
            )
            inputs.append(RequestInput(name=feature.name, shape=[1], datatype="BYTES", data=[text]))
        else:
            inputs.append(RequestInput(name=feature.name, shape=[1], datatype="FP64", data=[value]))
    try:
        decode(inputs, schema_from_profile(profile))
    except InvalidInputError:
        return False
    return True


SPECIAL_ROWS = [
    # values exactly on edges land in the bin they close (le), as Prometheus buckets do
    {"x": -1.0, "age": 30, "country": "fr"},
    {"x": 0.0, "age": 30, "country": "fr"},
    {"x": 1.0, "age": 30, "country": "de"},
    {"x": 1.0000001, "age": 30, "country": "de"},
    {"x": -7.0, "age": 20, "country": "es"},
    {"x": 7.0, "age": 90, "country": "es"},
    {"x": 0.5, "age": 40, "country": "it"},  # unseen category: __other__ (allow_unknown)
    {"x": float("nan"), "age": 40, "country": "fr"},  # missing number: rejected
    {"x": float("inf"), "age": 40, "country": "fr"},  # not finite: rejected
    {"x": 0.5, "age": 95, "country": "fr"},  # outside the enforced range: rejected
    {"x": 0.5, "age": 40.5, "country": "fr"},  # an integer feature's fraction: rejected
    {"x": 0.5, "age": 40, "country": None},  # missing category: rejected
    {"x": float("nan"), "age": 95, "country": None},  # the first problem is named
]


def test_rows_on_edges_missing_and_unseen_are_counted_as_the_server_counts_them() -> None:
    profile = small_profile()
    data = pd.DataFrame(SPECIAL_ROWS)
    counted = offline.count(profile, data)
    accepted = [server_accepts(profile, row) for row in SPECIAL_ROWS]
    assert counted.accepted == sum(accepted) == 7
    assert counted.live.rows == 7
    assert [(r.feature, r.reason, r.rows) for r in counted.rejections] == [
        ("x", "missingValue", 2),
        ("x", "notANumber", 1),
        ("age", "notInteger", 1),
        ("age", "outOfRange", 1),
        ("country", "missingValue", 1),
    ]
    # -7 and -1 close the first bin, 0 the second, 0.5 and 1 the third; 1.0000001 and 7 are above
    assert counted.live.numeric["x"] == [("-1.0", 2.0), ("0.0", 3.0), ("1.0", 5.0), ("+Inf", 7.0)]
    assert counted.live.categorical["country"] == {"fr": 2.0, "de": 2.0, "es": 2.0, OTHER: 1.0}


def test_bins_agree_with_the_server_and_the_evaluator_tests_helper() -> None:
    """Random values, many exactly on edges: the right-closed bins of numpy's searchsorted
    (side="left"), the helper tests/unit/drift/test_evaluate.py bins with."""
    profile = small_profile()
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.normal(0, 1.5, 500), np.repeat(EDGES, 20)])
    data = pd.DataFrame(
        {"x": values, "age": 30, "country": rng.choice(["fr", "de", "es", "pt"], len(values))}
    )
    live = offline.count(profile, data).live
    expected = np.cumsum(
        np.bincount(np.searchsorted(EDGES, values, side="left"), minlength=len(EDGES) + 1)
    )
    assert [c for _, c in live.numeric["x"]] == expected.tolist()
    assert live.categorical["country"][OTHER] == float((data["country"] == "pt").sum())


def test_unseen_categories_are_rejected_when_the_profile_does_not_allow_them() -> None:
    profile = small_profile(allow_unknown=False)
    data = pd.DataFrame(SPECIAL_ROWS[:7])
    counted = offline.count(profile, data)
    assert [server_accepts(profile, row) for row in SPECIAL_ROWS[:7]].count(False) == 1
    assert [(r.feature, r.reason, r.rows) for r in counted.rejections] == [
        ("country", "unknownCategory", 1)
    ]
    assert counted.live.categorical["country"][OTHER] == 0.0


def test_realised_performance_from_a_prediction_and_a_truth_column() -> None:
    profile = small_profile()
    rng = np.random.default_rng(5)
    n = 400
    data = training_frame()
    data["predicted"] = np.where(rng.random(n) < 0.8, data["label"], "a")
    columns = offline.default_columns(profile, data.columns, prediction="predicted")
    assert (columns.prediction, columns.truth) == ("predicted", "label")
    counted = offline.count(profile, data, columns)
    assert counted.labelled == n
    assert counted.live.correct == float((data["predicted"] == data["label"]).sum())
    spec = DriftMonitorSpec.model_validate(
        {"modelDeploymentRef": "m", "performance": {"metric": "accuracy", "min": 0.99}}
    )
    e = offline.evaluation_of(spec, profile, counted)
    assert e.performance is not None
    assert e.performance.value == pytest.approx((data["predicted"] == data["label"]).mean())
    assert e.degraded
    assert offline.exit_code(e) != offline.exit_code(e, fail_on_degraded=True) == 1


def test_regression_errors_from_a_prediction_and_a_truth_column() -> None:
    rng = np.random.default_rng(9)
    n = 1_000
    train = pd.DataFrame({"x": rng.normal(0, 1, n), "y": rng.normal(10, 2, n)})
    train["yhat"] = train["y"] + rng.normal(0, 0.5, n)
    profile = build_profile(train, ProfileOptions(target="y", prediction="yhat", bins=5))
    counted = offline.count(profile, train)
    assert (counted.columns.prediction, counted.columns.truth) == ("yhat", "y")
    error = train["yhat"] - train["y"]
    assert counted.live.abs_error == pytest.approx(float(error.abs().sum()))
    assert counted.live.squared_error == pytest.approx(float((error**2).sum()))
    assert isinstance(profile.prediction.distribution, NumericDistribution)
    assert counted.live.prediction_buckets[-1] == ("+Inf", float(n))
    spec = DriftMonitorSpec.model_validate(
        {
            "modelDeploymentRef": "m",
            "performance": {"metric": "mae", "max": 1.0},
            "prediction": {"critical": 0.1},
        }
    )
    e = offline.evaluation_of(spec, profile, counted)
    assert e.performance is not None
    assert e.performance.value == pytest.approx(float(error.abs().mean()))
    assert e.prediction is not None
    assert e.prediction.score is not None


# -- the same numbers as a DriftMonitor reading the real server's metrics ---------------------


FEATURES = ["x0", "x1", "age", "country", "channel"]
BULK = 300


@dataclass(frozen=True)
class Served:
    client: TestClient
    profile: Profile
    profile_path: Path
    model: Pipeline


def credit_frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "x0": rng.normal(shift, 1.0, n),
            "x1": rng.normal(0.0, 1.0, n),
            "age": rng.integers(18, 90, n),
            "country": rng.choice(["fr", "de", "es"], n, p=[0.5, 0.3, 0.2]),
            "channel": rng.choice(["web", "shop"], n),
            "gender": rng.choice(["F", "M"], n),
        }
    )
    score = data["x0"] + 0.5 * data["x1"] + np.where(data["country"] == "fr", 0.3, 0.0)
    noise = rng.normal(0.0, 0.7, n)
    data["label"] = np.where(score + noise > 0, "approve", "deny")
    return data


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("served")
    train = credit_frame(4_000, 21)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("cat", OneHotEncoder(handle_unknown="ignore"), ["country", "channel"])],
                    remainder="passthrough",
                ),
            ),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )
    model.fit(train[FEATURES], train["label"])
    train["predicted"] = model.predict(train[FEATURES])
    profile = build_profile(
        train,
        ProfileOptions(
            target="label",
            prediction="predicted",
            exclude=["gender"],
            fairness=["gender"],
            enforce_range=["age"],
            allow_unknown=["country"],
            bins=8,
        ),
    )
    joblib.dump(model, directory / "model.joblib")
    path = directory / "profile.json"
    path.write_text(profile.to_json())
    settings = Settings(
        model_name="credit",
        model_uri=f"file://{directory / 'model.joblib'}",
        model_version="1",
        revision="r1",
        profile_path=str(path),
    )
    app = create_app(settings, load_in_background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(client, profile, path, model)


def current_rows(served: Served) -> pd.DataFrame:
    """In-distribution traffic with one feature shifted, and every case the server treats
    specially: values on the profile's edges, missing values, values out of range, fractions
    of an integer feature, unseen categories allowed and not."""
    data = credit_frame(BULK, 22, shift=0.6)
    x1 = served.profile.feature("x1").distribution
    assert isinstance(x1, NumericDistribution)
    on_edges = data.iloc[: len(x1.edges)].copy()
    on_edges["x1"] = x1.edges
    odd = data.iloc[:8].copy().astype({"age": "float64", "x0": "float64"})
    odd["x0"] = [np.nan, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, np.nan]
    odd["age"] = [30, 200, 30.5, 30, 30, 30, 30, 30]
    odd["country"] = ["fr", "fr", "fr", "it", "pt", None, "de", "de"]
    odd["channel"] = ["web", "web", "web", "web", "web", "web", "phone", "web"]
    odd.loc[odd.index[4], "gender"] = "X"  # a group the profile does not list
    rows = pd.concat([data, on_edges, odd], ignore_index=True)
    clean = rows[FEATURES].fillna({"x0": 0.0, "country": "fr"})
    rows["predicted"] = served.model.predict(clean)
    rows["score"] = served.model.predict_proba(clean)[:, 1]  # of classes_[1], "deny"
    return rows


def _value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def request(rows: pd.DataFrame, rid: str) -> dict[str, Any]:
    n = len(rows)
    inputs = [
        {
            "name": name,
            "shape": [n],
            "datatype": "BYTES" if name in ("country", "channel", "gender") else "FP64",
            "data": [_value(v) for v in rows[name].tolist()],
        }
        for name in [*FEATURES, "gender"]
    ]
    return {"id": rid, "inputs": inputs}


def serve(served: Served, rows: pd.DataFrame, batch: int) -> None:
    """Send `rows` in requests of `batch` rows; ground truth for each answered request."""
    for start in range(0, len(rows), batch):
        part, rid = rows.iloc[start : start + batch], f"r{start}"
        answer = served.client.post("/v2/models/credit/infer", json=request(part, rid))
        assert batch == 1 or answer.status_code == 200, answer.text
        if answer.status_code == 200:  # a client has ground truth for what it was answered
            truth = {"id": rid, "ground_truth": part["label"].tolist()}
            assert served.client.post("/v2/models/credit/feedback", json=truth).status_code == 200


def scraped_counts(text: str) -> LiveCounts:
    """The server's exposition, summed by each part's labels and parsed as the operator
    parses Prometheus' answer to its one query (`modelship.drift.observed.parse_vector`)."""
    by_metric = {metric: (part, by) for part, (metric, by) in PARTS.items()}
    sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in by_metric:
                continue
            part, by = by_metric[sample.name]
            keep = tuple((k, sample.labels[k]) for k in (b.strip() for b in by.split(",")) if k)
            sums[(part, keep)] = sums.get((part, keep), 0.0) + float(sample.value)
    vector = [
        {"metric": {PART_LABEL: part, **dict(labels)}, "value": [0, str(value)]}
        for (part, labels), value in sums.items()
    ]
    return parse_vector(vector)


def test_the_json_is_what_a_driftmonitor_computes_from_the_servers_metrics(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = current_rows(served)
    # One row per request, as `modelship drift` counts a file (the rejected shares need it).
    serve(served, rows.iloc[:BULK], 1)  # in-distribution traffic, x0 shifted
    serve(served, rows.iloc[BULK:], 1)  # each special row its own request
    live = scraped_counts(served.client.get("/metrics").text)
    assert live.rows < len(rows)  # the server rejected some

    data = tmp_path / "current.parquet"
    rows.to_parquet(data)
    spec = {
        "minSamples": 100,
        "features": {"overrides": [{"name": "country", "method": "chi2", "critical": 0.01}]},
        "datasetDrift": {"share": 0.2},
        "prediction": {"method": "jensenShannon", "critical": 0.1},
        "performance": {"metric": "accuracy", "min": 0.7, "minSamples": 50},
        "dataQuality": {"rejected": {"max": 0.001}},
        "fairness": [
            {
                "attribute": "gender",
                "privileged": ["M"],
                "favourable": ["approve"],
                "metric": "statisticalParityDifference",
                "range": {"min": -0.2, "max": 0.2},
            }
        ],
    }
    config = tmp_path / "dm.yaml"
    config.write_text(yaml.safe_dump({"kind": "DriftMonitor", "spec": spec}))
    code, status = drift_json(
        capsys, "--profile", served.profile_path, "--data", data, "--config", config,
        "--score", "score",
    )  # fmt: skip

    # the same counts the server exported...
    columns = offline.default_columns(served.profile, rows.columns)
    counted = offline.count(
        served.profile, pd.read_parquet(data), dataclasses.replace(columns, score="score")
    )
    assert counted.accepted == live.rows == status["samples"]
    assert counted.live.numeric == live.numeric
    assert counted.live.categorical == live.categorical
    assert counted.live.prediction_classes == live.prediction_classes
    assert counted.live.feedback == live.feedback
    assert counted.live.correct == live.correct
    assert counted.live.confusion == live.confusion
    assert counted.live.scores == live.scores
    assert list(live.scores) == ["deny"]
    assert counted.live.fairness == live.fairness
    assert counted.live.fairness_feedback == live.fairness_feedback
    assert counted.live.missing == live.missing == {**dict.fromkeys(FEATURES, 0.0), "x0": 2.0,
                                                    "country": 1.0}  # fmt: skip
    assert counted.live.out_of_range == live.out_of_range
    assert counted.live.rejected == {r: n for r, n in live.rejected.items() if n}
    assert (counted.live.rejected_rows, counted.live.requests) == (
        live.rejected_rows,
        live.requests,
    )
    assert any(group == OTHER for _, group, _ in live.fairness)  # gender X

    # ...and the same evaluation, status fields and verdict as the DriftMonitor's
    monitor = DriftMonitorSpec.model_validate({"modelDeploymentRef": "credit", **spec})
    expected = evaluate(monitor, served.profile, live)
    fields = {k: v for k, v in status_fields(expected, None).items() if v is not None}
    assert {k: status[k] for k in fields} == fields
    assert set(fields) >= {"features", "prediction", "datasetDrift", "performance", "fairness",
                           "dataQuality"}  # fmt: skip
    assert status["dataQuality"]["degraded"] is True  # 1 in 300 rejected is above 0.001
    assert {r["reason"] for r in status["dataQuality"]["rejected"]} == {
        "missingValue",
        "notInteger",
        "outOfRange",
        "unknownCategory",
    }
    assert drifted(status) == {
        "type": "Drifted",
        "status": expected.verdict.value,
        "reason": expected.reason,
        "message": expected.message,
    }
    assert status["message"] == expected.message
    assert code == offline.exit_code(expected)
    assert code == offline.EXIT_DRIFTED  # x0 is shifted
    assert "x0" in expected.critical_features
    assert status["performance"]["samples"] == counted.labelled > 0
    estimated = status["performance"]["estimated"]  # the scores say what accuracy to expect
    assert estimated["samples"] == counted.accepted
    assert estimated["value"] == pytest.approx(status["performance"]["value"], abs=0.1)
