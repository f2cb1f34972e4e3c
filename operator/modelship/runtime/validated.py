"""The reconciler of a kind whose pass is: validate the spec, resolve its references, plan
the status. DriftMonitors and RetrainPolicies until their evaluation and runs land.

An invalid object is reported as Stalled and the pass ends normally; the next spec change
(a new generation) wakes it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from modelship import metrics
from modelship.api.resources import Kind
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.logging import object_logger
from modelship.planners.assessment import NOT_ACTIONABLE, Existing
from modelship.planners.status import Assessment, StatusPlan, plan_status
from modelship.runtime.echo import OwnWrites
from modelship.runtime.status import StatusSink, write_status

Body = Mapping[str, Any]
Assessor = Callable[[Any, Existing, str], Assessment]
"""(parsed spec or its InvalidObjectError, existing objects, the object's name) ->
assessment."""
ExistingIn = Callable[[str], Existing]
"""namespace -> the objects that exist there (from the operator's indexes)."""


class ValidatedReconciler:
    def __init__(
        self, kind: Kind, assess: Assessor, sink: StatusSink, existing: ExistingIn
    ) -> None:
        self.kind = kind
        self.assess = assess
        self.sink = sink
        self.existing = existing
        self.own_writes = OwnWrites()

    def actionable(self, body: Body) -> Any | None:
        """The parsed spec when it is valid and its references resolve; None when the pass
        is this class's (report Invalid, ReferenceNotFound or a conflict), not the kind's."""
        try:
            spec: Any = parse_spec(self.kind, body)
        except InvalidObjectError:
            return None
        meta = body["metadata"]
        assessment = self.assess(spec, self.existing(meta["namespace"]), meta["name"])
        return None if assessment.reason in NOT_ACTIONABLE else spec

    def plan(self, body: Body, now: datetime) -> StatusPlan:
        meta = body["metadata"]
        try:
            spec: Any = parse_spec(self.kind, body)
        except InvalidObjectError as err:
            spec = err
        assessment = self.assess(spec, self.existing(meta["namespace"]), meta["name"])
        generation = int(meta.get("generation") or 0)
        return plan_status(body.get("status"), assessment, generation, now)

    def reconcile(
        self, body: Body, now: datetime | None = None, verify: bool = False
    ) -> float | None:
        started = time.perf_counter()
        plan = self.plan(body, (now or datetime.now(UTC)).replace(microsecond=0))
        phase = str(plan.patch.get("phase") or (body.get("status") or {}).get("phase"))
        metrics.RECONCILE_SECONDS.labels(self.kind.kind).observe(time.perf_counter() - started)
        metrics.RECONCILES.labels(self.kind.kind, phase).inc()
        write_status(self.sink, self.own_writes, self.kind, body, plan)
        if plan.patch:
            metrics.STATUS_WRITES.labels(self.kind.kind).inc()
            object_logger(body, self.kind.kind).info(
                "status changed",
                phase=phase,
                message=plan.patch.get("message"),
                fields=sorted(plan.patch),
            )
        return None

    def own_write(self, namespace: str, name: str, resource_version: str | None) -> bool:
        return self.own_writes.is_echo((namespace, name), resource_version)

    def forget(self, namespace: str, name: str) -> None:
        self.own_writes.forget((namespace, name))
