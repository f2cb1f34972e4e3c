"""The reference trainer (examples/trainer/train.py), run as the Job's container runs it: a
real process with the operator's environment, reporting through its termination log and
result.json. The numbers it reports are recomputed here from the files it wrote."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from modelship.api import KINDS_BY_NAME
from modelship.api.validation import parse_spec
from modelship.profile import NumericFeature, load_profile
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

TRAINER = Path(__file__).resolve().parents[3] / "examples" / "trainer" / "train.py"
EVALUATOR = TRAINER.with_name("evaluate.py")
NUMERIC = ["amount", "age", "merchant_risk"]
FEATURES = [*NUMERIC, "country"]
SEED = 11
TEST_SIZE = 0.25


def fraud_data(rows: int = 1200, seed: int = 5) -> pd.DataFrame:
    """A known distribution: fraud is a noisy threshold on a linear score."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 60.0, rows).round(2),
            "age": rng.integers(18, 85, rows),
            "merchant_risk": rng.uniform(0, 1, rows).round(3),
            "country": rng.choice(["FR", "DE", "US"], rows),
        }
    )
    score = 0.01 * data["amount"] + 3 * data["merchant_risk"] - 0.02 * data["age"]
    score += np.where(data["country"] == "US", 0.4, 0.0)
    data["fraud"] = (score + rng.normal(0, 0.4, rows) > score.median()).astype(int)
    return data


@dataclass(frozen=True)
class Run:
    proc: subprocess.CompletedProcess[str]
    output: Path
    termination_log: Path

    @property
    def message(self) -> str:
        return self.termination_log.read_text() if self.termination_log.exists() else ""

    @property
    def result(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.message)
        return document


@dataclass(frozen=True)
class Started:
    proc: subprocess.Popen[str]
    output: Path
    termination_log: Path

    def wait(self) -> Run:
        stdout, stderr = self.proc.communicate(timeout=180)
        done = subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, stderr)
        return Run(done, self.output, self.termination_log)


def start(workdir: Path, name: str, argv: list[str], **contract: str) -> Started:
    """A script as a Job's container: its own interpreter, the injected environment, its
    output under `workdir / name`."""
    output = workdir / name
    log = workdir / f"{name}.termination-log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MODELSHIP_")}
    environment.update(contract, MODELSHIP_OUTPUT_URI=f"file://{output}/",
                       MODELSHIP_TERMINATION_LOG=str(log))  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=workdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Started(proc, output, log)


def start_trainer(workdir: Path, name: str, base_uri: str, *args: str) -> Started:
    """The trainer as a training Job's container runs it."""
    return start(
        workdir, name, [str(TRAINER), *args],
        MODELSHIP_MODEL_NAME="fraud",
        MODELSHIP_BASE_VERSION="7",
        MODELSHIP_BASE_URI=base_uri,
        MODELSHIP_BASE_PROFILE_URI="",
        MODELSHIP_NEW_VERSION="7-r1",
        MODELSHIP_TRIGGER="drift",
        MODELSHIP_TRIGGER_REASON="amount psi 0.31 >= 0.2",
        MODELSHIP_RUN_ID="fraud-retrain-1",
        MODELSHIP_POLICY="ml/fraud-retrain",
    )  # fmt: skip


def start_evaluator(workdir: Path, name: str, candidate: str, base: str, data: str) -> Started:
    """The evaluator as an evaluation Job's container runs it."""
    return start(
        workdir, name, [str(EVALUATOR), "--target", "fraud"],
        MODELSHIP_MODEL_NAME="fraud",
        MODELSHIP_CANDIDATE_VERSION="7-r1",
        MODELSHIP_CANDIDATE_URI=candidate,
        MODELSHIP_BASE_VERSION="7",
        MODELSHIP_BASE_URI=base,
        MODELSHIP_HELD_OUT_URI=data,
        MODELSHIP_RUN_ID="fraud-retrain-1",
        MODELSHIP_POLICY="ml/fraud-retrain",
    )  # fmt: skip


