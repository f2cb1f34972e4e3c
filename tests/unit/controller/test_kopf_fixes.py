"""kopf keeps watching a terminating namespace until it is gone (controller/kopf_fixes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from kopf._cogs.structs import references
from kopf._core.reactor import observation
from modelship.controller import kopf_fixes


def terminating(conditions: list[dict[str, str]]) -> dict[str, Any]:
    return {"metadata": {"name": "ml", "deletionTimestamp": "2026-12-06T00:00:00Z"},
            "status": {"phase": "Terminating", "conditions": conditions}}  # fmt: skip


# What the namespace controller reports for a moment after the deletion, before it has
# counted what remains: no condition True.
COUNTING = [{"type": "NamespaceContentRemaining", "status": "False"},
            {"type": "NamespaceFinalizersRemaining", "status": "False"}]  # fmt: skip


def watched_after(events: list[dict[str, Any]]) -> set[Any]:
    insights = references.Insights()
    insights.namespaces.add("ml")
    observation.revise_namespaces(raw_events=events, insights=insights, namespaces=["ml"])
    return set(insights.namespaces)


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observation, "is_deleted", observation.is_deleted)  # restored after
    assert kopf_fixes.watch_namespaces_until_gone()


def test_unfixed_kopf_stops_watching_a_namespace_that_is_still_terminating() -> None:
    # The fault the fix is for: if kopf ever changes this, the fix may go.
    assert watched_after([{"type": "MODIFIED", "object": terminating(COUNTING)}]) == set()


@pytest.mark.usefixtures("fixed")
def test_a_terminating_namespace_is_watched_until_it_is_gone() -> None:
    assert watched_after([{"type": "MODIFIED", "object": terminating(COUNTING)}]) == {"ml"}
    assert watched_after([{"type": "DELETED", "object": terminating(COUNTING)}]) == set()
