"""Pure helpers of the rollout reconciler."""

from __future__ import annotations

from modelship.planners.status import merge_patch as with_deletions


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


def test_a_status_from_another_version_is_read_field_by_field() -> None:
    from modelship.api.modeldeployment import ModelDeploymentStatus
    from modelship.api.rolloutstate import RolloutState
    from modelship.modeldeployment.reconciler import lenient

    raw = {
        "phase": "Progressing",
        "stableRevision": "abc",
        "canaryRevision": "def",
        "history": [{"revision": "abc", "unknownField": 1}],  # unreadable: dropped alone
        "futureField": {"x": 1},  # unknown: ignored
        "rollout": {},
    }
    status = lenient(ModelDeploymentStatus, raw)
    assert (status.stable_revision, status.canary_revision) == ("abc", "def")
    assert status.history is None
    state = lenient(RolloutState, {"stage": "Canary", "handled": {"promote": "1"}, "new": 2})
    assert state.handled.promote == "1"
