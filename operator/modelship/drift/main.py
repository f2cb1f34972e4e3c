"""`modelship drift`: the DriftMonitor's evaluation, offline, on a CSV or Parquet file.

Reads the reference profile, the current data and (optionally) a DriftMonitor manifest,
counts the data as the reference server would (`modelship.drift.offline`), scores it with the
DriftMonitor's evaluator and prints a table or the status as JSON. The exit code is the
verdict, for CI gates: 0 not drifted, 1 drifted, 2 usage or input error, 3 no verdict.
See docs/drift-offline.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.api.resources import API_VERSION, DRIFT_MONITOR
from modelship.api.validation import InvalidObjectError, parse_spec, problems_of
from modelship.drift import offline
from modelship.profile.build import ProfileError
from modelship.profile.main import read_data
from modelship.profile.schema import PROFILE_CONFIGMAP_KEY, Profile

PLACEHOLDER = "offline"
"""modelDeploymentRef and metadata.name when the config has none: nothing is looked up."""


class InputError(Exception):
    """A file that cannot be used; `problems` are printed one per line."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.what = what
        self.problems = list(problems)
        super().__init__(f"{what}: {'; '.join(self.problems)}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="modelship drift",
        description="Score a CSV or Parquet file against a reference profile with the "
        "DriftMonitor's evaluator. Exit code: 0 not drifted, 1 drifted, 2 usage or input "
        "error, 3 no verdict (too few rows, data that does not match the profile).",
    )
    p.add_argument("--profile", required=True, help="reference profile: JSON, or its ConfigMap")
    p.add_argument("--data", required=True, help="current data: .csv or .parquet")
    p.add_argument("--config", help="DriftMonitor manifest (YAML), or just its spec")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p.add_argument(
        "--prediction",
        metavar="COLUMN",
        help="column of the model's predictions (default: the profile's prediction column, "
        "or its target when the profile stands the target in for predictions)",
    )
    p.add_argument(
        "--target",
        metavar="COLUMN",
        help="column of ground truth, for performance and fairness (default: the profile's "
        "target column, unless it is the prediction column)",
    )
    p.add_argument(
        "--score",
        metavar="COLUMN",
        help="column of a binary classifier's positive-class score (its predict_proba[:, 1]), "
        "for performance estimated before labels",
    )
    p.add_argument(
        "--fail-on-degraded",
        action="store_true",
        help="exit 1 also when performance or fairness is out of range, or a data-quality "
        "check fails (Degraded=True)",
    )
    return p


# -- inputs ----------------------------------------------------------------------------------


def _pydantic_problems(err: ValidationError, root: str) -> list[str]:
    return [str(p) for p in problems_of(err, root)]


