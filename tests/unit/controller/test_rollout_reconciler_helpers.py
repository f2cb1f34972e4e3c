"""Pure helpers of the rollout reconciler."""

from __future__ import annotations

from modelship.controller.rollouts import unsupported_setting, with_deletions
from modelship_testing.rollout_sim import spec


def test_status_patch_nulls_nested_fields_that_disappeared() -> None:
    current = {"rollout": {"stage": "Canary", "startedAt": "t", "handled": {"promote": "1"}}}
    desired = {"rollout": {"handled": {"promote": "1"}}}
    assert with_deletions(current["rollout"], desired["rollout"]) == {
        "handled": {"promote": "1"},
        "stage": None,
        "startedAt": None,
    }
    assert with_deletions(None, {"a": 1}) == {"a": 1}
    assert with_deletions([1, 2], [3]) == [3]  # lists are replaced whole


def test_istio_router_is_reported_as_unsupported() -> None:
    istio = {"canary": {"traffic": {"router": "istio"}, "steps": [{"setWeight": 10}]}}
    problem = unsupported_setting(spec(strategy=istio))
    assert problem is not None
    assert problem.path == "spec.strategy.canary.traffic.router"
    assert "istio" in problem.message
    assert unsupported_setting(spec()) is None
