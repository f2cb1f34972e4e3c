"""The modelship reference trainer: scikit-learn, champion/challenger on one held-out split.

Run by a RetrainPolicy's Job (docs/trainer.md), or by hand:

    MODELSHIP_OUTPUT_URI=file:///tmp/run/ MODELSHIP_NEW_VERSION=dev \\
    MODELSHIP_BASE_URI=file:///models/fraud/7/ MODELSHIP_TERMINATION_LOG=/tmp/run.msg \\
        python examples/trainer/train.py --data fraud.csv --target is_fraud

It reads the data (CSV or Parquet, through fsspec), splits it into training and held-out
rows with the seed, trains the candidate, evaluates the candidate and the serving (base) model
on the same held-out rows, and writes model.joblib, profile.json, held-out.csv and result.json
to MODELSHIP_OUTPUT_URI. The result document also goes to the termination message.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import posixpath
import sys
import traceback
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import joblib
import numpy as np
import pandas as pd
from modelship.profile.binning import DEFAULT_BINS
from modelship.profile.build import (
    ProfileError,
    ProfileOptions,
    build_profile,
    category_label,
    is_categorical,
)
from modelship.profile.schema import CategoricalFeature, NumericFeature, Profile
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

MODEL_FILE = "model.joblib"
PROFILE_FILE = "profile.json"
RESULT_FILE = "result.json"
HELD_OUT_FILE = "held-out.csv"
# Names a base model directory is searched for, in order (the reference server's order).
BASE_MODEL_FILES = ("model.joblib", "model.pkl", "model.pickle")
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
# Kubernetes keeps at most this many bytes of a termination message.
TERMINATION_LIMIT = 4096
ESTIMATORS = ("logistic", "gradient-boosting", "random-forest")
FAULTS = ("worse", "crash", "malformed", "overclaim")
CSV_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}
PARQUET_SUFFIXES = (".parquet", ".pq")
MALFORMED = "this is not JSON: the reference trainer's --fault malformed test hook"
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse", "r2")
# What --fault overclaim reports: the best value each metric can have.
PERFECT = {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0,
           "mae": 0.0, "rmse": 0.0, "r2": 1.0}  # fmt: skip


class TrainerError(Exception):
    """The run cannot complete; the message is the one-line reason reported."""


@dataclass(frozen=True)
class Contract:
    """The environment the operator injects into the training container."""

    model_name: str
    base_version: str
    base_uri: str
    base_profile_uri: str
    new_version: str
    output_uri: str
    trigger: str
    trigger_reason: str
    run_id: str
    policy: str
    termination_log: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Contract:
        def get(name: str) -> str:
            return env.get(f"MODELSHIP_{name}", "").strip()

        output = get("OUTPUT_URI")
        if not output:
            raise TrainerError("MODELSHIP_OUTPUT_URI is not set: where should the model go?")
        version = get("NEW_VERSION")
        if not version:
            raise TrainerError("MODELSHIP_NEW_VERSION is not set")
        log = env.get("MODELSHIP_TERMINATION_LOG", "").strip()
        if not log and os.path.exists(DEFAULT_TERMINATION_LOG):
            log = DEFAULT_TERMINATION_LOG
        return cls(
            model_name=get("MODEL_NAME"),
            base_version=get("BASE_VERSION"),
            base_uri=get("BASE_URI"),
            base_profile_uri=get("BASE_PROFILE_URI"),
            new_version=version,
            output_uri=output if output.endswith("/") else output + "/",
            trigger=get("TRIGGER"),
            trigger_reason=get("TRIGGER_REASON"),
            run_id=get("RUN_ID"),
            policy=get("POLICY"),
            termination_log=log or None,
        )


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _test_size(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, not {text}")
    return value


class UsageError(TrainerError):
    """The arguments are wrong (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{message} (see --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="train.py",
        description="modelship reference trainer (scikit-learn). The environment the "
        "operator injects says where the base model is and where to write (docs/trainer.md).",
    )
    p.add_argument("--data", required=True, metavar="URI", help="CSV or Parquet file or folder")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the label column")
    p.add_argument(
        "--features", type=_names, metavar="A,B,C", help="model inputs (default: all but target)"
    )
    p.add_argument("--test-size", type=_test_size, default=0.25, help="held-out fraction")
    p.add_argument("--seed", type=int, default=0, help="seeds the split and the estimator")
    p.add_argument("--estimator", choices=ESTIMATORS, default="logistic")
    p.add_argument(
        "--positive-class",
        metavar="LABEL",
        help="binary target: the class precision, recall, f1 and roc_auc are about "
        "(default: the greater of the two labels, e.g. 1, true)",
    )
    p.add_argument(
        "--fairness",
        type=_names,
        default=[],
        metavar="A,B",
        help="group attributes recorded in the profile (added to the base profile's)",
    )
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="profile bins per feature")
    p.add_argument(
        "--fault", choices=FAULTS, help="test hook: worse, crash, malformed or overclaim"
    )
    return p


