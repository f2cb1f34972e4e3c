"""Predictions remembered by request id, so ground truth sent later can be scored."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Stored form: tuples of strings or a numpy array, which CPython's collector mostly stops
# tracking, rather than lists and dicts, so a full cache (10^4 entries) adds little to full
# garbage-collection passes.
_Stored = tuple[tuple[str, ...] | NDArray[np.float64], tuple[tuple[str, tuple[str, ...]], ...]]


@dataclass(frozen=True)
class Remembered:
    predicted: list[str] | NDArray[np.float64]  # class labels, or values for regressors
    groups: dict[str, list[str]]  # fairness attribute -> group per row

    @property
    def rows(self) -> int:
        return len(self.predicted)

    def stored(self) -> _Stored:
        predicted = (
            self.predicted if isinstance(self.predicted, np.ndarray) else tuple(self.predicted)
        )
        return predicted, tuple((a, tuple(g)) for a, g in self.groups.items())

    @classmethod
    def from_stored(cls, stored: _Stored) -> Remembered:
        predicted, groups = stored
        labels = predicted if isinstance(predicted, np.ndarray) else list(predicted)
        return cls(labels, {a: list(g) for a, g in groups})


class FeedbackCache:
    """A bounded LRU: the oldest requests are forgotten first; each is scored at most once."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 0)
        self._entries: OrderedDict[str, _Stored] = OrderedDict()

    def remember(self, request_id: str, entry: Remembered) -> None:
        if self.capacity == 0:
            return
        self._entries[request_id] = entry.stored()
        self._entries.move_to_end(request_id)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def take(self, request_id: str) -> Remembered | None:
        stored = self._entries.pop(request_id, None)
        return None if stored is None else Remembered.from_stored(stored)

    def put_back(self, request_id: str, entry: Remembered) -> None:
        self.remember(request_id, entry)

    def __len__(self) -> int:
        return len(self._entries)
