"""The one worker shape: reconcile, then wait for a wake-up, the plan's delay or a stop."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from modelship.runtime.worker import Workers, earliest

BODY = {"metadata": {"namespace": "ml", "name": "fraud"}}


class Stopped:
    """Like kopf's DaemonStopped: falsy until set, awaitable."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __bool__(self) -> bool:
        return self.event.is_set()

    async def wait(self) -> None:
        await self.event.wait()


class Recorder:
    def __init__(self, delays: list[float | None]) -> None:
        self.delays = delays
        self.passes: list[bool] = []
        self.forgotten: list[tuple[str, str]] = []
        self.echo = "7"
        self.loop = asyncio.get_running_loop()
        self.passed = asyncio.Event()

    def reconcile(self, body: Any, now: datetime | None = None, verify: bool = False) -> Any:
        self.passes.append(verify)
        self.loop.call_soon_threadsafe(self.passed.set)  # reconciles run in a thread
        if len(self.passes) == 2:
            raise RuntimeError("a bug: retried after a while, never in a hot loop")
        return self.delays[min(len(self.passes), len(self.delays)) - 1]

    def own_write(self, namespace: str, name: str, resource_version: str | None) -> bool:
        return resource_version == self.echo

    def forget(self, namespace: str, name: str) -> None:
        self.forgotten.append((namespace, name))


async def passes(reconciler: Recorder, count: int) -> None:
    """Wait until the reconciler has run `count` passes."""
    async with asyncio.timeout(5):
        while len(reconciler.passes) < count:
            await reconciler.passed.wait()
            reconciler.passed.clear()


async def test_requeue_wake_echo_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("modelship.runtime.worker.RETRY_SECONDS", 0.01)
    reconciler = Recorder([0.01, None, None])
    workers = Workers("ModelDeployment", reconciler)
    stopped = Stopped()
    task = asyncio.create_task(workers.run(BODY, stopped))
    # pass 1 asks for 10 ms; pass 2 raises (retried after RETRY_SECONDS); pass 3 waits.
    await passes(reconciler, 3)
    workers.changed("ml", "fraud", "7")  # the echo of our own write: no pass
    workers.changed("ml", "other", "8")  # another object: not this worker
    assert not workers.wakeups[("ml", "fraud")].is_set()
    assert len(reconciler.passes) == 3
    workers.changed("ml", "fraud", "8")  # a real change
    await passes(reconciler, 4)
    assert reconciler.passes == [False, False, False, False]  # no resync yet
    stopped.event.set()
    await asyncio.wait_for(task, 5)
    assert reconciler.forgotten == [("ml", "fraud")]
    assert workers.wakeups == {}


def test_earliest() -> None:
    assert earliest(None, None) is None
    assert earliest(5.0, None, 2.0) == 2.0
    assert earliest(0.0, 3.0) == 0.0
