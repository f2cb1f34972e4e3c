"""Replica arithmetic and revision hashing, as tables."""

from __future__ import annotations

import pytest
from modelship.rollout.replicas import guarded_scale_down, split_for_weight
from modelship.rollout.revision import revision_of
from modelship_testing.rollout_sim import spec


@pytest.mark.parametrize(
    ("total", "weight", "stable", "canary", "share"),
    [
        (1, 10, 1, 1, 50.0),  # rounding up: neither revision drops to zero pods
        (1, 0, 1, 0, 0.0),
        (1, 100, 0, 1, 100.0),
        (4, 25, 3, 1, 25.0),
        (4, 50, 2, 2, 50.0),
        (10, 5, 10, 1, 100 / 11),
        (0, 50, 0, 0, 0.0),
        (4, 150, 0, 4, 100.0),  # clamped
        (4, -5, 4, 0, 0.0),
    ],
)
def test_split_for_weight(total: int, weight: int, stable: int, canary: int, share: float) -> None:
    split = split_for_weight(total, weight)
    assert (split.stable, split.canary) == (stable, canary)
    assert split.canary_share == pytest.approx(share)
    assert split.stable + split.canary >= total


@pytest.mark.parametrize(
    ("target", "current", "total", "other_ready", "expected"),
    [
        (2, 4, 4, 0, 4),  # nothing replaces it yet: keep everything
        (2, 4, 4, 1, 3),
        (2, 4, 4, 2, 2),
        (2, 4, 4, 4, 2),  # never below the target
        (6, 4, 4, 0, 6),  # scaling up is never held back
        (0, 3, 3, 3, 0),
    ],
)
def test_guarded_scale_down(
    target: int, current: int, total: int, other_ready: int, expected: int
) -> None:
    assert guarded_scale_down(target, current, total, other_ready) == expected


def test_split_rejects_negative_totals() -> None:
    with pytest.raises(ValueError, match="negative"):
        split_for_weight(-1, 10)


def test_revision_changes_only_with_what_shapes_pods() -> None:
    base = revision_of(spec("1"), "img:1")
    assert base == revision_of(spec("1"), "img:1")
    assert len(base) == 10
    assert int(base, 16) >= 0
    assert revision_of(spec("2"), "img:1") != base
    assert revision_of(spec("1"), "img:2") != base
    assert revision_of(spec("1", replicas=9), "img:1") == base
    canary = {"canary": {"steps": [{"setWeight": 10}]}}
    assert revision_of(spec("1", strategy=canary), "img:1") == base
    resources = {"replicas": 4, "resources": {"requests": {"cpu": "1"}}}
    assert revision_of(spec("1", serving=resources), "img:1") != base
