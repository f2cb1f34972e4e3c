"""The generated CRDs on a real API server: examples apply, invalid examples are refused with
their documented message, kubectl prints and explains the resources."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship_testing.cluster import binary
from modelship_testing.fixtures import kubectl
from modelship_testing.waiters import wait_for

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VALID = sorted(EXAMPLES.glob("*.yaml"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))
MODEL = {"model": {"name": "fraud", "version": "7", "uri": "s3://models/fraud/7/"}}
ANALYSIS = {"metrics": [{"name": "errors", "builtin": "errorRate", "max": 0.01}]}


# What the API server itself adds after a type, enum or required-field error, whatever the
# CRD's rules: the notice that the CEL rules were skipped, and (for spec.serving.replicas) the
# scale subresource's own read of the field. Our rules add nothing after any error.
API_SERVER_NOTICES = (
    "some validation rules were not checked because the object was invalid",
    ".spec.serving.replicas accessor error",
)


def causes(error: str) -> list[str]:
    """The causes in kubectl's "is invalid" message (one inline, or several as a list), or
    the whole error when it is of another kind (a strict decoding error)."""
    if " is invalid: " not in error:
        return [error.strip()]
    text = error.split(" is invalid: ", 1)[1].strip()
    if "\n* " in f"\n{text}":
        return [line[2:] for line in text.splitlines() if line.startswith("* ")]
    return [text]


def header(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^# ([\w-]+): (.*)$", path.read_text(), re.MULTILINE))


def by(rejecter: str) -> list[Path]:
    return [p for p in INVALID if header(p)["Rejected-by"] == rejecter]


@pytest.fixture
def served(kubeconfig: str, crds: list[str], namespace: str) -> str:
    """A namespace where the modelship kinds are served (discovery can lag Established)."""
    wait_for(
        lambda: kubectl(kubeconfig, "get", "modelship", "-n", namespace) is not None,
        timeout=30,
        describe="the modelship category to be served",
    )
    return namespace


def test_every_example_applies(kubeconfig: str, served: str) -> None:
    for path in VALID:
        kubectl(kubeconfig, "apply", "-n", served, "-f", str(path))
    listed = kubectl(kubeconfig, "get", "modelship", "-n", served, "-o", "name").split()
    expected = {
        f"{yaml.safe_load(p.read_text())['kind'].lower()}.modelship.io/"
        f"{yaml.safe_load(p.read_text())['metadata']['name']}"
        for p in VALID
    }
    assert set(listed) == expected


def test_stored_objects_keep_every_field(kubeconfig: str, served: str) -> None:
    """No field of an example is pruned: the schema knows them all."""
    path = EXAMPLES / "modeldeployment-canary.yaml"
    kubectl(kubeconfig, "apply", "-n", served, "-f", str(path))
    stored = yaml.safe_load(kubectl(kubeconfig, "get", "md", "fraud", "-n", served, "-o", "yaml"))
    assert stored["spec"] == yaml.safe_load(path.read_text())["spec"]


@pytest.mark.parametrize("path", by("api-server"), ids=lambda p: p.name)
def test_invalid_example_is_refused_with_its_message(
    kubeconfig: str, served: str, path: Path
) -> None:
    fields = header(path)
    refused = subprocess.run(
        [str(binary("kubectl")), f"--kubeconfig={kubeconfig}", "apply", "-n", served, "-f",
         str(path)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0, refused.stdout
    error = refused.stderr
    assert fields["Expect"] in error
    assert fields.get("Field", "") in error
    # The rule's own message is the first and only one: no rule runs on a value that already
    # failed its schema (no "type conversion error ... evaluating rule" after a bad duration).
    first, *rest = causes(error)
    assert fields["Expect"] in first, error
    assert all(any(notice in cause for notice in API_SERVER_NOTICES) for cause in rest), error


SCHEMA_ERRORS = [
    ("DriftMonitor", {"modelDeploymentRef": "fraud", "interval": "5x"}, "spec.interval"),
    ("DriftMonitor", {"modelDeploymentRef": "fraud", "window": "1 hour"}, "spec.window"),
    ("ModelDeployment", {**MODEL, "serving": {"autoscaling": {"maxReplicas": 0}}},
     "spec.serving.autoscaling.maxReplicas"),
    ("ModelDeployment", {**MODEL, "strategy": {"canary": {"steps": [
        {"analysis": {"metrics": ["Bad_Name"]}}]}}, "analysis": ANALYSIS},
     "spec.strategy.canary.steps[0].analysis.metrics[0]"),
    ("ModelDeployment", {**MODEL, "analysis": {**ANALYSIS, "interval": "1d"}},
     "spec.analysis.interval"),
    ("RetrainPolicy", {"modelDeploymentRef": "fraud", "job": {"template": {"spec": {}}},
                       "output": {"uri": "ftp://models/latest/"}}, "spec.output.uri"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "field"), SCHEMA_ERRORS)
def test_a_value_failing_its_schema_gets_that_message_only(
    kubeconfig: str, served: str, kind: str, spec: dict[str, Any], field: str
) -> None:
    manifest = {"apiVersion": "modelship.io/v1alpha1", "kind": kind,
                "metadata": {"name": "bad"}, "spec": spec}  # fmt: skip
    refused = subprocess.run(
        [str(binary("kubectl")), f"--kubeconfig={kubeconfig}", "apply", "-n", served, "-f", "-"],
        input=yaml.safe_dump(manifest), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0, refused.stdout
    assert [cause.split(":")[0] for cause in causes(refused.stderr)] == [field], refused.stderr


@pytest.mark.parametrize("path", by("operator"), ids=lambda p: p.name)
def test_operator_only_example_is_accepted_by_the_api_server(
    kubeconfig: str, served: str, path: Path
) -> None:
    kubectl(kubeconfig, "apply", "-n", served, "-f", str(path))


def test_kubectl_get_shows_the_printer_columns(kubeconfig: str, served: str) -> None:
    kubectl(kubeconfig, "apply", "-n", served, "-f", str(EXAMPLES / "modeldeployment-canary.yaml"))
    table = kubectl(kubeconfig, "get", "md", "-n", served)
    assert table.split()[:7] == ["NAME", "PHASE", "READY", "VERSION", "WEIGHT", "STEP", "AGE"]
    assert "fraud" in table
    # No operator runs here: VERSION (what serves, from status) is empty, DESIRED (the
    # spec's version, -o wide) is 7.
    wide = kubectl(kubeconfig, "get", "mdep", "-n", served, "-o", "wide")
    assert "MODEL" in wide
    assert "DESIRED" in wide
    assert " 7 " in wide
    assert "fraud-detector" in wide
    kubectl(kubeconfig, "get", "dm,rp", "-n", served)


def test_kubectl_explain_reads_well(kubeconfig: str, crds: list[str]) -> None:
    text = wait_for(
        lambda: kubectl(kubeconfig, "explain", "modeldeployment.spec.strategy.canary"),
        timeout=30,
        describe="kubectl explain to know ModelDeployment",
    )
    assert "Shift traffic in steps, gated by pauses and analysis." in text
    assert "steps" in text
    assert "traffic" in text
    steps = kubectl(kubeconfig, "explain", "modeldeployment.spec.strategy.canary.steps.setWeight")
    assert "Percentage of traffic the canary receives" in steps
    monitor = kubectl(kubeconfig, "explain", "driftmonitor.spec.features.default.method")
    assert "psi" in monitor


def _crd_conditions(kubeconfig: str, name: str) -> dict[str, Any]:
    crd = yaml.safe_load(kubectl(kubeconfig, "get", "crd", name, "-o", "yaml"))
    return {c["type"]: c["status"] for c in crd["status"]["conditions"]}


def test_crds_are_structural_and_established(kubeconfig: str, crds: list[str]) -> None:
    for name in crds:
        conditions = _crd_conditions(kubeconfig, name)
        assert conditions.get("Established") == "True"
        assert conditions.get("NonStructuralSchema") is None
