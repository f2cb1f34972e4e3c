"""`modelship serve --workers 2` as real processes: one port, one set of metrics, one feedback."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from credit_model import FEATURES, TrainedModel, columnar
from modelship_testing.waiters import wait_for
from served_process import ServerProcess, call, scrape, serving

BASE = 'model="credit",version="3",revision="r1"'
REQUESTS = 60


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def infer_all(server: ServerProcess, trained: TrainedModel) -> list[tuple[str, str]]:
    """REQUESTS single-row requests, each on its own connection (urllib opens one per call,
    so the kernel spreads them over the workers); (generated id, predicted class) of each."""
    rows = trained.data[FEATURES].sample(REQUESTS, random_state=2).to_dict("records")
    answers = []
    for row in rows:
        status, body = call(server, "/v2/models/credit/infer", columnar([row]))
        assert status == 200, body
        answers.append((body["id"], body["outputs"][0]["data"][0]))
    return answers


def test_workers_share_the_port_and_their_metrics_add_up(trained: TrainedModel) -> None:
    with serving(trained, ["--workers", "2"]) as server:
        assert len(children(server.proc.pid)) == 2
        answers = infer_all(server, trained)
        # Each worker numbers its generated ids under its own prefix: both served some.
        prefixes = {request_id.rsplit("-", 1)[0] for request_id, _ in answers}
        assert len(prefixes) == 2, prefixes

        metrics = scrape(server)  # one scrape, answered by whichever worker, counts both
        assert metrics[f'modelship_requests_total{{{BASE},outcome="success"}}'] == REQUESTS
        assert metrics[f"modelship_inference_rows_total{{{BASE}}}"] == REQUESTS
        assert metrics[f"modelship_request_duration_seconds_count{{{BASE}}}"] == REQUESTS
        income = f'modelship_feature_value_count{{{BASE},feature="income"}}'
        assert metrics[income] == REQUESTS
        predicted = sum(v for k, v in metrics.items()
                        if k.startswith("modelship_prediction_class_total{"))  # fmt: skip
        assert predicted == REQUESTS
        assert metrics[f"modelship_model_ready{{{BASE}}}"] == 1
        assert metrics[f'modelship_model_info{{{BASE},format="sklearn"}}'] == 1
        for _ in range(3):  # any worker answers the scrape with the same sums
            assert scrape(server)[f"modelship_inference_rows_total{{{BASE}}}"] == REQUESTS


def test_feedback_matches_whichever_worker_served_the_prediction(
    trained: TrainedModel,
) -> None:
    with serving(trained, ["--workers", "2"]) as server:
        answers = infer_all(server, trained)
        for request_id, _ in answers:  # each on a new connection, to either worker
            status, body = call(server, "/v2/models/credit/feedback",
                                {"id": request_id, "ground_truth": ["approve"]})  # fmt: skip
            assert (status, body["matched"]) == (200, True), body
        status, body = call(server, "/v2/models/credit/feedback",
                            {"id": "never-served", "ground_truth": ["approve"]})  # fmt: skip
        assert (status, body["matched"]) == (200, False)
        status, body = call(server, "/v2/models/credit/feedback",
                            {"id": answers[0][0], "ground_truth": ["approve"]})  # fmt: skip
        assert body["matched"] is False  # scored once, by one worker

        metrics = scrape(server)
        matched = f'modelship_feedback_rows_total{{{BASE},result="matched"}}'
        assert metrics[matched] == REQUESTS
        assert metrics[f'modelship_feedback_rows_total{{{BASE},result="unmatched"}}'] == 2
        requests = f'modelship_feedback_requests_total{{{BASE},outcome="success"}}'
        assert metrics[requests] == REQUESTS + 2  # counted once, where it arrived
        right = sum(1 for _, label in answers if label == "approve")
        assert metrics[f"modelship_feedback_correct_rows_total{{{BASE}}}"] == right
        status, _ = call(server, "/_worker/metrics")  # the private route is not on the port
        assert status == 404


def test_a_worker_that_dies_stops_the_server(trained: TrainedModel) -> None:
    with serving(trained, ["--workers", "2"]) as server:
        os.kill(children(server.proc.pid)[0], signal.SIGKILL)
        wait_for(lambda: server.proc.poll() is not None, timeout=30,
                 describe="the server to stop when one of its workers died")  # fmt: skip
        assert server.proc.returncode == 1
        assert "worker exited; stopping the server" in server.log_tail()