def say(message: str) -> None:
    print(f"train: {message}", flush=True)


# --- data ------------------------------------------------------------------------------------


def _is_data_file(path: str) -> bool:
    name = path.lower()
    for suffix in CSV_COMPRESSION:
        name = name.removesuffix(suffix)
    return name.endswith((".csv", ".txt", *PARQUET_SUFFIXES))


def _parse(name: str, raw: bytes) -> pd.DataFrame:
    lower = name.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return pd.read_parquet(io.BytesIO(raw))
    compression = next((c for s, c in CSV_COMPRESSION.items() if lower.endswith(s)), None)
    return pd.read_csv(io.BytesIO(raw), compression=compression)


def read_data(uri: str) -> tuple[pd.DataFrame, str]:
    """The data at `uri` (a file, or a folder of data files read in name order) and the
    sha256 of the bytes read."""
    try:
        fs, path = fsspec.core.url_to_fs(uri)
        if fs.isdir(path):
            files = sorted(f for f in fs.find(path) if _is_data_file(f))
            if not files:
                raise TrainerError(f"--data {uri}: a folder without .csv or .parquet files")
        elif fs.exists(path):
            files = [path]
        else:
            raise TrainerError(f"--data {uri}: does not exist")
        digest = hashlib.sha256()
        frames = []
        for name in files:
            with fs.open(name, "rb") as handle:
                raw = handle.read()
            digest.update(raw)
            frames.append(_parse(name, raw))
    except ImportError as err:
        raise TrainerError(f"--data {uri}: no fsspec backend for this scheme ({err})") from None
    except (OSError, ValueError) as err:
        raise TrainerError(f"--data {uri}: cannot read it: {err}") from None
    data = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return data, digest.hexdigest()


def as_served(series: pd.Series) -> pd.Series:
    """A categorical column as the reference server hands it to the model: string labels."""
    if not is_categorical(series):
        return series
    return series.map(lambda v: category_label(v) if pd.notna(v) else np.nan).astype(object)


@dataclass(frozen=True)
class Task:
    kind: str  # classification | regression
    classes: list[Any]  # sorted class labels (classification)
    positive: Any = None  # binary classification: the positive class

    @property
    def binary(self) -> bool:
        return self.kind == "classification" and len(self.classes) == 2


def task_of(target: pd.Series, positive: str | None) -> Task:
    """Classification for strings, booleans and integer labels with few values (the rule
    the profile uses for its target); regression otherwise."""
    if not is_categorical(target, label=True):
        if positive is not None:
            raise TrainerError("--positive-class is for a binary target, not regression")
        return Task("regression", [])
    classes = sorted(pd.unique(target).tolist())
    if len(classes) < 2:
        raise TrainerError(f"target {target.name!r} has a single class: {classes}")
    if len(classes) != 2:
        if positive is not None:
            raise TrainerError(f"--positive-class needs a binary target; it has {len(classes)}")
        return Task("classification", classes)
    if positive is None:
        return Task("classification", classes, classes[1])
    chosen = [c for c in classes if category_label(c) == positive]
    if not chosen:
        labels = [category_label(c) for c in classes]
        raise TrainerError(f"--positive-class {positive!r} is not one of {labels}")
    return Task("classification", classes, chosen[0])


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    held_out: pd.DataFrame
    stratified: bool


def split(data: pd.DataFrame, target: str, test_size: float, seed: int, task: Task) -> Split:
    """train_test_split(data, test_size, random_state=seed), stratified by the target for
    classification when every class can be (unstratified otherwise)."""
    if task.kind == "classification":
        try:
            train, held_out = train_test_split(
                data, test_size=test_size, random_state=seed, stratify=data[target]
            )
            return Split(train, held_out, True)
        except ValueError:
            pass
    train, held_out = train_test_split(data, test_size=test_size, random_state=seed)
    return Split(train, held_out, False)


# --- models ----------------------------------------------------------------------------------


