"""Wrap a profile in a ConfigMap manifest (the form it ships in beside the model)."""

from __future__ import annotations

from typing import Any

import yaml

from modelship.profile.schema import PROFILE_CONFIGMAP_KEY, Profile


def configmap_manifest(profile: Profile, name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"app.kubernetes.io/managed-by": "modelship", "modelship.io/kind": "profile"},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {PROFILE_CONFIGMAP_KEY: profile.model_dump_json()},
    }


def configmap_yaml(profile: Profile, name: str, namespace: str | None = None) -> str:
    return yaml.safe_dump(configmap_manifest(profile, name, namespace), sort_keys=False)
