"""Fault injection for the integration tests: seeded kill points, a record of every status an
object passed through (kept across API server restarts), the operator's requests as the API
server's audit log saw them, a writer that races the operator, and API Priority and Fairness
objects that make the API server answer the operator 429.

Each fault test prints one `FAULTS` line with the figures it measured (run pytest with `-s`);
docs/reliability.md quotes them.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config, watch

from modelship_testing.audit import Request, requests

GROUP, VERSION = "modelship.io", "v1alpha1"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def fraud_model(version: str = "1") -> dict[str, Any]:
    """`spec.model` of the fault tests' ModelDeployment (no server runs it: KWOK pods)."""
    return {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/"}


def seeds(fixed: tuple[int, ...]) -> list[int]:
    """The fixed seeds of a test, plus MODELSHIP_FAULT_SEED when set (to replay a failure or
    try a fresh one)."""
    extra = os.environ.get("MODELSHIP_FAULT_SEED")
    return [*fixed, int(extra)] if extra else list(fixed)


class KillPoints:
    """Seeded random moments to inject a fault at; the seed is printed so a failure replays."""

    def __init__(self, seed: int, what: str) -> None:
        self.seed, self.what = seed, what
        self.rng = random.Random(seed)
        self.taken: list[float] = []
        print(f"FAULTS {what}: seed {seed}")

    def wait(self, low: float, high: float) -> float:
        """Let the system run for a random time in [low, high] s: the fault lands wherever
        it is then (a pause that is the point of the test, not a wait for a condition)."""
        delay = round(self.rng.uniform(low, high), 2)
        self.taken.append(delay)
        time.sleep(delay)
        return delay


def report(test: str, **figures: object) -> None:
    print(f"FAULTS {test}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


class StatusTrail:
    """Every status of one modelship object from now on, from a watch that re-lists after
    any error (an API server or etcd restart), so no transition is missed for long."""

    def __init__(self, api: client.ApiClient, namespace: str, plural: str, name: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.plural, self.name = namespace, plural, name
        self.statuses: list[tuple[float, dict[str, Any]]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StatusTrail:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _record(self, body: dict[str, Any]) -> None:
        status = dict(body.get("status") or {})
        if not self.statuses or self.statuses[-1][1] != status:
            self.statuses.append((time.monotonic(), status))

    def _run(self) -> None:
        selector = f"metadata.name={self.name}"
        while not self._stop.is_set():
            try:
                listed = cast(dict[str, Any], self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, self.plural, field_selector=selector
                ))  # fmt: skip
                for item in listed["items"]:
                    self._record(item)
                stream = watch.Watch().stream(
                    self.custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace,
                    self.plural, field_selector=selector,
                    resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=5,
                )  # fmt: skip
                for event in stream:
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._record(event["object"])
                    if self._stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - the API server may be down: list again
                self.errors += 1
                self._stop.wait(0.5)

    def values(self, key: str) -> list[Any]:
        """The successive distinct values of one status field (None where absent)."""
        seen: list[Any] = []
        for _, status in self.statuses:
            value = status.get(key)
            if not seen or seen[-1] != value:
                seen.append(value)
        return seen

    def conditions(self, kind: str) -> list[str]:
        """The successive statuses of one condition."""
        seen: list[str] = []
        for _, status in self.statuses:
            found = next((c for c in status.get("conditions") or [] if c["type"] == kind), None)
            value = f"{found['status']}:{found.get('reason')}" if found else "absent"
            if not seen or seen[-1] != value:
                seen.append(value)
        return seen

    def first_change_after(self, moment: float) -> float | None:
        """When the status first changed at or after `moment` (monotonic clock)."""
        return next((at for at, _ in self.statuses if at >= moment), None)


def operator_requests(audit_log: Path, user: str, namespace: str, since: datetime
                      ) -> list[Request]:  # fmt: skip
    return [r for r in requests(audit_log, since) if r.user == user and r.namespace == namespace]


def writes(found: list[Request]) -> list[Request]:
    return [r for r in found if r.permission[2] in WRITE_VERBS]


def codes(found: list[Request]) -> Counter[int]:
    return Counter(r.code for r in found)


def now() -> datetime:
    return datetime.now(UTC)


def event_counts(api: client.ApiClient, namespace: str, name: str) -> Counter[str]:
    """How many times each Event reason was posted about `name` (repeats aggregated by the
    API server count too)."""
    listed = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    counted: Counter[str] = Counter()
    for event in listed.items:
        counted[str(event.reason)] += int(event.count or 1)
    return counted


class ConflictingWriter:
    """Another controller writing the same object's status and metadata with optimistic
    concurrency (read, change, PUT with the resourceVersion read), as fast as it can: each
    write that lands between the operator's read and write, or the other way round, is a 409
    for one of the two."""

    def __init__(self, api: client.ApiClient, namespace: str, plural: str, name: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.plural, self.name = namespace, plural, name
        self.outcomes: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConflictingWriter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            turn += 1
            try:
                body = cast(dict[str, Any], self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, self.plural, self.name
                ))  # fmt: skip
                if turn % 2:
                    # The status as read, sent back: it lands only if nobody wrote since.
                    self.custom.replace_namespaced_custom_object_status(
                        GROUP, VERSION, self.namespace, self.plural, self.name, body
                    )
                else:
                    labels = body["metadata"].setdefault("labels", {})
                    labels["faults.modelship.io/writer"] = str(turn)
                    self.custom.replace_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, self.plural, self.name, body
                    )
                self.outcomes[200] += 1
            except client.ApiException as err:
                self.outcomes[int(err.status or 0)] += 1
            except Exception:  # noqa: BLE001 - a dropped connection: count and go on
                self.outcomes[0] += 1
            self._stop.wait(0.02)  # as fast as a busy controller, not a load test


# API Priority and Fairness: a priority level with no seats that rejects at once, and a flow
# schema sending one user's writes in one namespace there. The operator then gets 429 for
# every write while its reads and watches still work.
APF = "flowcontrol.apiserver.k8s.io"


def throttle_manifests(name: str, user: str, namespace: str) -> tuple[dict[str, Any], ...]:
    level = {
        "apiVersion": f"{APF}/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": name},
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 0,
                "lendablePercent": 0,
                "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"},
            },
        },
    }
    schema = {
        "apiVersion": f"{APF}/v1",
        "kind": "FlowSchema",
        "metadata": {"name": name},
        "spec": {
            "priorityLevelConfiguration": {"name": name},
            "matchingPrecedence": 10,  # after exempt (1) and probes (2)
            "distinguisherMethod": {"type": "ByUser"},
            "rules": [
                {
                    "subjects": [{"kind": "User", "user": {"name": user}}],
                    "resourceRules": [
                        {
                            "verbs": sorted(WRITE_VERBS),
                            "apiGroups": ["*"],
                            "resources": ["*"],
                            "namespaces": [namespace],
                        }
                    ],
                }
            ],
        },
    }
    return level, schema