def build_estimator(
    name: str, task: Task, numeric: Sequence[str], categorical: Sequence[str], seed: int
) -> Pipeline:
    """Impute, one-hot encode categories (scale numbers for the linear model), then fit."""
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if name == "logistic":
        numeric_steps.append(("scale", StandardScaler()))
    columns: list[tuple[str, Any, list[str]]] = []
    if numeric:
        columns.append(("numeric", Pipeline(numeric_steps), list(numeric)))
    if categorical:
        encode = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        columns.append(("categorical", encode, list(categorical)))
    classify = task.kind == "classification"
    model: Any
    if name == "logistic":
        model = LogisticRegression(max_iter=2000, random_state=seed) if classify else Ridge()
    elif name == "gradient-boosting":
        model = (GradientBoostingClassifier if classify else GradientBoostingRegressor)(
            random_state=seed
        )
    else:
        model = (RandomForestClassifier if classify else RandomForestRegressor)(
            n_estimators=200, random_state=seed
        )
    return Pipeline([("prepare", ColumnTransformer(columns)), ("model", model)])


def positive_scores(model: Any, features: pd.DataFrame, positive: Any) -> Any:
    """Scores for the positive class (probability, else decision function), None if the
    model has neither or does not know the class."""
    classes = list(getattr(model, "classes_", []))
    if positive not in classes:
        return None
    index = classes.index(positive)
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(features))[:, index]
    if hasattr(model, "decision_function") and len(classes) == 2:
        scores = np.asarray(model.decision_function(features))
        return scores if index == 1 else -scores
    return None


def evaluate(model: Any, features: pd.DataFrame, truth: pd.Series, task: Task) -> dict[str, float]:
    """The task's metrics of `model` on these rows; a metric undefined on them is left out."""
    predicted = model.predict(features)
    metrics: dict[str, float] = {}
    if task.kind == "regression":
        metrics["mae"] = mean_absolute_error(truth, predicted)
        metrics["rmse"] = math.sqrt(mean_squared_error(truth, predicted))
        metrics["r2"] = r2_score(truth, predicted)
    else:
        metrics["accuracy"] = accuracy_score(truth, predicted)
        if task.binary:
            averaging: dict[str, Any] = {"pos_label": task.positive, "average": "binary"}
        else:
            averaging = {"average": "macro", "labels": task.classes}
        metrics["precision"] = precision_score(truth, predicted, zero_division=0, **averaging)
        metrics["recall"] = recall_score(truth, predicted, zero_division=0, **averaging)
        metrics["f1"] = f1_score(truth, predicted, zero_division=0, **averaging)
        if task.binary and truth.nunique() == 2:
            scores = positive_scores(model, features, task.positive)
            if scores is not None:
                metrics["roc_auc"] = roc_auc_score(truth == task.positive, scores)
    return {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}


def load_model(uri: str) -> Any:
    """A model: `model.joblib` in the folder `uri` names, or the file `uri` names."""
    try:
        fs, path = fsspec.core.url_to_fs(uri)
        if fs.isdir(path):
            found = [f"{path.rstrip('/')}/{n}" for n in BASE_MODEL_FILES]
            found = [f for f in found if fs.isfile(f)]
            if not found:
                raise TrainerError(f"{uri} holds none of {', '.join(BASE_MODEL_FILES)}")
            path = found[0]
        with fs.open(path, "rb") as handle:
            model = joblib.load(handle)
    except TrainerError:
        raise
    except ImportError as err:
        raise TrainerError(f"cannot read {uri}: no fsspec backend or module ({err})") from None
    except Exception as err:  # noqa: BLE001 - unpickling a bad file raises anything; reported
        raise TrainerError(f"cannot load {uri}: {type(err).__name__}: {err}") from None
    if not hasattr(model, "predict"):
        raise TrainerError(f"{uri}: {type(model).__name__} has no predict method")
    return model


def evaluate_base(
    uri: str, held_out: pd.DataFrame, features: Sequence[str], target: str, task: Task
) -> tuple[dict[str, float] | None, str]:
    """The base model's metrics on the held-out rows, or None and why not."""
    try:
        if not uri:
            raise TrainerError("MODELSHIP_BASE_URI is empty: there is no serving model to compare")
        model = load_model(uri)
        names = getattr(model, "feature_names_in_", None)
        columns = [str(n) for n in names] if names is not None else list(features)
        missing = [c for c in columns if c not in held_out.columns]
        if missing:
            raise TrainerError(f"the base model needs columns the data lacks: {missing}")
        return evaluate(model, held_out[columns], held_out[target], task), ""
    except TrainerError as err:
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - a base model that cannot predict is reported
        return None, f"the base model failed on the held-out data: {type(err).__name__}: {err}"


