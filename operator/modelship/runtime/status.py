"""Writing one object's planned status and Events: the one writer of each object's status.

Through the Kubernetes adapter (a structural `StatusSink`, so this tier imports no adapter),
recording each write so the watch's echo of it wakes nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from modelship.api.resources import Kind
from modelship.planners.status import StatusPlan, Transition
from modelship.runtime.echo import OwnWrites


class StatusSink(Protocol):
    def patch_status(
        self, resource: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str: ...

    def post_event(self, obj: Mapping[str, Any], event: Transition) -> None: ...


def write_status(
    sink: StatusSink, own_writes: OwnWrites, kind: Kind, body: Mapping[str, Any], plan: StatusPlan
) -> None:
    """Patch the status when the plan changes it, then record the plan's Events."""
    meta = body["metadata"]
    key = (meta["namespace"], meta["name"])
    if plan.patch:
        own_writes.record(key, sink.patch_status(kind, *key, plan.patch))
    for transition in plan.transitions:
        sink.post_event(body, transition)