def read_profile(path: str) -> Profile:
    """A profile's JSON, or a ConfigMap manifest holding it (`modelship profile --configmap`)."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InputError(f"profile {path}", [err.strerror or str(err)]) from err
    if not text.lstrip().startswith("{"):
        try:
            manifest = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise InputError(f"profile {path}", [f"neither JSON nor YAML: {err}"]) from err
        data = manifest.get("data") if isinstance(manifest, Mapping) else None
        if not isinstance(data, Mapping) or not data:
            raise InputError(f"profile {path}", ["not a profile, nor a ConfigMap holding one"])
        if PROFILE_CONFIGMAP_KEY in data:
            text = str(data[PROFILE_CONFIGMAP_KEY])
        elif len(data) == 1:
            text = str(next(iter(data.values())))
        else:
            raise InputError(
                f"profile {path}", [f"the ConfigMap has no key {PROFILE_CONFIGMAP_KEY}"]
            )
    try:
        return Profile.model_validate_json(text)
    except ValidationError as err:
        raise InputError(f"profile {path}", _pydantic_problems(err, "profile")) from err


def _object(path: str, text: str) -> Mapping[str, Any]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as err:
        raise InputError(f"config {path}", [f"not YAML: {err}"]) from err
    monitors = [d for d in documents if isinstance(d, Mapping) and d.get("kind") == "DriftMonitor"]
    if len(monitors) > 1:
        raise InputError(f"config {path}", [f"{len(monitors)} DriftMonitors: give one"])
    if monitors:
        return monitors[0]
    if len(documents) != 1 or not isinstance(documents[0], Mapping):
        raise InputError(f"config {path}", ["expected one DriftMonitor, or its spec, as a map"])
    return documents[0]


def load_spec(path: str | None) -> DriftMonitorSpec:
    """The DriftMonitor's spec, validated by the API models (as the operator validates it);
    the defaults without a config. modelDeploymentRef may be left out."""
    if path is None:
        return DriftMonitorSpec.model_validate({"modelDeploymentRef": PLACEHOLDER})
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InputError(f"config {path}", [err.strerror or str(err)]) from err
    document = _object(path, text)
    whole = any(key in document for key in ("apiVersion", "kind", "metadata", "spec"))
    problems: list[str] = []
    if whole:
        kind, version = document.get("kind"), document.get("apiVersion")
        if kind is not None and kind != DRIFT_MONITOR.kind:
            problems.append(f"kind: expected {DRIFT_MONITOR.kind}, not {kind}")
        if version is not None and version != API_VERSION:
            problems.append(f"apiVersion: expected {API_VERSION}, not {version}")
        spec = document.get("spec")
        metadata = document.get("metadata")
    else:
        spec, metadata = document, None
    if problems:
        raise InputError(f"config {path}", problems)
    if isinstance(spec, Mapping):
        spec = {"modelDeploymentRef": PLACEHOLDER, **spec}
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    body = {"metadata": {"name": name or PLACEHOLDER}, "spec": spec}
    try:
        model = parse_spec(DRIFT_MONITOR, body)
    except InvalidObjectError as err:
        raise InputError(f"config {path}", [str(p) for p in err.problems]) from err
    assert isinstance(model, DriftMonitorSpec)
    return model


def _read_data(path: str) -> pd.DataFrame:
    try:
        return read_data(path)
    except ProfileError as err:
        raise InputError(f"data {path}", [str(err)]) from err
    except (OSError, ValueError) as err:
        raise InputError(f"data {path}", [str(err) or type(err).__name__]) from err


def _check_columns(args: argparse.Namespace, available: Sequence[str]) -> list[str]:
    return [
        f"--{flag} {column!r}: no such column; columns are {list(available)[:20]}"
        for flag, column in (
            ("prediction", args.prediction),
            ("target", args.target),
            ("score", args.score),
        )
        if column is not None and column not in available
    ]


# -- main ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> tuple[int, str]:
    """(exit code, what to print on stdout); raises InputError for exit code 2."""
    spec = load_spec(args.config)
    profile = read_profile(args.profile)
    frame = _read_data(args.data)
    columns = [str(c) for c in frame.columns]
    problems = _check_columns(args, columns)
    if problems:
        raise InputError(f"data {args.data}", problems)
    chosen = offline.default_columns(profile, columns, args.prediction, args.target)
    chosen = dataclasses.replace(chosen, score=args.score)
    counted = offline.count(profile, frame, chosen)
    evaluation = offline.evaluation_of(spec, profile, counted)
    status = offline.report(spec, profile, counted, evaluation)
    if args.output == "json":
        text = json.dumps(status, indent=2) + "\n"
    else:
        text = offline.table(status, spec)
    return offline.exit_code(evaluation, args.fail_on_degraded), text


def main(argv: Sequence[str]) -> int:
    try:
        args = parser().parse_args(list(argv))
    except SystemExit as exit_:  # argparse: --help is 0, a usage error 2
        return exit_.code if isinstance(exit_.code, int) else offline.EXIT_USAGE
    try:
        code, text = run(args)
    except InputError as err:
        print(f"modelship drift: {err.what}:", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return offline.EXIT_USAGE
    sys.stdout.write(text)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
