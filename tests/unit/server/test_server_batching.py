"""Micro-batching: shared predicts, exact splits, failures isolated and never retried alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest
from modelship.server.batching import MicroBatcher, Outputs
from modelship.server.schema import Batch


def batch(*values: float) -> Batch:
    return Batch(len(values), np.array(values, dtype=float).reshape(-1, 1), {}, {})


class Model:
    def __init__(self, fail_on: float | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on

    def __call__(self, data: Batch, outputs: Sequence[str]) -> Outputs:
        self.calls.append(data.rows)
        if self.fail_on is not None and self.fail_on in data.numeric:
            raise ValueError(f"cannot predict {self.fail_on}")
        return {"predict": data.numeric[:, 0] * 10}


async def test_concurrent_requests_share_one_predict_and_get_their_own_rows() -> None:
    model = Model()
    batcher = MicroBatcher(model)
    results = await asyncio.gather(
        batcher.predict(batch(1, 2), ["predict"]), batcher.predict(batch(3), ["predict"])
    )
    assert [r["predict"].tolist() for r in results] == [[10, 20], [30]]
    assert model.calls == [3]


async def test_a_failing_request_does_not_fail_the_others() -> None:
    model = Model(fail_on=2.0)
    batcher = MicroBatcher(model)
    good, bad = await asyncio.gather(
        batcher.predict(batch(1), ["predict"]),
        batcher.predict(batch(2), ["predict"]),
        return_exceptions=True,
    )
    assert isinstance(good, dict)
    assert good["predict"].tolist() == [10]
    assert isinstance(bad, ValueError)
    assert model.calls == [2, 1, 1]  # together, then each alone


async def test_a_lone_request_is_predicted_once_even_when_it_fails() -> None:
    model = Model(fail_on=2.0)
    with pytest.raises(ValueError, match="cannot predict"):
        await MicroBatcher(model).predict(batch(2), ["predict"])
    assert model.calls == [1]


async def test_a_full_batch_flushes_at_once() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_rows=2)
    result = await batcher.predict(batch(1, 2), ["predict"])
    assert result["predict"].tolist() == [10, 20]
