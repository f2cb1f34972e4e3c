"""Analysis gates rollouts: the real operator, the local cluster, a real Prometheus scraping
real reference-server processes that stand in for each revision's pods, and live traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory, OperatorProcess
from modelship_testing.objects import EndpointWatcher, ModelDeployments
from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.receiver import Receiver
from modelship_testing.serving import (
    Server,
    TrafficGenerator,
    TrainedModel,
    start_server,
)
from modelship_testing.waiters import diagnostic, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.usefixtures("crds")]

INTERVAL = "2s"


def analysis(*metrics: dict[str, Any], **fields: Any) -> dict[str, Any]:
    defaults = [
        {"name": "error-rate", "builtin": "errorRate", "max": 0.05},
        # Well above a healthy server's p99 on a busy 2-core machine (up to ~0.25 s seen).
        {"name": "p99", "builtin": "latencyP99", "max": 0.5},
    ]
    body = {
        "interval": INTERVAL,
        "minSamples": 10,
        "failureLimit": 0,
        "inconclusiveLimit": 2,
        "metrics": list(metrics) or defaults,
    }
    body.update(fields)
    return body


STEPS = {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"count": 2}}]}}


class Stand:
    """A ModelDeployment whose revisions are served by real processes with live traffic."""

    def __init__(
        self, mds: ModelDeployments, model: TrainedModel, prometheus: PrometheusHandle
    ) -> None:
        self.mds, self.model, self.prometheus = mds, model, prometheus
        self.servers: dict[str, Server] = {}
        self.operator: OperatorProcess | None = None
        self.traffic = TrafficGenerator(rate_per_second=40, max_seconds=300)

    def serve(
        self,
        revision: str,
        version: str,
        fault: str | None = None,
        weight: int = 1,
        fault_env: dict[str, str] | None = None,
    ) -> Server:
        server = start_server(self.model, revision, version, fault=fault, fault_env=fault_env)
        self.servers[revision] = server
        self.prometheus.add_target(
            f"{self.mds.namespace}-{revision}", server.address, {"namespace": self.mds.namespace}
        )
        self.prometheus.wait_for_target_up(f"{self.mds.namespace}-{revision}")
        if weight:
            self.traffic.route(server, weight)
        return server

    def close(self) -> None:
        self.traffic.stop()
        for revision, server in self.servers.items():
            self.prometheus.remove_target(f"{self.mds.namespace}-{revision}")
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {r} ---\n{s.log_tail(10)}" for r, s in self.servers.items())


@pytest.fixture
def stand(
    k8s_api: client.ApiClient, namespace: str, model: TrainedModel, prometheus: PrometheusHandle
) -> Iterator[Stand]:
    stand = Stand(ModelDeployments(k8s_api, namespace), model, prometheus)
    with diagnostic("reference servers", stand.logs):
        try:
            yield stand
        finally:
            stand.close()


def start_rollout(
    stand: Stand,
    operator: OperatorFactory,
    spec: dict[str, Any],
    fault: str | None = None,
    canary_weight: int = 1,
    stable_fault: tuple[str, dict[str, str]] | None = None,
    fault_env: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Deploy version 1 (served, with traffic; by a process with `stable_fault` if given),
    then roll out version 2 served by a process with `fault`; returns (stable, canary)."""
    stand.operator = operator(
        namespaces=[stand.mds.namespace], env={"MODELSHIP_PROMETHEUS_URL": stand.prometheus.url}
    )
    stand.mds.create("fraud", spec)
    stable = stand.mds.wait_phase("fraud", "Healthy")["stableRevision"]
    if stable_fault is None:
        stand.serve(stable, "1")
    else:
        stand.serve(stable, "1", fault=stable_fault[0], fault_env=stable_fault[1])
    stand.traffic.start()
    stand.mds.set_version("fraud", "2")
    canary = stand.mds.wait(
        "fraud", lambda s: s.get("canaryRevision"), "the canary revision to be created"
    )["canaryRevision"]
    stand.serve(canary, "2", fault=fault, weight=canary_weight, fault_env=fault_env)
    return stable, canary


