"""The feedback cache: bounded, and each request scored at most once."""

from __future__ import annotations

import numpy as np
from modelship.server.feedback import FeedbackCache, Remembered


def test_oldest_entries_are_forgotten_first() -> None:
    cache = FeedbackCache(capacity=2)
    for name in ("a", "b", "c"):
        cache.remember(name, Remembered(["x"], {}))
    assert len(cache) == 2
    assert cache.take("a") is None
    assert cache.take("c") == Remembered(["x"], {})
    assert cache.take("c") is None  # taken once


def test_round_trip_of_labels_values_and_groups() -> None:
    cache = FeedbackCache(capacity=5)
    cache.remember("labels", Remembered(["approve", "deny"], {"gender": ["F", "M"]}))
    cache.remember("values", Remembered(np.array([1.5, 2.5]), {}))
    assert cache.take("labels") == Remembered(["approve", "deny"], {"gender": ["F", "M"]})
    values = cache.take("values")
    assert values is not None
    assert values.predicted.tolist() == [1.5, 2.5]  # type: ignore[union-attr]


def test_zero_capacity_remembers_nothing() -> None:
    cache = FeedbackCache(capacity=0)
    cache.remember("a", Remembered(["x"], {}))
    assert cache.take("a") is None
