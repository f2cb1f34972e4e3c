"""What a ModelDeployment serves and how its rollouts ended, read from its status. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from modelship.api.modeldeployment import Model, ModelDeploymentPhase
from modelship.retrain.jobs import ServingModel

SERVING = "Serving"
"""The outcome recorded for the version the stable revision serves."""


def serving_model(md: Mapping[str, Any]) -> ServingModel | None:
    """What the ModelDeployment's stable revision serves: version and URI from its history
    record (the spec may already name a newer version)."""
    status = md.get("status") or {}
    stable = status.get("stableRevision")
    if not stable:
        return None
    for entry in status.get("history") or []:
        if entry.get("revision") == stable:
            return ServingModel(str(md["spec"]["model"]["name"]), str(entry.get("modelVersion")),
                                str(entry.get("modelURI") or ""))  # fmt: skip
    model = md["spec"]["model"]
    version = (status.get("rollout") or {}).get("stableVersion") or model["version"]
    return ServingModel(str(model["name"]), str(version), str(model.get("uri") or ""))


def rollout_outcomes(md: Mapping[str, Any]) -> dict[str, str]:
    """Model version -> how its latest rollout ended; Serving for the stable one."""
    status = md.get("status") or {}
    out: dict[str, str] = {}
    for entry in reversed(status.get("history") or []):  # oldest first: the newest wins
        if entry.get("outcome"):
            out[str(entry.get("modelVersion"))] = str(entry["outcome"])
    stable = serving_model(md)
    if stable is not None and status.get("phase") == ModelDeploymentPhase.HEALTHY:
        out[stable.version] = SERVING
    window = (status.get("rollout") or {}).get("window") or {}
    for entry in status.get("history") or []:
        if window and entry.get("revision") == window.get("revision"):
            # Not final while its rollback window is open: it may still be rolled back.
            out.pop(str(entry.get("modelVersion")), None)
            break
    return out


def spec_model(md: Mapping[str, Any]) -> Model | None:
    """The ModelDeployment's spec.model (None: no ModelDeployment, or an invalid model)."""
    try:
        return Model.model_validate((md.get("spec") or {}).get("model") or {})
    except ValidationError:
        return None