def base_spec(**fields: Any) -> dict[str, Any]:
    return {
        "model": {"name": "fraud", "version": "1", "uri": "s3://models/fraud/1/"},
        "serving": {"replicas": 2},
        "strategy": STEPS,
        "analysis": analysis(),
        **fields,
    }


def test_healthy_canary_passes_every_analysis_and_is_promoted(
    stand: Stand, operator: OperatorFactory
) -> None:
    _stable, canary = start_rollout(stand, operator, base_spec())
    status = stand.mds.wait_phase("fraud", "Healthy", stableRevision=canary, timeout=90)
    results = {m["metric"]: m["result"] for m in status["measurements"]}
    assert results == {"error-rate": "Successful", "p99": "Successful"}
    assert status["analysis"]["successful"] >= 2
    assert status["analysis"]["failed"] == 0
    assert status["history"][0]["outcome"] == "Promoted"


def log_time(process: OperatorProcess, message: str, **fields: Any) -> float | None:
    """When the operator first logged `message` with these fields (its JSON log lines)."""
    for line in process.log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == message and all(entry.get(k) == v for k, v in fields.items()):
            return datetime.fromisoformat(entry["timestamp"]).timestamp()
    return None


def test_canary_whose_error_rate_rises_is_rolled_back(
    stand: Stand, operator: OperatorFactory, k8s_api: client.ApiClient, record_property: Any
) -> None:
    with EndpointWatcher(k8s_api, stand.mds.namespace, "fraud") as endpoints:
        stable, canary = start_rollout(stand, operator, base_spec(), fault="Flaky")
        status = stand.mds.wait_phase("fraud", "RolledBack", timeout=90)
        wait_for(
            lambda: stand.mds.spec_replicas("fraud") == {stable: 2, canary: 0},
            timeout=30,
            describe="the canary scaled down",
        )
        wait_for(
            lambda: endpoints.first_time(
                0,
                lambda pods: (
                    not any(p.startswith(f"fraud-{canary}") for p in pods) and len(pods) == 2
                ),
            ),
            timeout=30,
            describe="only stable pods behind the Service",
        )
    failing = next(m for m in status["measurements"] if m["result"] == "Failed")
    assert failing["metric"] == "error-rate"
    assert failing["value"] > 0.05
    assert status["history"][0]["outcome"] == "RolledBack"
    reason = status["history"][0]["reason"]
    assert f"over {INTERVAL} windows" in reason
    assert f"error-rate: {failing['message']} ({failing['samples']} requests)" in reason
    # The query a person pastes into Prometheus shows the failing canary's error rate.
    recorded = next(m for m in status["history"][0]["measurements"] if m["metric"] == "error-rate")
    assert recorded["query"] == failing["query"]
    seen = stand.prometheus.value(failing["query"].replace(f"[{INTERVAL}]", "[1m]"))
    assert seen is not None
    assert seen > 0.05
    assert 0 not in endpoints.since_first_ready()

    # Time from the failing measurement to the rollback decision, and to the moment the
    # Service's EndpointSlices hold only stable pods (the stable carries all traffic).
    assert stand.operator is not None
    measured = log_time(stand.operator, "analysis round", name="fraud", failed=1)
    decided = log_time(stand.operator, "rollout event", name="fraud", reason="RolledBack")
    assert measured is not None
    assert decided is not None
    only_stable = endpoints.first_time(
        measured, lambda pods: bool(pods) and not any(p.startswith(f"fraud-{canary}") for p in pods)
    )
    assert only_stable is not None
    assert decided - measured < 1.0
    record_property("rollback_decision_seconds", round(decided - measured, 3))
    record_property("stable_carries_all_traffic_seconds", round(only_stable - measured, 3))
    print(
        f"\nrollback decided {decided - measured:.3f}s after the failing measurement; the "
        f"stable Service carried all traffic {only_stable - measured:.3f}s after it"
    )


