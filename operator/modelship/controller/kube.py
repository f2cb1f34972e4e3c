"""The thin Kubernetes adapter: the only place the controller writes to the API.

Status goes into kopf's patch (kopf sends it, one PATCH per pass, and only when non-empty);
Events go through kopf's event poster. Nothing here decides anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from typing import Any, cast

import kopf

from modelship.api.resources import GROUP, VERSION, Kind
from modelship.planners.status import StatusPlan


def apply_status(patch: MutableMapping[str, Any], plan: StatusPlan) -> None:
    """Queue the plan's status changes on kopf's patch for this object."""
    if plan.patch:
        status = patch.setdefault("status", {})
        status.update(plan.patch)


def record_events(body: Mapping[str, Any], plan: StatusPlan) -> None:
    for transition in plan.transitions:
        kopf.event(
            cast(kopf.Body, body),
            type=transition.type,
            reason=transition.reason,
            message=transition.message[:1024],
        )


class StatusWriter:
    """Patches the status of objects other than the one a kopf handler runs for.

    Used when a referenced object appears or disappears and the objects referring to it must
    be re-planned. One small synchronous client, called off the event loop.
    """

    def __init__(self) -> None:
        self._api: Any = None

    def _custom_objects(self) -> Any:
        if self._api is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            self._api = client.CustomObjectsApi()
        return self._api

    async def patch_status(self, kind: Kind, body: Mapping[str, Any], status: Any) -> None:
        meta = body["metadata"]
        api = self._custom_objects()
        await asyncio.to_thread(
            api.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            meta["namespace"],
            kind.plural,
            meta["name"],
            {"status": status},
        )
