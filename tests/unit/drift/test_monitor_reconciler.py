"""The DriftMonitor reconciler against a fake Kubernetes adapter and a fake Prometheus: when it
evaluates, what it writes, and that a failure is Unknown, never drift."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException
from modelship.adapters.prometheus import PrometheusUnavailableError
from modelship.api.resources import Kind
from modelship.driftmonitor.reconciler import DriftMonitorReconciler
from modelship.planners.assessment import Existing
from modelship.planners.status import Transition
from modelship.rollout.types import RevisionObserved
from prometheus_client import REGISTRY

from tests.unit.drift.test_evaluate import PROFILE, RNG, frame, live_counts

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MONITOR = {
    "apiVersion": "modelship.io/v1alpha1",
    "kind": "DriftMonitor",
    "metadata": {"name": "fraud-drift", "namespace": "ml", "generation": 1, "uid": "u-1"},
    "spec": {"modelDeploymentRef": "fraud", "interval": "5m", "window": "1h"},
}


def vector(live: Any) -> list[dict[str, Any]]:
    """The live counts as the evaluation query's answer."""
    out: list[dict[str, Any]] = []

    def add(part: str, value: float, **labels: str) -> None:
        out.append({"metric": {"ms_part": part, **labels}, "value": [0, str(value)]})

    for feature, buckets in live.numeric.items():
        for le, value in buckets:
            add("numeric", value, feature=feature, le=le)
    for feature, counts in live.categorical.items():
        for category, value in counts.items():
            add("categorical", value, feature=feature, category=category)
    for cls, value in live.prediction_classes.items():
        add("predictionClass", value, **{"class": cls})
    add("rows", live.rows)
    return out


class FakeCluster:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.patches = 0
        self.events: list[Transition] = []
        self.stable: str | None = "rev1"
        self.profiles = {"fraud-v1-profile": PROFILE.to_json()}
        self.mounted = ("fraud-v1-profile", "profile.json")
        self.version = "1"

    def read(self, resource: Kind, namespace: str, name: str) -> dict[str, Any]:
        if resource.kind == "DriftMonitor":
            return body(self)
        if name != "fraud":
            raise ApiException(status=404)
        return {"status": {"stableRevision": self.stable} if self.stable else {}}

    def revisions(self, namespace: str, md_name: str) -> dict[str, RevisionObserved]:
        assert self.stable is not None
        return {self.stable: RevisionObserved(self.stable, 2, 2, 2, model_version=self.version,
                                              profile=self.mounted)}  # fmt: skip

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return {"profile.json": self.profiles[name]} if name in self.profiles else None

    def patch_status(
        self, resource: Kind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> str:
        self.patches += 1
        self.status = {k: v for k, v in {**self.status, **status}.items() if v is not None}
        return str(self.patches)

    def post_event(self, obj: Mapping[str, Any], event: Transition) -> None:
        self.events.append(event)


class FakePrometheus:
    def __init__(self) -> None:
        self.answer: list[dict[str, Any]] = vector(live_counts(PROFILE, frame(1_000, RNG)))
        self.down = False
        self.queries: list[str] = []

    def client(self, conn: Any, namespace: str, address: str | None = None) -> FakePrometheus:
        return self

    def query(self, expr: str) -> list[dict[str, Any]]:
        self.queries.append(expr)
        if self.down:
            raise PrometheusUnavailableError("connection refused or reset")
        return self.answer


def setup() -> tuple[DriftMonitorReconciler, FakeCluster, FakePrometheus]:
    cluster, prometheus = FakeCluster(), FakePrometheus()
    existing = Existing(model_deployments={"fraud"})
    reconciler = DriftMonitorReconciler(cluster, prometheus, lambda ns: existing)  # type: ignore[arg-type]
    return reconciler, cluster, prometheus


def body(cluster: FakeCluster) -> dict[str, Any]:
    """The monitor as the watch delivers it after the fake's last status write."""
    meta = {**MONITOR["metadata"], "resourceVersion": str(cluster.patches)}  # type: ignore[dict-item]
    return {**MONITOR, "metadata": meta, "status": dict(cluster.status)}


def conditions(cluster: FakeCluster) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in cluster.status["conditions"]}


