"""The modelship.io/v1alpha1 API: pydantic models that are the single source of truth.

The CRDs in crds/ are generated from these models (`make crds`), and the operator re-validates
every object with them.
"""

from modelship.api.driftmonitor import DriftMonitorSpec, DriftMonitorStatus
from modelship.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelship.api.resources import (
    API_VERSION,
    DRIFT_MONITOR,
    GROUP,
    KINDS,
    KINDS_BY_NAME,
    MODEL_DEPLOYMENT,
    RETRAIN_POLICY,
    VERSION,
    Kind,
)
from modelship.api.retrainpolicy import RetrainPolicySpec, RetrainPolicyStatus

__all__ = [
    "API_VERSION",
    "DRIFT_MONITOR",
    "GROUP",
    "KINDS",
    "KINDS_BY_NAME",
    "MODEL_DEPLOYMENT",
    "RETRAIN_POLICY",
    "VERSION",
    "DriftMonitorSpec",
    "DriftMonitorStatus",
    "Kind",
    "ModelDeploymentSpec",
    "ModelDeploymentStatus",
    "RetrainPolicySpec",
    "RetrainPolicyStatus",
]
