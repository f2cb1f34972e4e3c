"""`modelship profile`: training data (CSV or Parquet) -> reference profile JSON or ConfigMap."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from modelship.profile.binning import DEFAULT_BINS
from modelship.profile.build import ProfileError, ProfileOptions, build_profile
from modelship.profile.configmap import configmap_yaml


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="modelship profile", description="Build a reference profile from training data."
    )
    p.add_argument("--data", required=True, help="training data: .csv or .parquet")
    p.add_argument("--target", required=True, help="target (label) column")
    p.add_argument("--prediction", help="column of the model's predictions on this data")
    p.add_argument("--fairness", nargs="+", default=[], metavar="ATTR", help="group attributes")
    p.add_argument("--exclude", nargs="+", default=[], metavar="COL", help="not model inputs")
    p.add_argument("--categorical", nargs="+", default=[], metavar="COL", help="force categorical")
    p.add_argument(
        "--enforce-range", nargs="+", default=[], metavar="COL", help="reject values outside"
    )
    p.add_argument(
        "--allow-unknown", nargs="+", default=[], metavar="COL", help="accept unseen categories"
    )
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="quantile bins per feature")
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument("--configmap", metavar="NAME", help="emit a ConfigMap manifest (YAML)")
    p.add_argument("--namespace", help="namespace of the ConfigMap")
    return p


def read_data(path: str) -> pd.DataFrame:
    suffix = Path(path).suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if suffix in {".csv", ".txt"} or suffix == "":
        return pd.read_csv(path)
    raise ProfileError(f"unsupported data file {path!r}: use .csv or .parquet")


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.namespace and not args.configmap:
        print("modelship profile: --namespace needs --configmap", file=sys.stderr)
        return 2
    options = ProfileOptions(
        target=args.target,
        prediction=args.prediction,
        fairness=args.fairness,
        exclude=args.exclude,
        categorical=args.categorical,
        enforce_range=args.enforce_range,
        allow_unknown=args.allow_unknown,
        bins=args.bins,
    )
    try:
        profile = build_profile(read_data(args.data), options)
    except (ProfileError, OSError) as err:
        print(f"modelship profile: {err}", file=sys.stderr)
        return 1
    text = (
        configmap_yaml(profile, args.configmap, args.namespace)
        if args.configmap
        else profile.to_json() + "\n"
    )
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