def test_a_rolled_back_canary_is_notified_with_its_explanation(
    stand: Stand, operator: OperatorFactory, k8s_api: client.ApiClient, webhook: Receiver
) -> None:
    webhook.secret(k8s_api, stand.mds.namespace, "rollout-hook", "/rollout")
    notify = [
        {
            "name": "team",
            "urlFrom": {"secretKeyRef": {"name": "rollout-hook"}},
            "events": ["rollout.started", "rollout.rolledBack", "rollout.promoted"],
        }
    ]
    _, canary = start_rollout(stand, operator, base_spec(notifications=notify), fault="Flaky")
    status = stand.mds.wait_phase("fraud", "RolledBack", timeout=90)
    expected = ["rollout.started", "rollout.rolledBack"]
    wait_for(lambda: webhook.events("/rollout") == expected, timeout=30,
             describe=f"{expected} at the receiver, got {webhook.events('/rollout')}")  # fmt: skip
    rolled_back = webhook.bodies("/rollout")[1]
    assert (rolled_back["revision"], rolled_back["version"]) == (canary, "2")
    assert rolled_back["severity"] == "Warning"
    # The explanation a person reads in history is the one the receiver got.
    assert status["history"][0]["reason"] in rolled_back["message"]
    assert "error-rate" in rolled_back["message"]


def test_slow_canary_is_rolled_back(stand: Stand, operator: OperatorFactory) -> None:
    # A slow server answers fewer requests: measure over a longer window, with fewer samples.
    # Its 0.3 s answers against a 0.2 s limit (the default 0.5 s leaves room for a busy machine).
    metrics = [
        {"name": "error-rate", "builtin": "errorRate", "max": 0.05},
        {"name": "p99", "builtin": "latencyP99", "max": 0.2},
    ]
    spec = base_spec(analysis=analysis(*metrics, interval="4s", minSamples=5))
    start_rollout(stand, operator, spec, fault="Slow")
    status = stand.mds.wait_phase("fraud", "RolledBack", timeout=90)
    failing = {m["metric"]: m for m in status["measurements"] if m["result"] == "Failed"}
    assert "p99" in failing
    assert failing["p99"]["value"] > 0.2


def delays(seconds: float) -> dict[str, str]:
    return {"MODELSHIP_TEST_DELAY_SECONDS": str(seconds), "MODELSHIP_TEST_DELAY_SPREAD": "0.5"}


# Rounds of ~150-200 requests per revision (40 rps split evenly, less on a busy machine);
# failureLimit 1 as docs/analysis.md advises. A slower canary's rounds are mostly Failed or
# Inconclusive (large effect, not yet significant); three Successful ones before two Failed
# (the gate passing) is very unlikely, so it is rolled back at its second failed round.
JUDGED = analysis(
    {"name": "p99", "builtin": "latencyP99", "max": 0.5, "judge": {}},
    interval="20s",
    minSamples=100,
    failureLimit=1,
)
JUDGED_STEPS = {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"count": 3}}]}}


@pytest.mark.parametrize(
    ("canary_delay", "outcome"), [(0.048, "RolledBack"), (0.04, "Healthy")], ids=["slower", "same"]
)
def test_the_judge_rolls_back_a_canary_20_percent_slower_and_promotes_an_identical_one(
    stand: Stand, operator: OperatorFactory, canary_delay: float, outcome: str
) -> None:
    spec = base_spec(analysis=JUDGED, strategy=JUDGED_STEPS)
    _, canary = start_rollout(
        stand,
        operator,
        spec,
        fault="Slow",
        stable_fault=("Slow", delays(0.04)),
        fault_env=delays(canary_delay),
    )
    expect = {"stableRevision": canary} if outcome == "Healthy" else {}
    status = stand.mds.wait_phase("fraud", outcome, timeout=300, **expect)
    (p99,) = status["measurements"]
    # The fixed ceiling passes both: only the judge tells the slower canary apart.
    assert p99["value"] < 0.5
    assert p99["pValue"] is not None
    assert p99["stableSamples"] >= 100
    if outcome == "RolledBack":
        assert p99["result"] == "Failed"
        assert "worse than stable" in p99["message"]
        assert p99["effect"] >= 0.1
        assert "judge" in status["history"][0]["reason"]
    else:
        assert status["history"][0]["outcome"] == "Promoted"