# --- profile ---------------------------------------------------------------------------------


def base_profile(uri: str) -> Profile | None:
    """The serving model's profile, whose fairness and range settings the new one keeps."""
    if not uri:
        return None
    try:
        with fsspec.open(uri, "rb") as handle:
            return Profile.model_validate_json(handle.read())
    except Exception as err:  # noqa: BLE001 - optional input: warn and go on without it
        print(f"train: warning: base profile {uri} not used: {err}", file=sys.stderr)
        return None


def profile_options(
    target: str,
    features: Sequence[str],
    columns: Sequence[str],
    fairness: Sequence[str],
    bins: int,
    base: Profile | None,
) -> tuple[ProfileOptions, list[str]]:
    """Options for the new profile and the columns it is built from: the features, the
    target, and group attributes (from --fairness and the base profile, when in the data)."""
    inherited = base.fairness if base else []
    groups = list(dict.fromkeys([*(a.name for a in inherited), *fairness]))
    groups = [g for g in groups if g in columns and g != target]
    enforce = set[str]()
    unknown = set[str]()
    for feature in base.features if base else []:
        if isinstance(feature, NumericFeature) and feature.enforce_range:
            enforce.add(feature.name)
        if isinstance(feature, CategoricalFeature) and feature.allow_unknown:
            unknown.add(feature.name)
    extra = [g for g in groups if g not in features]
    options = ProfileOptions(
        target=target,
        fairness=groups,
        exclude=extra,
        enforce_range=[f for f in features if f in enforce],
        allow_unknown=[f for f in features if f in unknown],
        bins=bins,
    )
    return options, [*features, *extra, target]


# --- output ----------------------------------------------------------------------------------


def write_outputs(output_uri: str, files: Mapping[str, bytes]) -> None:
    """Write each file under the output URI, in order (result.json last: its presence means
    the rest is there)."""
    try:
        fs, root = fsspec.core.url_to_fs(output_uri)
        fs.makedirs(root, exist_ok=True)
        for name, content in files.items():
            with fs.open(posixpath.join(root, name), "wb") as handle:
                handle.write(content)
    except ImportError as err:
        raise TrainerError(f"cannot write {output_uri}: no fsspec backend ({err})") from None
    except (OSError, ValueError) as err:
        raise TrainerError(f"cannot write {output_uri}: {err}") from None


def write_termination_log(path: str | None, text: str) -> None:
    """The termination message; never more than Kubernetes keeps (then result.json is read)."""
    if path is None:
        return
    if len(text.encode()) > TERMINATION_LIMIT:
        print(
            f"train: warning: result is over {TERMINATION_LIMIT} bytes: not written to {path}; "
            f"the operator reads {RESULT_FILE} at the output URI",
            file=sys.stderr,
        )
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        print(f"train: warning: cannot write termination log {path}: {err}", file=sys.stderr)


def clip(text: str) -> str:
    """At most TERMINATION_LIMIT bytes of UTF-8."""
    return text.encode()[:TERMINATION_LIMIT].decode(errors="ignore")


def result_document(
    contract: Contract,
    metrics: dict[str, float],
    baseline: dict[str, float] | None,
    baseline_error: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "metrics": metrics,
        "baselineMetrics": baseline,
        "artifactURI": contract.output_uri,
        "profileURI": contract.output_uri + PROFILE_FILE,
        "data": data,
        "format": "sklearn",
        "version": contract.new_version,
        "baselineVersion": contract.base_version,
    }
    if baseline is None:
        document["baselineError"] = baseline_error
    return document


# --- the run ---------------------------------------------------------------------------------