def test_evaluates_every_interval_and_writes_once_per_evaluation() -> None:
    reconciler, cluster, prometheus = setup()
    assert reconciler.reconcile(body(cluster), now=T0) == 300.0
    assert len(prometheus.queries) == 1  # one query per evaluation
    assert cluster.status["phase"] == "Monitoring"
    assert conditions(cluster)["Drifted"] == ("False", "NoDrift")
    assert cluster.status["reference"] == {
        "configMap": "fraud-v1-profile", "key": "profile.json", "revision": "rev1",
        "modelVersion": "1", "source": "profile",
    }  # fmt: skip
    assert len(cluster.status["features"]) == len(PROFILE.features)
    assert cluster.status["lastEvaluationTime"] == "2026-12-03T09:00:00Z"
    # Woken early (an edit of another field, a resync): no evaluation before it is due.
    assert reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=2)) == 180.0
    assert len(prometheus.queries) == 1
    # Due, and the same answer: evaluated, one write of its time only, no Event.
    patches, events = cluster.patches, len(cluster.events)
    assert reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=5)) == 300.0
    assert len(prometheus.queries) == 2
    assert cluster.patches == patches + 1
    assert cluster.status["lastEvaluationTime"] == "2026-12-03T09:05:00Z"
    assert len(cluster.events) == events


def drifted() -> tuple[DriftMonitorReconciler, FakeCluster, FakePrometheus]:
    """A monitor evaluated twice: no drift at T0, drift on four features 5 minutes later."""
    reconciler, cluster, prometheus = setup()
    reconciler.reconcile(body(cluster), now=T0)
    shifted = frame(1_000, RNG, shift={"x0": 1.5, "x1": 1.5, "x2": 1.5, "x3": 1.5})
    prometheus.answer = vector(live_counts(PROFILE, shifted))
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=5))
    return reconciler, cluster, prometheus


def test_drift_found_then_cleared_raises_events_on_transitions_only() -> None:
    reconciler, cluster, prometheus = drifted()
    assert cluster.status["phase"] == "Drifted"
    assert conditions(cluster)["Drifted"] == ("True", "DatasetDrift")
    reasons = [(e.type, e.reason) for e in cluster.events]
    assert ("Warning", "DatasetDrift") in reasons
    assert ("Warning", "FeatureDrift") in reasons
    events = len(cluster.events)
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=10))  # still drifted
    assert len(cluster.events) == events
    prometheus.answer = vector(live_counts(PROFILE, frame(1_000, RNG)))
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=15))
    assert conditions(cluster)["Drifted"] == ("False", "NoDrift")
    assert [(e.type, e.reason) for e in cluster.events[events:]] == [("Normal", "NoDrift")]


def test_drift_that_ends_through_unknown_still_records_no_drift() -> None:
    reconciler, cluster, prometheus = drifted()
    prometheus.down = True  # no verdict: Monitoring, Drifted Unknown
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=10))
    assert conditions(cluster)["Drifted"] == ("Unknown", "PrometheusUnavailable")
    events = len(cluster.events)
    prometheus.down = False
    prometheus.answer = vector(live_counts(PROFILE, frame(1_000, RNG)))
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=15))
    assert conditions(cluster)["Drifted"] == ("False", "NoDrift")
    assert [(e.type, e.reason) for e in cluster.events[events:]] == [("Normal", "NoDrift")]
    # ...once: the next no-drift verdict is no news.
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=20))
    assert len(cluster.events) == events + 1


def test_prometheus_down_is_unknown_and_fires_nothing() -> None:
    reconciler, cluster, prometheus = setup()
    prometheus.down = True
    reconciler.reconcile(body(cluster), now=T0)
    assert cluster.status["phase"] == "Monitoring"
    status, reason = conditions(cluster)["Drifted"]
    assert (status, reason) == ("Unknown", "PrometheusUnavailable")
    assert "connection refused" in cluster.status["message"]
    assert all(e.type == "Normal" for e in cluster.events)


def test_a_missing_profile_is_unknown_naming_the_config_map() -> None:
    reconciler, cluster, prometheus = setup()
    cluster.profiles = {}
    reconciler.reconcile(body(cluster), now=T0)
    assert conditions(cluster)["Drifted"] == ("Unknown", "ProfileNotFound")
    assert "profile ConfigMap fraud-v1-profile does not exist" in cluster.status["message"]
    assert prometheus.queries == []


def test_no_stable_revision_yet_is_pending() -> None:
    reconciler, cluster, _ = setup()
    cluster.stable = None
    assert reconciler.reconcile(body(cluster), now=T0) == 10.0  # looks again soon
    assert cluster.status["phase"] == "Pending"
    assert conditions(cluster)["Drifted"][0] == "Unknown"