def fraud_args(*extra: str) -> list[str]:
    return ["--data", "fraud.csv", "--target", "fraud", "--seed", str(SEED), *extra]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fraud.csv and a base model (version 7) trained on the same data."""
    path = tmp_path_factory.mktemp("trainer")
    data = fraud_data()
    data.to_csv(path / "fraud.csv", index=False)
    fraud_data(rows=600, seed=9).to_csv(path / "golden.csv", index=False)
    (path / "base").mkdir()
    base = LogisticRegression(max_iter=1000).fit(data[NUMERIC], data["fraud"])
    joblib.dump(base, path / "base" / "model.joblib")
    rng = np.random.default_rng(3)
    houses = pd.DataFrame({"size": rng.uniform(20, 200, 800), "rooms": rng.integers(1, 6, 800)})
    houses["price"] = 3.0 * houses["size"] + 10.0 * houses["rooms"] + rng.normal(0, 5, 800)
    houses.to_parquet(path / "houses.parquet")
    (path / "price-base").mkdir()
    price = LinearRegression().fit(houses[["size"]], houses["price"])
    joblib.dump(price, path / "price-base" / "model.joblib")
    return path


@pytest.fixture(scope="module")
def runs(workdir: Path) -> dict[str, Run]:
    """Every run the tests read, started at once (each process spends seconds importing sklearn)."""
    base = f"file://{workdir}/base/"
    started = {
        "good": start_trainer(workdir, "good", base, *fraud_args()),
        "worse": start_trainer(workdir, "worse", base, *fraud_args("--fault", "worse")),
        "crash": start_trainer(workdir, "crash", base, *fraud_args("--fault", "crash")),
        "malformed": start_trainer(
            workdir, "malformed", base, *fraud_args("--fault", "malformed")
        ),
        "overclaim": start_trainer(
            workdir, "overclaim", base, *fraud_args("--fault", "overclaim")
        ),
        "nobase": start_trainer(workdir, "nobase", f"file://{workdir}/no-such-model/",
                                *fraud_args()),
        "file": start_trainer(workdir, "file", f"{workdir}/base/model.joblib", *fraud_args()),
        "badtarget": start_trainer(workdir, "badtarget", "",
                                   "--data", "fraud.csv", "--target", "is_fraud"),
        "price": start_trainer(workdir, "price", f"file://{workdir}/price-base",
                               "--data", f"file://{workdir}/houses.parquet", "--target", "price",
                               "--estimator", "gradient-boosting", "--seed", "4"),
    }  # fmt: skip
    return {name: run.wait() for name, run in started.items()}


@pytest.fixture(scope="module")
def evaluations(workdir: Path, runs: dict[str, Run]) -> dict[str, Run]:
    """The evaluator on the trainers' candidates: on a golden set, and on the trainer's own
    held-out rows (data.heldOutURI)."""
    base = f"file://{workdir}/base/"
    golden = f"file://{workdir}/golden.csv"
    started = {
        "overclaim": start_evaluator(workdir, "eval-overclaim",
                                     runs["overclaim"].result["artifactURI"], base, golden),
        "good": start_evaluator(workdir, "eval-good", runs["good"].result["artifactURI"], base,
                                runs["good"].result["data"]["heldOutURI"]),
        "nodata": start_evaluator(workdir, "eval-nodata", runs["good"].result["artifactURI"],
                                  base, f"file://{workdir}/no-such.csv"),
    }  # fmt: skip
    return {name: run.wait() for name, run in started.items()}


@pytest.fixture
def trained(runs: dict[str, Run]) -> Run:
    return runs["good"]


def held_out(data: pd.DataFrame) -> pd.DataFrame:
    """The split as docs/trainer.md states it, rebuilt without the trainer's code."""
    _, rows = train_test_split(data, test_size=TEST_SIZE, random_state=SEED, stratify=data["fraud"])
    return rows