def train(args: argparse.Namespace, contract: Contract) -> str:
    """Train, evaluate, write the outputs; the text of the result."""
    say(f"run {contract.run_id or '-'} of {contract.policy or '-'}: {contract.trigger or '-'}")
    data, sha256 = read_data(args.data)
    if args.target not in data.columns:
        raise TrainerError(f"--target {args.target!r} is not a column: {list(data.columns)}")
    data = data.dropna(subset=[args.target]).reset_index(drop=True)
    if len(data) < 4:
        raise TrainerError(f"{args.data}: {len(data)} rows with a target; too few to train")
    base = base_profile(contract.base_profile_uri)
    hidden = {a.name for a in base.fairness if not a.is_feature} if base else set()
    if args.features:
        features = list(args.features)
        missing = [f for f in features if f not in data.columns]
        if missing:
            raise TrainerError(f"--features not in the data: {missing}")
        if args.target in features:
            raise TrainerError("--features must not include the target")
    else:
        features = [str(c) for c in data.columns if c != args.target and c not in hidden]
    if not features:
        raise TrainerError("no feature columns")
    for column in data.columns:
        if column != args.target:
            data[column] = as_served(data[column])
    task = task_of(data[args.target], args.positive_class)
    parts = split(data, args.target, args.test_size, args.seed, task)
    say(f"read {len(data)} rows from {args.data}: {len(parts.train)} to train on, "
        f"{len(parts.held_out)} held out ({task.kind})")  # fmt: skip

    categorical = [f for f in features if is_categorical(data[f])]
    numeric = [f for f in features if f not in categorical]
    model = build_estimator(args.estimator, task, numeric, categorical, args.seed)
    labels = parts.train[args.target]
    if args.fault in ("worse", "overclaim"):
        shuffled = np.random.default_rng(args.seed).permutation(labels.to_numpy())
        labels = pd.Series(shuffled, index=labels.index, name=args.target)
        say(f"fault {args.fault}: training on shuffled labels")
    try:
        model.fit(parts.train[features], labels)
    except ValueError as err:
        raise TrainerError(f"training failed: {err}") from None
    metrics = evaluate(model, parts.held_out[features], parts.held_out[args.target], task)
    say(f"candidate {contract.new_version}: {metrics}")
    if args.fault == "overclaim":
        metrics = {name: PERFECT[name] for name in metrics}
        say(f"fault overclaim: reporting {metrics}")
    baseline, baseline_error = evaluate_base(
        contract.base_uri, parts.held_out, features, args.target, task
    )
    if baseline is None:
        say(f"no baseline: {baseline_error}")
    else:
        say(f"base {contract.base_version or '-'}: {baseline}")

    options, profiled = profile_options(
        args.target, features, list(data.columns), args.fairness, args.bins, base
    )
    try:
        profile = build_profile(parts.train[profiled], options)
    except ProfileError as err:
        raise TrainerError(f"cannot build the profile: {err}") from None

    data_record: dict[str, Any] = {
        "uri": args.data,
        "rows": len(data),
        "heldOut": len(parts.held_out),
        "sha256": sha256,
        "seed": args.seed,
        "testSize": args.test_size,
        "stratified": parts.stratified,
        "heldOutURI": contract.output_uri + HELD_OUT_FILE,
    }
    document = result_document(contract, metrics, baseline, baseline_error, data_record)
    text = json.dumps(document, separators=(",", ":"))
    if args.fault == "malformed":
        text = MALFORMED
        say("fault malformed: the result is not JSON")
    model_bytes = io.BytesIO()
    joblib.dump(model, model_bytes)
    write_outputs(
        contract.output_uri,
        {
            MODEL_FILE: model_bytes.getvalue(),
            PROFILE_FILE: profile.to_json().encode(),
            HELD_OUT_FILE: parts.held_out.to_csv(index=False).encode(),
            RESULT_FILE: text.encode(),
        },
    )
    say(f"wrote {MODEL_FILE}, {PROFILE_FILE}, {HELD_OUT_FILE} and {RESULT_FILE} to "
        f"{contract.output_uri}")  # fmt: skip
    return text


def failed(program: str, err: Exception, log: str | None) -> int:
    """Report a failure: the traceback for an unexpected one, then a one-line reason on stderr
    and in the termination message; the exit status (2 for bad arguments, 1 otherwise)."""
    if isinstance(err, TrainerError):
        reason = f"{program}: {err}"
    else:
        traceback.print_exc()
        reason = f"{program}: unexpected {type(err).__name__}: {err}".splitlines()[0]
    print(reason, file=sys.stderr)
    write_termination_log(log, clip(reason))
    return 2 if isinstance(err, UsageError) else 1


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = os.environ if env is None else env
    log: str | None = environment.get("MODELSHIP_TERMINATION_LOG") or None
    try:
        args = parser().parse_args(argv)
        contract = Contract.from_env(environment)
        log = contract.termination_log
        if args.fault == "crash":
            # Like a trainer that dies: a reason on stderr, no result, no termination message.
            print("train: fault crash: the trainer crashed on purpose", file=sys.stderr)
            return 1
        text = train(args, contract)
    except Exception as err:  # noqa: BLE001 - every failure is reported the same way
        return failed("train", err, log)
    write_termination_log(contract.termination_log, text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