def test_a_promoted_version_switches_the_reference_with_an_event() -> None:
    reconciler, cluster, _ = setup()
    reconciler.reconcile(body(cluster), now=T0)
    cluster.stable, cluster.version = "rev2", "2"
    cluster.profiles["fraud-v2-profile"] = PROFILE.to_json()
    cluster.mounted = ("fraud-v2-profile", "profile.json")
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=5))
    assert cluster.status["reference"]["configMap"] == "fraud-v2-profile"
    changed = [e for e in cluster.events if e.reason == "ReferenceChanged"]
    assert len(changed) == 1
    assert "model version 2 (ConfigMap fraud-v2-profile" in changed[0].message


def test_a_spec_edit_evaluates_at_once() -> None:
    reconciler, cluster, prometheus = setup()
    reconciler.reconcile(body(cluster), now=T0)
    current = body(cluster)
    edited = {**current, "metadata": {**current["metadata"], "generation": 2}}
    edited["spec"] = {**MONITOR["spec"], "window": "2h"}  # type: ignore[dict-item]
    reconciler.reconcile(edited, now=T0 + timedelta(seconds=30))
    assert len(prometheus.queries) == 2
    assert "[7200s]" in prometheus.queries[-1]  # 2h, as a range every Prometheus reads
    assert cluster.status["observedGeneration"] == 2


def test_prometheus_down_keeps_the_last_measurements_and_degraded_is_unknown() -> None:
    reconciler, cluster, prometheus = setup()
    reconciler.reconcile(body(cluster), now=T0)
    features = cluster.status["features"]
    prometheus.down = True
    reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=5))
    assert conditions(cluster)["Drifted"] == ("Unknown", "PrometheusUnavailable")
    assert conditions(cluster)["Degraded"][0] == "Unknown"
    assert cluster.status["features"] == features  # not erased by a failed query


def test_a_missing_profile_needs_a_person_stalled() -> None:
    reconciler, cluster, _ = setup()
    cluster.profiles = {}
    reconciler.reconcile(body(cluster), now=T0)
    assert cluster.status["phase"] == "Failed"
    assert conditions(cluster)["Stalled"] == ("True", "ProfileNotFound")


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"namespace": "ml", "monitor": "fraud-drift", **labels})


def test_failing_data_quality_is_degraded_with_one_event_and_its_gauges() -> None:
    reconciler, cluster, prometheus = setup()
    MONITOR["spec"] = {**MONITOR["spec"], "dataQuality": {}}  # type: ignore[dict-item]
    try:
        answer = vector(live_counts(PROFILE, frame(1_000, RNG)))
        answer += [
            {"metric": {"ms_part": "rejectedRows"}, "value": [0, "250"]},
            {"metric": {"ms_part": "missing", "feature": "x0"}, "value": [0, "250"]},
            {"metric": {"ms_part": "rejected", "reason": "missingFeature"}, "value": [0, "250"]},
            {"metric": {"ms_part": "requests", "outcome": "success"}, "value": [0, "1000"]},
            {"metric": {"ms_part": "requests", "outcome": "client_error"}, "value": [0, "250"]},
        ]
        prometheus.answer = answer
        reconciler.reconcile(body(cluster), now=T0)
        assert conditions(cluster)["Degraded"] == ("True", "DataQuality")
        quality = cluster.status["dataQuality"]
        assert quality["rows"] == 1_250
        # no modelship_feature_out_of_range_total in the answer: not measured, and said so
        assert quality["features"][0] == {"name": "x0", "missing": 0.2, "failed": ["missing"]}
        assert "exports no modelship_feature_out_of_range_total" in quality["reason"]
        assert quality["rejected"] == [
            {"reason": "missingFeature", "share": 0.2, "requests": 250, "failed": True}
        ]
        assert gauge("modelship_drift_data_quality", feature="x0", check="missing") == 0.2
        assert gauge("modelship_drift_rejected_share", reason="missingFeature") == 0.2
        assert gauge("modelship_drift_data_quality_failed") == 1
        degraded = [e for e in cluster.events if e.reason == "DataQualityDegraded"]
        assert [e.message for e in degraded] == [
            "data quality: x0 missing 0.2 above 0.05, rejected missingFeature 0.2 above 0.05"
        ]
        reconciler.reconcile(body(cluster), now=T0 + timedelta(minutes=5))
        assert len([e for e in cluster.events if e.reason == "DataQualityDegraded"]) == 1
        reconciler.forget("ml", "fraud-drift")
        assert gauge("modelship_drift_data_quality_failed") is None
    finally:
        MONITOR["spec"] = {k: v for k, v in MONITOR["spec"].items() if k != "dataQuality"}  # type: ignore[attr-defined]
