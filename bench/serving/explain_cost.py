r"""Explanation cost per row: POST /v2/models/<name>/explain on `modelship serve`, per explainer.

Three models on the benchmark's 8 numeric features, one per SHAP explainer the server picks:
a LogisticRegression (linear), a GradientBoostingClassifier (exact tree) and a
StandardScaler + LogisticRegression pipeline (model-agnostic permutation, 50 background rows
from the profile). Each is served, warmed (the first explanation imports shap and builds the
explainer; its time is reported apart), then explained in batches of 1, 10 and 100 rows; the
cost per row is the median request time over the rows, beside /infer's for the same batch.

Usage: .venv/bin/python bench/serving/explain_cost.py [--repeats 5]
(`run.py` calls it too, unless --skip-explain.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from modelship.profile.build import ProfileOptions, build_profile
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = [f"f{i}" for i in range(8)]
BATCHES = (1, 10, 100)
Running = Callable[[list[str], str, Path], AbstractContextManager[Any]]


@dataclass
class ExplainCost:
    explainer: str
    rows: int
    explain_ms_per_row: float
    infer_ms_per_row: float
    first_explanation_s: float


def models() -> dict[str, Any]:
    return {
        "linear": LogisticRegression(),
        "tree": GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
        "permutation": make_pipeline(StandardScaler(), LogisticRegression()),
    }


def post(url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - started, answer


def tensor(rows: np.ndarray) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64",
                        "data": rows.ravel().tolist()}]}  # fmt: skip


def measure(workdir: Path, running: Running, repeats: int = 5) -> list[ExplainCost]:
    from run import free_port  # the benchmark's helpers (this file sits beside run.py)

    rng = np.random.default_rng(11)
    data = pd.DataFrame(rng.normal(size=(2000, len(FEATURES))), columns=FEATURES)
    data["label"] = (data["f0"] + 0.5 * data["f1"] - data["f2"] > 0).astype(int)
    profile_path = workdir / "explain-profile.json"
    profile_path.write_text(build_profile(data, ProfileOptions(target="label")).to_json())
    costs: list[ExplainCost] = []
    for kind, model in models().items():
        model.fit(data[FEATURES].to_numpy(), data["label"])
        model_path = workdir / f"explain-{kind}.joblib"
        joblib.dump(model, model_path)
        port = free_port()
        argv = [sys.executable, "-m", "modelship.cli", "serve", "--model-uri",
                f"file://{model_path}", "--model-name", "bench", "--profile", str(profile_path),
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        base = f"http://127.0.0.1:{port}/v2/models/bench"
        with running(argv, f"http://127.0.0.1:{port}/v2/health/ready",
                     workdir / f"explain-{kind}.log"):  # fmt: skip
            first, answer = post(f"{base}/explain", tensor(data[FEATURES].to_numpy()[:1]))
            assert answer["parameters"]["explainer"] == kind, answer["parameters"]
            for rows in BATCHES:
                batch = tensor(data[FEATURES].to_numpy()[:rows])
                explain = [post(f"{base}/explain", batch)[0] for _ in range(repeats)]
                infer = [post(f"{base}/infer", batch)[0] for _ in range(repeats)]
                cost = ExplainCost(kind, rows, 1000 * float(np.median(explain)) / rows,
                                   1000 * float(np.median(infer)) / rows, first)  # fmt: skip
                print(f"  explain {kind:<12} {rows:>3} rows: {cost.explain_ms_per_row:8.3f} ms/row "
                      f"(infer {cost.infer_ms_per_row:.3f} ms/row)", flush=True)  # fmt: skip
                costs.append(cost)
    return costs


def table(costs: list[ExplainCost]) -> str:
    lines = ["| explainer | rows per request | explain ms/row | infer ms/row | first call s |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {c.explainer} | {c.rows} | {c.explain_ms_per_row:.3f} | "
              f"{c.infer_ms_per_row:.3f} | {c.first_explanation_s:.1f} |"
              for c in costs]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    from run import running

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="modelship-bench-explain-"))
    print(table(measure(workdir, running, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
