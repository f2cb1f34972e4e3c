"""How children are compared with the live objects, and which watch events are someone
else's change (planners/children.py)."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.planners.children import Seen, contains, foreign_change, restore_patch

HASH = "modelship.io/hash"


@pytest.mark.parametrize(
    ("live", "want", "held"),
    [
        ({"a": 1}, {"b": None}, True),  # None: absent
        ({"a": 1, "b": 2}, {"b": None}, False),
        ({"a": 1}, {"b": {}}, True),  # empty: dropped by the API server
        ({"a": 1}, {"b": []}, True),
        ({"a": 1, "b": [3]}, {"b": []}, False),
        ({"a": [1, 2]}, {"a": [1]}, False),  # a list is compared item by item, whole
        ({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]}, True),  # defaults inside items
        ({"port": 80, "protocol": "TCP"}, {"port": 80}, True),
        ({"port": 81}, {"port": 80}, False),
        ({"targetPort": "http"}, {"targetPort": 8080}, False),
    ],
)
def test_contains(live: Any, want: Any, held: bool) -> None:
    assert contains(live, want) is held


def service(selector: dict[str, str], digest: str = "h1") -> dict[str, Any]:
    return {"kind": "Service",
            "metadata": {"name": "fraud", "labels": {"l": "v"}, "annotations": {HASH: digest}},
            "spec": {"selector": selector, "ports": [{"port": 80}]}}  # fmt: skip


BOTH = {"md": "fraud"}
BLUE = {"md": "fraud", "revision": "blue"}


@pytest.mark.parametrize(
    ("live", "want", "selector"),
    [
        (service(BLUE), service(BLUE), None),  # as it should be: no patch
        (service(BLUE, digest="h0"), service(BLUE), BLUE),  # another manifest
        (service({"md": "x"}), service(BLUE), BLUE),  # edited, hash kept
        (service(BLUE), service(BOTH, digest="h2"), {"md": "fraud", "revision": None}),
        (service({**BLUE, "by": "hand"}), service(BLUE), {**BLUE, "by": None}),
    ],
)
def test_restore_patch(live: dict[str, Any], want: dict[str, Any], selector: Any) -> None:
    patch = restore_patch(want, live, HASH)
    if selector is None:
        assert patch is None
    else:
        assert patch is not None
        assert patch["spec"]["selector"] == selector
        assert patch["metadata"]["annotations"] == want["metadata"]["annotations"]


MINE = Seen("10", 1)


@pytest.mark.parametrize(
    ("seen", "version", "generation", "deleted", "wanted", "foreign"),
    [
        (MINE, "10", 1, False, True, False),  # the echo of its own write
        (MINE, "11", 1, False, True, False),  # another controller's status write
        (MINE, "11", 2, False, True, True),  # its spec edited
        (MINE, "11", None, False, True, True),  # a kind without generation: any change
        (None, "5", 1, False, True, True),  # nothing written yet (an event before the answer)
        (MINE, "12", 1, True, True, True),  # deleted by someone
        (MINE, "12", 1, True, False, False),  # deleted because the plan dropped it
        (None, "12", 1, True, True, True),
    ],
)
def test_foreign_change(seen: Seen | None, version: str, generation: int | None,
                        deleted: bool, wanted: bool, foreign: bool) -> None:  # fmt: skip
    assert foreign_change(seen, version, generation, deleted, wanted) is foreign
