"""The modelship reference evaluator: a RetrainPolicy's independent evaluation Job
(`validation.job`), so that a trainer never grades its own work.

Run by the operator after the training Job succeeded (docs/trainer.md, "The evaluation
Job"), or by hand:

    MODELSHIP_CANDIDATE_URI=file:///tmp/models/fraud/7-r1/ \\
    MODELSHIP_BASE_URI=file:///models/fraud/7/ MODELSHIP_HELD_OUT_URI=file:///data/golden.csv \\
    MODELSHIP_OUTPUT_URI=file:///tmp/models/fraud/7-r1/evaluation/ \\
        python examples/trainer/evaluate.py --target is_fraud

It reads the held-out data, loads the candidate and the serving (base) model, measures both on
every row with the trainer's own metrics, and reports them: the candidate's as `metrics`, the
serving model's as `baselineMetrics`, in result.json at MODELSHIP_OUTPUT_URI and the
termination message. It trains nothing and trusts nothing the trainer reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from train import (
    RESULT_FILE,
    TrainerError,
    as_served,
    evaluate,
    evaluate_base,
    failed,
    load_model,
    read_data,
    task_of,
    write_outputs,
    write_termination_log,
)
from train import _Parser as Parser

DEFAULT_TERMINATION_LOG = "/dev/termination-log"


def say(message: str) -> None:
    print(f"evaluate: {message}", flush=True)


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="evaluate.py",
        description="modelship reference evaluator: the candidate and the serving model "
        "measured on held-out data. The environment the operator injects names both models "
        "and the data (docs/trainer.md).",
    )
    p.add_argument("--target", required=True, metavar="COLUMN", help="the label column")
    p.add_argument(
        "--positive-class",
        metavar="LABEL",
        help="binary target: the class precision, recall, f1 and roc_auc are about",
    )
    return p


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise TrainerError(f"{name} is not set")
    return value


def measure(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    """The evaluation's result document."""
    candidate_uri = _required(env, "MODELSHIP_CANDIDATE_URI")
    data_uri = _required(env, "MODELSHIP_HELD_OUT_URI")
    base_uri = env.get("MODELSHIP_BASE_URI", "").strip()
    data, sha256 = read_data(data_uri)
    if args.target not in data.columns:
        raise TrainerError(f"--target {args.target!r} is not a column: {list(data.columns)}")
    data = data.dropna(subset=[args.target]).reset_index(drop=True)
    if data.empty:
        raise TrainerError(f"{data_uri}: no rows with a target")
    for column in data.columns:
        if column != args.target:
            data[column] = as_served(data[column])
    task = task_of(data[args.target], args.positive_class)
    candidate = load_model(candidate_uri)
    names = getattr(candidate, "feature_names_in_", None)
    features = [str(n) for n in names] if names is not None else [
        str(c) for c in data.columns if c != args.target
    ]  # fmt: skip
    missing = [f for f in features if f not in data.columns]
    if missing:
        raise TrainerError(f"the candidate needs columns the held-out data lacks: {missing}")
    say(f"evaluating {candidate_uri} and {base_uri or '(no base)'} on {len(data)} rows "
        f"of {data_uri}")  # fmt: skip
    try:
        metrics = evaluate(candidate, data[features], data[args.target], task)
    except Exception as err:  # noqa: BLE001 - a candidate that cannot predict is the reason
        raise TrainerError(f"the candidate failed on the held-out data: {err}") from None
    baseline, baseline_error = evaluate_base(base_uri, data, features, args.target, task)
    say(f"candidate: {metrics}")
    say(f"base: {baseline if baseline is not None else baseline_error}")
    document: dict[str, Any] = {
        "metrics": metrics,
        "baselineMetrics": baseline,
        "data": {"uri": data_uri, "rows": len(data), "sha256": sha256},
        "candidateURI": candidate_uri,
        "candidateVersion": env.get("MODELSHIP_CANDIDATE_VERSION", ""),
        "baselineURI": base_uri,
        "baselineVersion": env.get("MODELSHIP_BASE_VERSION", ""),
    }
    if baseline is None:
        document["baselineError"] = baseline_error
    return document


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    environment = os.environ if env is None else env
    log = environment.get("MODELSHIP_TERMINATION_LOG", "").strip() or None
    if log is None and os.path.exists(DEFAULT_TERMINATION_LOG):
        log = DEFAULT_TERMINATION_LOG
    try:
        args = parser().parse_args(argv)
        text = json.dumps(measure(args, environment), separators=(",", ":"))
        output = environment.get("MODELSHIP_OUTPUT_URI", "").strip()
        if output:
            write_outputs(output, {RESULT_FILE: text.encode()})
    except Exception as err:  # noqa: BLE001 - every failure is reported the same way
        return failed("evaluate", err, log)
    write_termination_log(log, text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
