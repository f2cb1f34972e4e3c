"""The memory of this process's own status writes, so a reconcile never plans on a status
older than the one it wrote, and the watch's echo of a write wakes nobody."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

Body = Mapping[str, Any]
Key = tuple[str, str]


class OwnWrites:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written: dict[Key, str] = {}
        """(namespace, name) -> resourceVersion of this process's last status write."""

    def record(self, key: Key, resource_version: str) -> None:
        with self._lock:
            self._written[key] = resource_version

    def is_echo(self, key: Key, resource_version: str | None) -> bool:
        with self._lock:
            return resource_version is not None and self._written.get(key) == resource_version

    def current(self, body: Body, read: Callable[[], Body]) -> Body:
        """`body`, or a fresh read when the watch has not yet delivered our last write.

        Woken (by a Deployment, say) before the watch delivered our own last status write,
        planning on the older status would repeat its decisions: read it, and expect the
        watch to deliver at least that version before trusting the watched body again."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._lock:
            expected = self._written.get(key)
            if expected is None:
                return body
            if meta.get("resourceVersion") == expected:
                del self._written[key]
                return body
        fresh = read()
        self.record(key, str(fresh["metadata"].get("resourceVersion")))
        return fresh

    def forget(self, key: Key) -> None:
        with self._lock:
            self._written.pop(key, None)