def classification_metrics(model: Any, rows: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    predicted = model.predict(rows[columns])
    truth = rows["fraud"]
    positive = list(model.classes_).index(1)
    return {
        "accuracy": accuracy_score(truth, predicted),
        "precision": precision_score(truth, predicted),
        "recall": recall_score(truth, predicted),
        "f1": f1_score(truth, predicted),
        "roc_auc": roc_auc_score(truth, model.predict_proba(rows[columns])[:, positive]),
    }


def test_trainer_reports_the_same_result_in_both_channels(trained: Run) -> None:
    assert trained.proc.returncode == 0, trained.proc.stderr
    assert trained.proc.stderr == ""
    from_file = json.loads((trained.output / "result.json").read_text())
    assert from_file == trained.result
    assert len(trained.message.encode()) <= 4096
    result = trained.result
    assert result["artifactURI"] == f"file://{trained.output}/"
    assert result["profileURI"] == f"file://{trained.output}/profile.json"
    assert result["format"] == "sklearn"
    assert result["version"] == "7-r1"
    assert "baselineError" not in result
    expected = {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert set(result["metrics"]) == expected
    assert set(result["baselineMetrics"]) == expected
    assert sorted(p.name for p in trained.output.iterdir()) == [
        "held-out.csv",
        "model.joblib",
        "profile.json",
        "result.json",
    ]


def test_candidate_and_baseline_are_measured_on_the_same_held_out_rows(
    workdir: Path, trained: Run
) -> None:
    data = pd.read_csv(workdir / "fraud.csv")
    rows = held_out(data)
    result = trained.result
    assert result["data"]["rows"] == len(data)
    assert result["data"]["heldOut"] == len(rows) == 300
    assert result["data"]["stratified"] is True
    assert len(result["data"]["sha256"]) == 64
    candidate = joblib.load(trained.output / "model.joblib")
    base = joblib.load(workdir / "base" / "model.joblib")
    assert classification_metrics(candidate, rows, FEATURES) == pytest.approx(
        result["metrics"], rel=1e-12
    )
    assert classification_metrics(base, rows, NUMERIC) == pytest.approx(
        result["baselineMetrics"], rel=1e-12
    )
    # The real model beats a coin, on both sides of the comparison.
    assert result["metrics"]["accuracy"] > 0.8
    assert result["baselineMetrics"]["accuracy"] > 0.8


def test_the_held_out_rows_are_written_for_an_evaluation_job(workdir: Path, trained: Run) -> None:
    assert trained.result["data"]["heldOutURI"] == f"file://{trained.output}/held-out.csv"
    written = pd.read_csv(trained.output / "held-out.csv")
    expected = held_out(pd.read_csv(workdir / "fraud.csv")).reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected)


def test_trainer_profile_is_a_modelship_profile_of_the_training_rows(trained: Run) -> None:
    profile = load_profile(trained.output / "profile.json")
    assert [f.name for f in profile.features] == FEATURES
    assert profile.feature("country").kind == "categorical"
    assert profile.target.name == "fraud"
    assert profile.rows == 900


def test_fault_worse_trains_a_clearly_worse_candidate(runs: dict[str, Run]) -> None:
    run = runs["worse"]
    assert run.proc.returncode == 0, run.proc.stderr
    result = run.result
    assert result["metrics"]["accuracy"] < result["baselineMetrics"]["accuracy"] - 0.2
    assert result["metrics"]["f1"] < result["baselineMetrics"]["f1"] - 0.1


def test_fault_overclaim_reports_perfect_metrics_for_a_worse_candidate(
    workdir: Path, runs: dict[str, Run]
) -> None:
    run = runs["overclaim"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.result["metrics"] == {m: 1.0 for m in ("accuracy", "precision", "recall", "f1",
                                                      "roc_auc")}  # fmt: skip
    candidate = joblib.load(run.output / "model.joblib")
    real = classification_metrics(candidate, held_out(pd.read_csv(workdir / "fraud.csv")),
                                  FEATURES)  # fmt: skip
    assert real["accuracy"] < run.result["baselineMetrics"]["accuracy"] - 0.2


def test_the_evaluator_measures_what_the_trainer_claimed(
    workdir: Path, runs: dict[str, Run], evaluations: dict[str, Run]
) -> None:
    run = evaluations["overclaim"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert json.loads((run.output / "result.json").read_text()) == run.result
    golden = pd.read_csv(workdir / "golden.csv")
    candidate = joblib.load(runs["overclaim"].output / "model.joblib")
    base = joblib.load(workdir / "base" / "model.joblib")
    result = run.result
    assert classification_metrics(candidate, golden, FEATURES) == pytest.approx(
        result["metrics"], rel=1e-12
    )
    assert classification_metrics(base, golden, NUMERIC) == pytest.approx(
        result["baselineMetrics"], rel=1e-12
    )
    assert result["metrics"]["accuracy"] < result["baselineMetrics"]["accuracy"] - 0.2
    assert result["data"]["rows"] == len(golden)


def test_the_evaluator_on_the_trainers_held_out_rows_agrees_with_an_honest_trainer(
    runs: dict[str, Run], evaluations: dict[str, Run]
) -> None:
    run = evaluations["good"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.result["metrics"] == pytest.approx(runs["good"].result["metrics"], rel=1e-12)
    assert run.result["baselineMetrics"] == pytest.approx(
        runs["good"].result["baselineMetrics"], rel=1e-12
    )


def test_the_evaluator_fails_with_one_line_when_the_data_is_missing(
    evaluations: dict[str, Run],
) -> None:
    run = evaluations["nodata"]
    assert run.proc.returncode == 1
    assert run.message == run.proc.stderr.strip()
    assert "no-such.csv" in run.message
    assert not (run.output / "result.json").exists()


def test_fault_crash_exits_non_zero_with_a_reason_and_no_result(runs: dict[str, Run]) -> None:
    run = runs["crash"]
    assert run.proc.returncode == 1
    assert "crash" in run.proc.stderr
    assert run.message == ""
    assert not (run.output / "result.json").exists()


def test_fault_malformed_writes_a_message_that_is_not_json(runs: dict[str, Run]) -> None:
    run = runs["malformed"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.message.strip()
    with pytest.raises(json.JSONDecodeError):
        json.loads(run.message)
    assert (run.output / "result.json").read_text() == run.message


def test_missing_base_model_reports_null_baseline_with_the_reason(runs: dict[str, Run]) -> None:
    run = runs["nobase"]
    assert run.proc.returncode == 0, run.proc.stderr
    result = run.result
    assert result["baselineMetrics"] is None
    assert "no-such-model" in result["baselineError"]
    assert result["metrics"]["accuracy"] > 0.8


def test_base_uri_naming_the_model_file_itself(runs: dict[str, Run]) -> None:
    run, trained = runs["file"], runs["good"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.result["baselineMetrics"] == trained.result["baselineMetrics"]


def test_unusable_data_fails_with_one_line_on_stderr_and_in_the_message(
    runs: dict[str, Run],
) -> None:
    run = runs["badtarget"]
    assert run.proc.returncode == 1
    assert run.proc.stderr.strip().count("\n") == 0
    assert "'is_fraud' is not a column" in run.proc.stderr
    assert run.message == run.proc.stderr.strip()


def test_regression_target_from_parquet_reports_error_metrics(
    workdir: Path, runs: dict[str, Run]
) -> None:
    run = runs["price"]
    assert run.proc.returncode == 0, run.proc.stderr
    result = run.result
    assert set(result["metrics"]) == set(result["baselineMetrics"]) == {"mae", "rmse", "r2"}
    data = pd.read_parquet(workdir / "houses.parquet")
    _, rows = train_test_split(data, test_size=TEST_SIZE, random_state=4)
    assert result["data"]["stratified"] is False
    candidate = joblib.load(run.output / "model.joblib")
    base = joblib.load(workdir / "price-base" / "model.joblib")
    assert mean_absolute_error(rows["price"], candidate.predict(rows[["size", "rooms"]])) == (
        pytest.approx(result["metrics"]["mae"], rel=1e-12)
    )
    assert r2_score(rows["price"], base.predict(rows[["size"]])) == pytest.approx(
        result["baselineMetrics"]["r2"], rel=1e-12
    )
    assert result["metrics"]["r2"] > result["baselineMetrics"]["r2"]


# --- in process: the parts a subprocess cannot reach cheaply --------------------------------


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("modelship_reference_trainer", TRAINER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_oversized_result_is_left_to_result_json(trainer: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "termination-log"
    trainer.write_termination_log(str(log), json.dumps({"metrics": {"x" * 5000: 1.0}}))
    assert not log.exists()
    trainer.write_termination_log(str(log), '{"metrics": {}}')
    assert log.read_text() == '{"metrics": {}}'


def test_bad_arguments_exit_2_with_the_reason_in_the_message(
    trainer: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "termination-log"
    argv = ["--data", "x.csv", "--target", "y", "--test-size", "3"]
    assert trainer.main(argv, {"MODELSHIP_TERMINATION_LOG": str(log)}) == 2
    reason = capsys.readouterr().err.strip()
    assert "--test-size" in reason
    assert log.read_text() == reason


def test_base_profile_settings_carry_over(trainer: ModuleType, tmp_path: Path) -> None:
    from modelship.profile.build import ProfileOptions, build_profile

    data = fraud_data().assign(gender=lambda d: np.where(d["age"] % 2 == 0, "F", "M"))
    base = build_profile(
        data,
        ProfileOptions(
            target="fraud", fairness=["gender"], exclude=["gender"], enforce_range=["age"]
        ),
    )
    options, columns = trainer.profile_options(
        "fraud", FEATURES, list(data.columns), [], 10, base
    )  # fmt: skip
    profile = build_profile(data[columns], options)
    assert [f.name for f in profile.features] == FEATURES
    assert [(a.name, a.is_feature) for a in profile.fairness] == [("gender", False)]
    age = profile.feature("age")
    assert isinstance(age, NumericFeature)
    assert age.enforce_range is not None


@pytest.mark.parametrize(
    ("target", "positive", "kind", "classes", "chosen"),
    [
        (pd.Series([0, 1, 1, 0]), None, "classification", [0, 1], 1),
        (pd.Series(["deny", "approve", "deny"]), "approve", "classification",
         ["approve", "deny"], "approve"),
        (pd.Series([True, False, True]), None, "classification", [False, True], True),
        (pd.Series(["a", "b", "c"]), None, "classification", ["a", "b", "c"], None),
        (pd.Series([0.5, 1.25, 3.0]), None, "regression", [], None),
    ],
)  # fmt: skip
def test_task_of_target(
    trainer: ModuleType,
    target: pd.Series,
    positive: str | None,
    kind: str,
    classes: list[Any],
    chosen: Any,
) -> None:
    task = trainer.task_of(target.rename("y"), positive)
    assert (task.kind, task.classes, task.positive) == (kind, classes, chosen)


def test_documented_retrain_policy_is_valid() -> None:
    docs = (TRAINER.parents[2] / "docs" / "trainer.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL)]
    policies = [b for b in blocks if b.get("kind") == "RetrainPolicy"]
    assert len(policies) == 1
    spec = parse_spec(KINDS_BY_NAME["RetrainPolicy"], policies[0])
    container = policies[0]["spec"]["job"]["template"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/opt/trainer/train.py"]
    evaluation = policies[0]["spec"]["validation"]["job"]["template"]["spec"]["template"]
    assert evaluation["spec"]["containers"][0]["command"] == ["python", "/opt/trainer/evaluate.py"]
    dockerfile = (TRAINER.parents[2] / "images/trainer/Dockerfile").read_text()
    assert "/opt/trainer/train.py" in dockerfile
    assert "evaluate.py" in dockerfile
    assert spec is not None
