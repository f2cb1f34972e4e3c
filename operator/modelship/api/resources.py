"""The three kinds: their names, models and how `kubectl get` prints them.

One `Kind` holds everything the CRD generator and the controller need to know about a kind,
so neither repeats group, plural or short names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modelship.api.base import KubeModel, Rule
from modelship.api.driftmonitor import DriftMonitorSpec, DriftMonitorStatus
from modelship.api.modeldeployment import ModelDeploymentSpec, ModelDeploymentStatus
from modelship.api.retrainpolicy import RetrainPolicySpec, RetrainPolicyStatus
from modelship.api.types import DNS1035_LABEL

GROUP = "modelship.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "modelship"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def to_crd(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


@dataclass(frozen=True)
class Scale:
    """The scale subresource's paths (`kubectl scale md/fraud --replicas=3`)."""

    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[KubeModel]
    status: type[KubeModel]
    description: str
    printer_columns: tuple[PrinterColumn, ...]
    object_rules: tuple[Rule, ...] = ()
    scale: Scale | None = None

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _ready(description: str) -> PrinterColumn:
    return PrinterColumn(
        "Ready", '.status.conditions[?(@.type=="Ready")].status', "string", description
    )


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

MODEL_DEPLOYMENT = Kind(
    kind="ModelDeployment",
    plural="modeldeployments",
    short_names=("md", "mdep"),
    spec=ModelDeploymentSpec,
    status=ModelDeploymentStatus,
    description="ModelDeployment serves a machine-learning model and rolls out its new versions "
    "safely: rolling, canary, blue-green or shadow, gated by analysis on Prometheus, with "
    "automatic rollback.",
    printer_columns=(
        PrinterColumn("Phase", ".status.phase", description="The rollout's phase"),
        _ready("Whether the model is serving as specified"),
        PrinterColumn("Model", ".spec.model.name", priority=1),
        PrinterColumn(
            "Version",
            ".status.rollout.stableVersion",
            description="The model version the stable revision serves",
        ),
        PrinterColumn(
            "Desired",
            ".spec.model.version",
            description="The model version the spec asks for",
            priority=1,
        ),
        PrinterColumn(
            "Source",
            ".status.model.source",
            description="Where the model served comes from: Spec, or a RetrainPolicy's "
            "promotion in its status",
            priority=1,
        ),
        PrinterColumn("Weight", ".status.canaryWeight", "integer", "Canary traffic percentage"),
        PrinterColumn(
            "Step", ".status.rollout.step", description="Canary step in progress, as step/steps"
        ),
        PrinterColumn("Stable", ".status.stableRevision", priority=1),
        PrinterColumn("URL", ".status.inferenceURL", priority=1),
        AGE,
    ),
    object_rules=(
        # The name becomes a Service's and prefixes each revision's Deployment and pods.
        Rule(
            cel=f"self.metadata.name.size() <= 52 && self.metadata.name.matches('{DNS1035_LABEL}')",
            message="metadata.name must be a DNS-1035 label (lower-case letters, digits, '-', "
            "starting with a letter) of at most 52 characters: it names the model's Service",
            check=lambda name: len(name) <= 52 and re.fullmatch(DNS1035_LABEL, name) is not None,
        ),
    ),
    scale=Scale(".spec.serving.replicas", ".status.replicas", ".status.selector"),
)

DRIFT_MONITOR = Kind(
    kind="DriftMonitor",
    plural="driftmonitors",
    short_names=("dm",),
    spec=DriftMonitorSpec,
    status=DriftMonitorStatus,
    description="DriftMonitor compares a ModelDeployment's live traffic with its reference "
    "profile: feature, prediction and dataset drift, performance from ground truth, fairness.",
    printer_columns=(
        PrinterColumn("Model", ".spec.modelDeploymentRef", description="The ModelDeployment"),
        PrinterColumn("Phase", ".status.phase"),
        _ready("Whether the monitor is evaluating"),
        PrinterColumn("Drifted", '.status.conditions[?(@.type=="Drifted")].status'),
        PrinterColumn("Samples", ".status.samples", "integer", "Predictions in the last window"),
        PrinterColumn("Evaluated", ".status.lastEvaluationTime", "date"),
        AGE,
    ),
)

RETRAIN_POLICY = Kind(
    kind="RetrainPolicy",
    plural="retrainpolicies",
    short_names=("rp",),
    spec=RetrainPolicySpec,
    status=RetrainPolicyStatus,
    description="RetrainPolicy retrains a ModelDeployment's model on drift, degraded "
    "performance, a schedule or demand, validates the result and promotes only what passes.",
    printer_columns=(
        PrinterColumn("Model", ".spec.modelDeploymentRef", description="The ModelDeployment"),
        PrinterColumn("Promotion", ".spec.promotion"),
        PrinterColumn("Target", ".spec.promotionTarget", priority=1),
        PrinterColumn("Phase", ".status.phase"),
        _ready("Whether the policy is armed"),
        PrinterColumn("Last Run", ".status.lastRunTime", "date"),
        AGE,
    ),
)

KINDS: tuple[Kind, ...] = (MODEL_DEPLOYMENT, DRIFT_MONITOR, RETRAIN_POLICY)
KINDS_BY_NAME: dict[str, Kind] = {kind.kind: kind for kind in KINDS}
