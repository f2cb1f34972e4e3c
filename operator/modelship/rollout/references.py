"""The objects a ModelDeployment's pods and analysis need to exist: ConfigMaps, Secrets and
their keys, PersistentVolumeClaims, a ServiceAccount. Pure: the reconciler looks them up and
`missing` says, in words a user acts on, which are not there.

On a real kubelet a pod whose ConfigMap, Secret or claim is missing never starts; KWOK's pods
start anyway. Checking before a revision is created is what makes both report the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelship.api.modeldeployment import ModelDeploymentSpec

Kind = Literal["ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceAccount"]
TEMPLATE = "spec.serving.template"


@dataclass(frozen=True)
class Reference:
    kind: Kind
    name: str
    key: str | None
    """The data key that must exist in it (ConfigMaps and Secrets), if any."""
    field: str
    """Where the reference comes from, for the message."""


def spec_references(spec: ModelDeploymentSpec) -> list[Reference]:
    """The references the spec's own fields make (the pod template is read separately)."""
    refs = []
    model = spec.model
    if model.profile_ref is not None:
        refs.append(
            Reference(
                "ConfigMap", model.profile_ref.config_map, model.profile_ref.key,
                "spec.model.profileRef",
            )
        )  # fmt: skip
    if model.uri.startswith("pvc://"):
        claim = model.uri[len("pvc://") :].partition("/")[0]
        refs.append(Reference("PersistentVolumeClaim", claim, None, "spec.model.uri"))
    security = spec.security
    if security is not None and security.auth_secret_ref is not None:
        ref = security.auth_secret_ref
        refs.append(Reference("Secret", ref.name, ref.key, "spec.security.authSecretRef"))
    connection = spec.analysis.prometheus if spec.analysis is not None else None
    if connection is not None:
        if connection.bearer_token_secret_ref is not None:
            ref = connection.bearer_token_secret_ref
            field = "spec.analysis.prometheus.bearerTokenSecretRef"
            refs.append(Reference("Secret", ref.name, ref.key, field))
        if connection.tls is not None and connection.tls.ca_secret_ref is not None:
            ca = connection.tls.ca_secret_ref
            field = "spec.analysis.prometheus.tls.caSecretRef"
            refs.append(Reference("Secret", ca.name, ca.key, field))
    return refs


def pod_references(pod_spec: Mapping[str, Any]) -> list[Reference]:
    """Every non-optional reference a pod spec makes (volumes, env, envFrom, projected
    sources, its ServiceAccount): what the kubelet would wait for."""
    refs: list[Reference] = []

    def add(kind: Kind, source: Mapping[str, Any], name_field: str, key: str | None) -> None:
        name = source.get(name_field)
        if name and not source.get("optional"):
            refs.append(Reference(kind, str(name), key, TEMPLATE))

    def add_items(kind: Kind, source: Mapping[str, Any], name_field: str) -> None:
        items = source.get("items") or []
        if not items:
            add(kind, source, name_field, None)
        for item in items:
            add(kind, source, name_field, item.get("key"))

    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            add_items("ConfigMap", volume["configMap"], "name")
        if "secret" in volume:
            add_items("Secret", volume["secret"], "secretName")
        if "persistentVolumeClaim" in volume:
            add("PersistentVolumeClaim", volume["persistentVolumeClaim"], "claimName", None)
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                add_items("ConfigMap", source["configMap"], "name")
            if "secret" in source:
                add_items("Secret", source["secret"], "name")
    containers = [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]
    for container in containers:
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                ref = value_from["configMapKeyRef"]
                add("ConfigMap", ref, "name", ref.get("key"))
            if "secretKeyRef" in value_from:
                ref = value_from["secretKeyRef"]
                add("Secret", ref, "name", ref.get("key"))
        for env_from in container.get("envFrom") or []:
            if "configMapRef" in env_from:
                add("ConfigMap", env_from["configMapRef"], "name", None)
            if "secretRef" in env_from:
                add("Secret", env_from["secretRef"], "name", None)
    account = pod_spec.get("serviceAccountName")
    if account and account != "default":
        refs.append(Reference("ServiceAccount", str(account), None, TEMPLATE))
    return refs


def combine(first: Iterable[Reference], then: Iterable[Reference]) -> list[Reference]:
    """`first`, then each reference of `then` that asks for something more: a spec field
    says more than "the pod template", and a key implies its object."""
    kept = list(dict.fromkeys(first))
    for ref in dict.fromkeys(then):
        covered = any(
            k.kind == ref.kind and k.name == ref.name and ref.key in (None, k.key) for k in kept
        )
        if not covered:
            kept.append(ref)
    return kept


Lookup = Callable[[Kind, str], frozenset[str] | None]
"""(kind, name) -> the object's data keys, None when it does not exist, or UNCHECKED."""
UNCHECKED: frozenset[str] = frozenset({"\0unchecked"})
"""The operator may not read the object (its RBAC): nothing can be said, nothing is reported."""


def missing(refs: Iterable[Reference], lookup: Lookup) -> list[str]:
    """A message for each reference that does not resolve, in order."""
    found: dict[tuple[Kind, str], frozenset[str] | None] = {}
    messages = []
    for ref in refs:
        if (ref.kind, ref.name) not in found:
            found[(ref.kind, ref.name)] = lookup(ref.kind, ref.name)
        keys = found[(ref.kind, ref.name)]
        if keys is UNCHECKED:
            continue
        if keys is None:
            messages.append(f'{ref.field}: {ref.kind} "{ref.name}" does not exist')
        elif ref.key is not None and ref.key not in keys:
            have = ", ".join(sorted(keys)) or "none"
            messages.append(
                f'{ref.field}: {ref.kind} "{ref.name}" has no key "{ref.key}" (keys: {have})'
            )
    return messages
