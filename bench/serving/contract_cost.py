"""What the metrics contract costs the server per request, measured in process.

Builds the same model and profile as run.py (8 numeric features, 10 bins each, a binary
classifier with its score histogram), then times, on one core, what one single-row request
adds for the contract (observe the request's outcome and latency, its batch's features,
prediction and score) and what a scrape costs (render), each over many calls, the least of
7 runs (the one other processes disturbed least). Compare with the cost of a whole request
(1 / throughput in run.py's table): without the contract a request saves this time.

    .venv/bin/python bench/serving/contract_cost.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from modelship.profile.schema import load_profile
from modelship.server.app import metrics_layout
from modelship.server.contract import ContractMetrics
from modelship.server.schema import Batch
from run import train

CALLS, RUNS = 20_000, 7


def per_call(action: object, calls: int) -> float:
    """The least over RUNS of the seconds one call of `action` takes (the run that other
    processes on a shared machine disturbed least)."""
    assert callable(action)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        timings.append((time.perf_counter() - started) / calls)
    return min(timings)


def main() -> int:
    _, profile_path, row = train(Path(tempfile.mkdtemp(prefix="modelship-cost-")))
    profile = load_profile(str(profile_path))
    contract = ContractMetrics(metrics_layout(profile, None), "bench", "1", "bench", "sklearn")
    contract.enable_scores("1")
    batch = Batch(1, np.asarray([row], dtype=np.float64), {}, {})
    labels, scores = ["1"], np.asarray([0.7])

    def observe() -> None:
        contract.observe_batch(batch, labels, None, {}, scores)
        contract.observe_request("success", 0.001)

    load = os.getloadavg()
    request = per_call(observe, CALLS)
    scrape = per_call(contract.render, 200)
    size = len(contract.render())
    print(f"load average {load}; cores {os.cpu_count()}")
    print("| cost of the metrics contract | value |")
    print("|---|---:|")
    print(f"| per single-row request (observe outcome, latency, 8 features, class, score) | "
          f"{request * 1e6:.1f} µs |")  # fmt: skip
    print(f"| per scrape (render {size:,} bytes) | {scrape * 1e3:.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
