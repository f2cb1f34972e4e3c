"""What the local API server's audit log says an identity did (cluster.AUDITED_NAMESPACE's
ServiceAccounts only), as RBAC permissions: (API group, resource[/subresource], verb)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

Permission = tuple[str, str, str]
"""(API group, "" for core; resource, with "/subresource" when there is one; verb)."""


def permissions(rules: Iterable[Mapping[str, Any]]) -> set[Permission]:
    """Every (group, resource, verb) a Role's or ClusterRole's rules grant."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


@dataclass(frozen=True)
class Request:
    user: str
    permission: Permission
    namespace: str
    code: int
    received: datetime
    authorized: bool
    """False when RBAC refused it (a 403 may also come from admission, e.g. a namespace
    being deleted)."""


def requests(log: Path, since: datetime) -> Iterator[Request]:
    """Resource requests recorded since `since` (requests for discovery paths such as /apis
    need no RBAC rule and are left out)."""
    if not log.exists():
        return
    with log.open() as lines:
        for line in lines:
            event: dict[str, Any] = json.loads(line)
            ref = event.get("objectRef")
            received = datetime.fromisoformat(event["requestReceivedTimestamp"])
            if not ref or received < since:
                continue
            resource = ref["resource"] + (
                f"/{ref['subresource']}" if ref.get("subresource") else ""
            )
            yield Request(
                user=event["user"]["username"],
                permission=(ref.get("apiGroup", ""), resource, event["verb"]),
                namespace=ref.get("namespace", ""),
                code=int((event.get("responseStatus") or {}).get("code") or 0),
                received=received,
                authorized=(event.get("annotations") or {}).get("authorization.k8s.io/decision")
                != "forbid",
            )