class Saturator:
    """Threads writing (dry-run ConfigMaps) as `user`, impersonated, back to back: they keep
    the seats of its priority level busy, so the API server answers the user's own requests
    429 whenever none is free. Impersonated requests are audited as the admin's, which the
    audit policy leaves out: the operator's counts stay its own."""

    def __init__(self, kubeconfig: str, user: str, namespace: str, threads: int = 6) -> None:
        self.api = config.new_client_from_config(config_file=kubeconfig)
        self.api.configuration.connection_pool_maxsize = threads
        self.api.set_default_header("Impersonate-User", user)
        self.core = client.CoreV1Api(self.api)
        self.namespace = namespace
        self.outcomes: Counter[int] = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Saturator:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self.api.close()

    def _run(self) -> None:
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="faults-load-"))
        while not self._stop.is_set():
            try:
                self.core.create_namespaced_config_map(self.namespace, body, dry_run="All")
                self.outcomes[201] += 1
            except client.ApiException as err:
                self.outcomes[int(err.status or 0)] += 1
            except Exception:  # noqa: BLE001 - a dropped connection: count and go on
                self.outcomes[0] += 1


@contextmanager
def throttled(kubeconfig: str, api: client.ApiClient, user: str, namespace: str
              ) -> Iterator[Saturator]:  # fmt: skip
    """While inside: `user`'s writes in `namespace` go to a priority level of the fewest
    seats the API server gives (it keeps one even at zero shares), which rejects at once when
    busy, and a Saturator keeps that seat busy: the user's writes are answered 429 most of
    the time. Waits until the saturating writes themselves see 429s (the API server applies
    new flow schemas asynchronously)."""
    from modelship_testing.waiters import wait_for

    custom = client.CustomObjectsApi(api)
    name = f"faults-{namespace}"[:63]
    level, schema = throttle_manifests(name, user, namespace)
    custom.create_cluster_custom_object(APF, "v1", "prioritylevelconfigurations", level)
    custom.create_cluster_custom_object(APF, "v1", "flowschemas", schema)
    try:
        with Saturator(kubeconfig, user, namespace) as load:
            wait_for(lambda: load.outcomes[429] > 0, timeout=60,
                     describe="the API server to answer 429")  # fmt: skip
            yield load
    finally:
        for plural in ("flowschemas", "prioritylevelconfigurations"):
            try:
                custom.delete_cluster_custom_object(APF, "v1", plural, name)
            except client.ApiException as err:
                if err.status != 404:
                    raise
