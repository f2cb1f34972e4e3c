"""A revision names everything that shapes a ModelDeployment's pods.

Two specs with the same revision run identical pods, so changing only replicas, strategy or
analysis never starts a rollout, and changing the spec back to the stable version finds the
stable revision again (no new rollout).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modelship.api.modeldeployment import ModelDeploymentSpec

REVISION_LENGTH = 10


def pod_shaping_fields(spec: ModelDeploymentSpec, default_image: str) -> dict[str, Any]:
    serving = spec.serving
    security = spec.security
    fields = {
        "model": spec.model.to_kube(),
        "image": serving.image or default_image,
        "port": serving.port,
        "resources": serving.resources.to_kube() if serving.resources else None,
        "template": serving.template,
        "auth": security.auth_secret_ref.to_kube()
        if security and security.auth_secret_ref
        else None,
    }
    # Only when set: revisions made before these fields existed keep their hash.
    if serving.grpc_port is not None:
        fields["grpcPort"] = serving.grpc_port
    if serving.workers > 1:
        fields["workers"] = serving.workers
    return fields


def revision_of(spec: ModelDeploymentSpec, default_image: str, name: str = "") -> str:
    """A short, stable hash of the pod-shaping fields (hex, a valid label value). The
    ModelDeployment's name is part of it, so two of them with identical pods in a namespace
    still have distinct revisions (analysis selects metrics by namespace and revision)."""
    fields = {**pod_shaping_fields(spec, default_image), "modelDeployment": name}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:REVISION_LENGTH]
