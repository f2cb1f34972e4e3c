"""What a ModelDeployment refers to, and what is reported when it is not there."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.rollout.objects import ChildBuilder
from modelship.rollout.references import (
    UNCHECKED,
    Kind,
    Reference,
    combine,
    missing,
    pod_references,
    spec_references,
)
from modelship_testing.rollout_sim import spec


def md(**fields: Any) -> Any:
    return spec(**fields)


def test_spec_fields_name_their_references() -> None:
    s = md(
        model={
            "name": "fraud",
            "version": "1",
            "uri": "pvc://models/fraud/1",
            "profileRef": {"configMap": "fraud-profile"},
        },
        security={"authSecretRef": {"name": "api-token"}},
        analysis={
            "prometheus": {
                "bearerTokenSecretRef": {"name": "prom", "key": "bearer"},
                "tls": {"caSecretRef": {"name": "prom-ca"}},
            },
            "metrics": [{"name": "errors", "builtin": "errorRate", "max": 0.1}],
        },
    )
    assert spec_references(s) == [
        Reference("ConfigMap", "fraud-profile", "profile.json", "spec.model.profileRef"),
        Reference("PersistentVolumeClaim", "models", None, "spec.model.uri"),
        Reference("Secret", "api-token", "token", "spec.security.authSecretRef"),
        Reference("Secret", "prom", "bearer", "spec.analysis.prometheus.bearerTokenSecretRef"),
        Reference(
            "Secret",
            "prom-ca",
            spec_references(s)[-1].key,  # the CA reference's own default key
            "spec.analysis.prometheus.tls.caSecretRef",
        ),
    ]
    assert spec_references(md()) == []


def test_pod_template_references_are_found_and_optional_ones_skipped() -> None:
    pod = {
        "serviceAccountName": "trainer",
        "volumes": [
            {"name": "a", "configMap": {"name": "cm-a"}},
            {"name": "b", "secret": {"secretName": "s-b", "items": [{"key": "k", "path": "k"}]}},
            {"name": "c", "configMap": {"name": "cm-opt", "optional": True}},
            {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "e", "projected": {"sources": [{"secret": {"name": "s-proj"}}]}},
            {"name": "f", "emptyDir": {}},
        ],
        "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "cm-init"}}]}],
        "containers": [
            {
                "name": "server",
                "env": [
                    {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "x"}}},
                    {"name": "Y", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {
                        "name": "Z",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "cm-z", "key": "z", "optional": True}
                        },
                    },
                ],
                "envFrom": [{"secretRef": {"name": "s-all"}}],
            }
        ],
    }
    found = {(r.kind, r.name, r.key) for r in pod_references(pod)}
    assert found == {
        ("ConfigMap", "cm-a", None),
        ("Secret", "s-b", "k"),
        ("PersistentVolumeClaim", "data", None),
        ("Secret", "s-proj", None),
        ("ConfigMap", "cm-init", None),
        ("Secret", "s-env", "x"),
        ("Secret", "s-all", None),
        ("ServiceAccount", "trainer", None),
    }
    assert pod_references({"serviceAccountName": "default"}) == []


def test_the_generated_pod_references_what_the_spec_does() -> None:
    """The spec's fields and the pod the operator builds agree: combining them names each
    object once, by its spec field."""
    s = md(
        model={
            "name": "fraud",
            "version": "1",
            "uri": "pvc://models/fraud/1",
            "profileRef": {"configMap": "fraud-profile"},
        },
        security={"authSecretRef": {"name": "api-token"}},
    )
    body = {"metadata": {"name": "fraud", "namespace": "ml", "uid": "u"}}
    pod = ChildBuilder(body, s, "img").deployment("abc", 1)["spec"]["template"]["spec"]
    refs = combine(spec_references(s), pod_references(pod))
    fields = {(r.kind, r.name): r.field for r in refs}
    assert fields[("ConfigMap", "fraud-profile")] == "spec.model.profileRef"
    assert fields[("PersistentVolumeClaim", "models")] == "spec.model.uri"
    assert fields[("Secret", "api-token")] == "spec.security.authSecretRef"
    assert len({(r.kind, r.name) for r in refs}) == len(fields)


LIVE: dict[tuple[Kind, str], frozenset[str] | None] = {
    ("ConfigMap", "profile"): frozenset({"profile.json"}),
    ("Secret", "token"): frozenset({"other"}),
    ("Secret", "secret-we-may-not-read"): UNCHECKED,
}


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (Reference("ConfigMap", "profile", "profile.json", "spec.model.profileRef"), []),
        (
            Reference("ConfigMap", "nope", "profile.json", "spec.model.profileRef"),
            ['spec.model.profileRef: ConfigMap "nope" does not exist'],
        ),
        (
            Reference("Secret", "token", "token", "spec.security.authSecretRef"),
            ['spec.security.authSecretRef: Secret "token" has no key "token" (keys: other)'],
        ),
        (Reference("Secret", "secret-we-may-not-read", "k", "f"), []),
        (
            Reference("PersistentVolumeClaim", "data", None, "spec.model.uri"),
            ['spec.model.uri: PersistentVolumeClaim "data" does not exist'],
        ),
    ],
)
def test_missing_references_are_named(ref: Reference, expected: list[str]) -> None:
    assert missing([ref], lambda kind, name: LIVE.get((kind, name))) == expected


def test_each_object_is_looked_up_once() -> None:
    calls: list[tuple[str, str]] = []

    def lookup(kind: Kind, name: str) -> frozenset[str] | None:
        calls.append((kind, name))
        return frozenset({"a"})

    refs = [Reference("Secret", "s", "a", "x"), Reference("Secret", "s", "b", "y")]
    assert missing(refs, lookup) == ['y: Secret "s" has no key "b" (keys: a)']
    assert calls == [("Secret", "s")]
