"""The rollback window after promotion: the real operator and local cluster, a real
Prometheus scraping real reference-server processes for each revision, and live traffic.
A canary passes and is promoted; it then breaks inside the window, and traffic returns to
the previous revision's warm pods; a window that expires without failure retires them."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.objects import EndpointWatcher
from modelship_testing.waiters import wait_for

from tests.integration import test_analysis
from tests.integration.test_analysis import INTERVAL, Stand, base_spec, log_time, start_rollout

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.usefixtures("crds")]

stand = test_analysis.stand  # the same stand of served revisions with live traffic


def window_spec(duration: str) -> dict[str, Any]:
    return base_spec(rollback={"window": {"duration": duration, "previousReplicas": 1}})


def promoted_with_window(stand: Stand, operator: OperatorFactory, spec: dict[str, Any],
                         **fault: Any) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    stable, canary = start_rollout(stand, operator, spec, **fault)
    status = stand.mds.wait(
        "fraud",
        lambda s: s.get("stableRevision") == canary and (s.get("rollout") or {}).get("window"),
        "the canary promoted with its rollback window open",
        timeout=120,
    )
    window = status["rollout"]["window"]
    assert (window["revision"], window["previous"], window["previousReplicas"]) == (
        canary, stable, 1,
    )  # fmt: skip
    assert status["phase"] == "Healthy"
    assert "rollback window open until" in status["message"]
    wait_for(
        lambda: stand.mds.spec_replicas("fraud") == {stable: 1, canary: 2},
        timeout=30,
        describe="the previous revision kept at one warm pod",
    )
    return stable, canary, status


def test_a_failure_in_the_rollback_window_returns_traffic_to_the_previous_revision(
    stand: Stand,
    operator: OperatorFactory,
    k8s_api: client.ApiClient,
    record_property: Any,
    tmp_path: Path,
) -> None:
    flag = tmp_path / "fail-now"
    with EndpointWatcher(k8s_api, stand.mds.namespace, "fraud") as endpoints:
        stable, canary, _ = promoted_with_window(
            stand, operator, window_spec("5m"), fault="FailsOnFlag",
            fault_env={"MODELSHIP_TEST_FAULT_FILE": str(flag)},
        )  # fmt: skip
        # The main Service reaches only the new stable: the warm pod takes no traffic.
        wait_for(
            lambda: endpoints.first_time(
                0, lambda pods: bool(pods) and all(p.startswith(f"fraud-{canary}") for p in pods)
            ),
            timeout=30,
            describe="only the new stable's pods behind the Service",
        )
        stand.traffic.unroute(stable)  # live traffic follows the Service
        broke = time.time()
        flag.touch()  # the promoted revision breaks
        status = stand.mds.wait_phase("fraud", "RolledBack", stableRevision=stable, timeout=90)
        wait_for(
            lambda: stand.mds.spec_replicas("fraud") == {stable: 2, canary: 0},
            timeout=30,
            describe="the previous revision back to full size, the failed one gone",
        )
        wait_for(
            lambda: endpoints.first_time(
                broke,
                lambda pods: len(pods) == 2 and all(p.startswith(f"fraud-{stable}") for p in pods),
            ),
            timeout=30,
            describe="only the previous revision's pods behind the Service",
        )
    entry = status["history"][0]
    assert (entry["revision"], entry["outcome"]) == (canary, "RolledBackAfterPromotion")
    assert f"over {INTERVAL} windows" in entry["reason"]
    assert "analysis in the rollback window after promotion failed" in entry["reason"]
    failing = next(m for m in entry["measurements"] if m["metric"] == "error-rate")
    assert failing["value"] > 0.05
    assert f'revision="{canary}"' in failing["query"]
    assert status["rollout"].get("window") is None
    assert status["rollout"]["heldRevision"] == canary

    # From the failing measurement in the window to the Service holding only the previous
    # revision's pods (all traffic back), and to the rollback decision.
    assert stand.operator is not None
    window_opened = log_time(stand.operator, "rollout event", name="fraud",
                             reason="RollbackWindowOpened")  # fmt: skip
    assert window_opened is not None
    measured = next_failed_round(stand, canary, after=window_opened)
    decided = log_time(stand.operator, "rollout event", name="fraud",
                       reason="RolledBackAfterPromotion")  # fmt: skip
    assert decided is not None
    back = endpoints.first_time(
        measured, lambda pods: bool(pods) and not any(p.startswith(f"fraud-{canary}") for p in pods)
    )
    assert back is not None
    assert 0 not in endpoints.since_first_ready()  # the Service never lost every endpoint
    # The budget (1 s) is the benchmarks' to verify; this bound only catches a rollback that
    # waits for another round (2 s) or a resync instead of acting in the measuring pass.
    assert decided - measured < 2.0
    record_property("window_rollback_decision_seconds", round(decided - measured, 3))
    record_property("window_traffic_back_seconds", round(back - measured, 3))
    print(
        f"\nrollback after promotion decided {decided - measured:.3f}s after the failing "
        f"measurement; the Service held only the previous revision's pods {back - measured:.3f}s "
        "after it"
    )


def next_failed_round(stand: Stand, revision: str, after: float) -> float:
    """When the first failed analysis round of `revision` after `after` was logged."""
    assert stand.operator is not None
    for line in stand.operator.log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") != "analysis round" or entry.get("revision") != revision:
            continue
        at = datetime.fromisoformat(entry["timestamp"]).timestamp()
        if at >= after and entry.get("failed", 0) >= 1:
            return at
    raise AssertionError("no failed analysis round after the window opened")


def test_an_expired_rollback_window_retires_the_previous_revision(
    stand: Stand, operator: OperatorFactory
) -> None:
    stable, canary, status = promoted_with_window(stand, operator, window_spec("15s"))
    until = status["rollout"]["window"]["until"]
    status = stand.mds.wait(
        "fraud",
        lambda s: not (s.get("rollout") or {}).get("window") and s.get("phase") == "Healthy",
        "the rollback window to close",
        timeout=60,
    )
    wait_for(
        lambda: stand.mds.spec_replicas("fraud").get(stable, 0) == 0,
        timeout=30,
        describe="the previous revision scaled to zero",
    )
    assert stand.mds.spec_replicas("fraud")[canary] == 2
    assert status["stableRevision"] == canary
    assert status["history"][0]["outcome"] == "Promoted"
    assert "rollback window" not in status["message"]
    assert stand.operator is not None
    closed = log_time(stand.operator, "rollout event", name="fraud", reason="RollbackWindowClosed")
    assert closed is not None
    print(f"\nwindow until {until}; closed and the previous revision retired")