def test_prometheus_outage_pauses_and_the_rollout_continues_when_it_returns(
    k8s_api: client.ApiClient,
    namespace: str,
    model: TrainedModel,
    operator: OperatorFactory,
    private_prometheus: PrometheusHandle,
) -> None:
    stand = Stand(ModelDeployments(k8s_api, namespace), model, private_prometheus)
    steps = {
        "canary": {
            "steps": [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"analysis": {"count": 2}}]
        }
    }
    try:
        with diagnostic("reference servers", stand.logs):
            _, canary = start_rollout(stand, operator, base_spec(strategy=steps))
            stand.mds.wait(
                "fraud",
                lambda s: (s.get("analysis") or {}).get("successful"),
                "a first successful analysis round",
            )
            private_prometheus.stop()
            status = stand.mds.wait(
                "fraud",
                lambda s: (
                    s.get("phase") == "Paused" and "Prometheus unreachable" in s.get("message", "")
                ),
                "the rollout to pause on the outage",
            )
            assert "inconclusive" in status["message"]
            assert status["analysis"]["failed"] == 0
            assert status.get("canaryRevision") == canary  # never rolled back
            private_prometheus.start()
            private_prometheus.wait_for_target_up(f"{namespace}-{canary}")
            status = stand.mds.wait_phase("fraud", "Healthy", stableRevision=canary, timeout=90)
            assert status["history"][0]["outcome"] == "Promoted"
    finally:
        stand.close()


def test_canary_without_traffic_is_inconclusive_not_failed(
    stand: Stand, operator: OperatorFactory
) -> None:
    _stable, canary = start_rollout(stand, operator, base_spec(), canary_weight=0)
    status = stand.mds.wait_phase("fraud", "Paused", timeout=60)
    assert "inconclusive" in status["message"]
    assert "minSamples" in status["message"]
    assert status["analysis"]["failed"] == 0
    assert status["canaryRevision"] == canary
    assert {m["result"] for m in status["measurements"]} == {"Inconclusive"}


def test_custom_promql_metric_gates_a_step(stand: Stand, operator: OperatorFactory) -> None:
    approvals = {
        "name": "predictions",
        "prometheus": {
            "query": "sum(rate(modelship_prediction_class_total{"
            'namespace="{{namespace}}",revision="{{canary}}"}[{{interval}}]))'
        },
        "min": 1000,  # far more than the traffic generator sends: the gate must fail
    }
    steps = {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"metrics": ["predictions"]}}]}}
    spec = base_spec(strategy=steps, analysis=analysis(approvals, background=False))
    start_rollout(stand, operator, spec)
    status = stand.mds.wait_phase("fraud", "RolledBack", timeout=90)
    measurement = next(m for m in status["measurements"] if m["metric"] == "predictions")
    assert measurement["result"] == "Failed"
    assert 0 < measurement["value"] < 1000


def test_custom_promql_metric_passes_a_step(stand: Stand, operator: OperatorFactory) -> None:
    approvals = {
        "name": "predictions",
        "prometheus": {
            "query": "sum(rate(modelship_prediction_class_total{"
            'namespace="{{namespace}}",revision="{{canary}}"}[{{interval}}]))'
        },
        "min": 1,
    }
    steps = {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"metrics": ["predictions"]}}]}}
    spec = base_spec(strategy=steps, analysis=analysis(approvals, background=False))
    _, canary = start_rollout(stand, operator, spec)
    stand.mds.wait_phase("fraud", "Healthy", stableRevision=canary, timeout=90)
