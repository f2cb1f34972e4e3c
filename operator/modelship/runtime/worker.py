"""One worker per object, for every kind: reconcile, then sleep until woken, until the plan's
next moment, or until the periodic resync.

Reconciles of one object never overlap (one worker each); they run the blocking Kubernetes
client in the event loop's thread pool. Interval work (analysis rounds, drift evaluations,
cron) is the delay a reconcile returns, not a loop of its own.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from modelship.logging import object_logger

Body = Mapping[str, Any]
# A converged object is re-read this often even when nothing wakes it (a missed watch event
# must not leave it stale forever). Reads only: an unchanged plan writes nothing.
RESYNC_SECONDS = 600.0
# A reconcile that raised is tried again after this long, never in a hot loop.
RETRY_SECONDS = 10.0


class Reconciler(Protocol):
    """What a kind supplies: one read → plan → apply → status pass."""

    def reconcile(
        self, body: Body, now: datetime | None = None, verify: bool = False
    ) -> float | None:
        """One pass; seconds until the plan wants another look (None: only on change).
        `verify` asks to re-read what the process remembers (the periodic resync)."""
        ...

    def own_write(self, namespace: str, name: str, resource_version: str | None) -> bool:
        """Whether this version of the object is the echo of this process's status write."""
        ...

    def forget(self, namespace: str, name: str) -> None:
        """Drop what is remembered of the object (it was deleted, or its worker stopped)."""
        ...


def earliest(*delays: float | None) -> float | None:
    """The soonest of several requeue delays; None when none asks for one."""
    wanted = [d for d in delays if d is not None]
    return min(wanted) if wanted else None


class Workers:
    """The workers of one kind, keyed by (namespace, name)."""

    def __init__(self, kind: str, reconciler: Reconciler) -> None:
        self.kind = kind
        self.reconciler = reconciler
        self.wakeups: dict[tuple[str, str], asyncio.Event] = {}

    def wake(self, namespace: str, name: str) -> None:
        event = self.wakeups.get((namespace, name))
        if event is not None:
            event.set()

    def changed(
        self, namespace: str | None, name: str | None, resource_version: str | None
    ) -> None:
        """The object changed: wake its worker, unless this is the echo of our own write
        (nothing in it asks for another pass, so no pass and no reads)."""
        if namespace and name and not self.reconciler.own_write(namespace, name, resource_version):
            self.wake(namespace, name)

    async def run(self, body: Body, stopped: Any) -> None:
        """The worker of one object, until `stopped` (kopf's DaemonStopped) is set."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        wakeup = self.wakeups.setdefault(key, asyncio.Event())
        log = object_logger(body, self.kind)
        log.info("worker started")
        verify = False
        try:
            while not stopped:
                wakeup.clear()
                try:
                    reconcile = functools.partial(self.reconciler.reconcile, verify=verify)
                    delay = await asyncio.to_thread(reconcile, _snapshot(body))
                except Exception as err:
                    log.exception("reconcile failed", error=str(err))
                    delay = RETRY_SECONDS
                timeout = RESYNC_SECONDS if delay is None else min(delay, RESYNC_SECONDS)
                woken = asyncio.ensure_future(wakeup.wait())
                stopping = asyncio.ensure_future(stopped.wait())
                done, pending = await asyncio.wait(
                    {woken, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                verify = not done and timeout >= RESYNC_SECONDS
        finally:
            self.wakeups.pop(key, None)
            self.reconciler.forget(*key)


def _snapshot(body: Body) -> dict[str, Any]:
    """A plain copy of kopf's live body, stable for the length of one reconcile."""
    return copy.deepcopy(dict(body))
