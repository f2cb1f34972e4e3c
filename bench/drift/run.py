r"""DriftMonitor benchmark: queries and operator CPU per evaluation, by feature count and by
traffic in the window, beside Evidently's DataDriftPreset on the raw rows of the same window.

For each feature count (10, 100, 500 numeric features on the profile's 10 quantile bins) and
each window size (1,000 and 1,000,000 requests), it builds the Prometheus answer the
evaluation query would get (one series per bin: its size depends on bins, not traffic), and
times what the operator does with it: parse the answer, score every feature, plan the status.
It also counts the queries (one per evaluation, whatever the features).

With --evidently, Evidently runs in its own virtualenv (bench/.venv-evidently, git-ignored;
evidently 0.7.23 imports only with pandas < 3), on the raw rows of the same windows (capped by
--evidently-rows, since it holds every row in memory), for the comparison users ask for.

Budget (docs/performance.md): under 50 ms of operator CPU per evaluation at 100 features.

Usage: .venv/bin/python bench/drift/run.py [--repeats 20] [--evidently]
Results: a table on stdout and bench/results/drift-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.evaluate import evaluate
from modelship.drift.observed import parse_vector
from modelship.drift.plan import plan_evaluation
from modelship.drift.queries import Target, evaluation_query
from modelship.profile.build import ProfileOptions, build_profile
from modelship.profile.schema import NumericDistribution, Profile

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
EVIDENTLY_VENV = HERE.parent / ".venv-evidently"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3", "numpy<2.3"]
BUDGET_MS = 50.0
FEATURES = (10, 100, 500)
WINDOWS = (1_000, 1_000_000)


def training(features: int, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    data = {f"x{i}": rng.normal(0, 1, rows) for i in range(features)}
    data["label"] = rng.choice(["a", "b"], rows)
    return pd.DataFrame(data)


def answer(profile: Profile, requests: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """What Prometheus returns for a window of `requests` in-distribution predictions."""
    out: list[dict[str, Any]] = []

    def add(part: str, value: float, **labels: str) -> None:
        out.append({"metric": {"ms_part": part, **labels}, "value": [0, repr(float(value))]})

    for feature in profile.features:
        dist = feature.distribution
        assert isinstance(dist, NumericDistribution)
        counts = rng.multinomial(requests, dist.proportions)
        running = np.cumsum(counts)
        for le, value in zip([*map(repr, dist.edges), "+Inf"], running, strict=True):
            add("numeric", value, feature=feature.name, le=le)
    add("rows", requests)
    for cls, share in (("a", 0.5), ("b", 0.5)):
        add("predictionClass", requests * share, **{"class": cls})
    return out


def time_evaluation(
    spec: DriftMonitorSpec, profile: Profile, vector: list[dict[str, Any]], repeats: int
) -> float:
    """Median CPU milliseconds of parse + evaluate + plan for one evaluation."""
    samples = []
    now = datetime(2026, 12, 3, tzinfo=UTC)
    for _ in range(repeats):
        started = time.process_time()
        result = evaluate(spec, profile, parse_vector(vector))
        plan_evaluation({}, spec, result, None, 1, now)
        samples.append((time.process_time() - started) * 1000)
    return float(np.median(samples))


EVIDENTLY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    features, rows, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({f"x{i}": rng.normal(0, 1, 20000) for i in range(features)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0, 1, rows) for i in range(features)})
    started = time.process_time()
    Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
    print(json.dumps({"ms": (time.process_time() - started) * 1000}))
    """
)


def evidently_python() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS],
                       check=True)  # fmt: skip
    return python


def time_evidently(features: int, rows: int) -> float | None:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(EVIDENTLY_SCRIPT)
    done = subprocess.run(
        [str(evidently_python()), script.name, str(features), str(rows), "7"],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    Path(script.name).unlink()
    if done.returncode != 0:
        print(f"evidently failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["ms"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--evidently", action="store_true")
    parser.add_argument("--evidently-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(7)
    spec = DriftMonitorSpec.model_validate({"modelDeploymentRef": "bench", "minSamples": 100})
    rows: list[dict[str, Any]] = []
    print(f"{'features':>8} {'requests':>10} {'queries':>7} {'series':>7} {'cpu ms':>8} "
          f"{'evidently ms':>13} {'ratio':>7}")  # fmt: skip
    for features in FEATURES:
        profile = build_profile(training(features, 20_000, rng), ProfileOptions(target="label"))
        queries = len([evaluation_query(Target("ns", "rev", spec.window))])
        for requests in WINDOWS:
            vector = answer(profile, requests, rng)
            cpu = time_evaluation(spec, profile, vector, args.repeats)
            theirs = (
                time_evidently(features, min(requests, args.evidently_rows))
                if args.evidently
                else None
            )
            ratio = f"{theirs / cpu:7.1f}" if theirs else "      -"
            shown = f"{theirs:13.1f}" if theirs else "            -"
            print(f"{features:>8} {requests:>10} {queries:>7} {len(vector):>7} {cpu:8.2f} "
                  f"{shown} {ratio}")  # fmt: skip
            rows.append({"features": features, "requests": requests, "queries": queries,
                         "series": len(vector), "cpu_ms": cpu, "evidently_ms": theirs,
                         "evidently_rows": min(requests, args.evidently_rows)})  # fmt: skip
    at_100 = max(r["cpu_ms"] for r in rows if r["features"] == 100)
    verdict = "within" if at_100 < BUDGET_MS else "OVER"
    print(f"budget: {at_100:.2f} ms at 100 features, {verdict} the {BUDGET_MS:g} ms budget")
    flat = {f: [r["cpu_ms"] for r in rows if r["features"] == f] for f in FEATURES}
    for f, (small, large) in flat.items():
        print(f"traffic: {f} features, 1k vs 1M requests: {large / small:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"drift-{stamp}.json").write_text(json.dumps(rows, indent=2))
    return 0 if at_100 < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
