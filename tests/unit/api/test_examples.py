"""Every example parses; every invalid example fails the operator's validation as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship.api import KINDS_BY_NAME
from modelship.api.validation import InvalidObjectError, parse_spec
from modelship.planners.assessment import Existing, assess_drift_monitor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
VALID = sorted(EXAMPLES.glob("*.yaml"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))


def header(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^# ([\w-]+): (.*)$", path.read_text(), re.MULTILINE))


def load(path: Path) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(path.read_text())
    return body


def test_there_is_an_example_of_each_kind() -> None:
    kinds = {load(path)["kind"] for path in VALID}
    assert kinds == set(KINDS_BY_NAME)
    strategies = {
        next(iter(load(p)["spec"].get("strategy", {"rolling": {}})))
        for p in VALID
        if load(p)["kind"] == "ModelDeployment"
    }
    assert strategies == {"rolling", "canary", "blueGreen", "shadow"}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_example_is_valid_and_round_trips(path: Path) -> None:
    body = load(path)
    spec = parse_spec(KINDS_BY_NAME[body["kind"]], body)
    # What the operator would write back is what the user wrote, with no field lost.
    again = parse_spec(KINDS_BY_NAME[body["kind"]], {**body, "spec": spec.to_kube()})
    assert again == spec
    assert _subset(body["spec"], spec.to_kube())


def _subset(written: Any, parsed: Any) -> bool:
    """Every field the user wrote survives parsing (defaults may be added)."""
    if isinstance(written, dict):
        return isinstance(parsed, dict) and all(
            key in parsed and _subset(value, parsed[key]) for key, value in written.items()
        )
    if isinstance(written, list):
        return len(written) == len(parsed) and all(map(_subset, written, parsed))
    return bool(written == parsed)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_documents_its_rule(path: Path) -> None:
    fields = header(path)
    assert fields.get("Rule"), "each invalid example says which rule it breaks"
    assert fields.get("Expect"), "each invalid example says which message it produces"
    assert fields.get("Rejected-by") in {"api-server", "operator"}


@pytest.mark.parametrize(
    "path",
    [p for p in INVALID if "does not exist" not in header(p)["Expect"]],
    ids=lambda p: p.name,
)
def test_operator_validation_rejects_invalid_example(path: Path) -> None:
    fields = header(path)
    body = load(path)
    with pytest.raises(InvalidObjectError) as error:
        parse_spec(KINDS_BY_NAME[body["kind"]], body)
    message = str(error.value)
    expected_field = fields.get("Field-model", fields.get("Field", ""))
    assert expected_field in message
    assert fields.get("Expect-model", fields["Expect"]) in message


@pytest.mark.parametrize(
    "path", [p for p in INVALID if "does not exist" in header(p)["Expect"]], ids=lambda p: p.name
)
def test_missing_reference_example_is_stalled_by_the_operator(path: Path) -> None:
    fields = header(path)
    body = load(path)
    assert fields["Rejected-by"] == "operator"
    spec = parse_spec(KINDS_BY_NAME[body["kind"]], body)  # the schema cannot know
    assessment = assess_drift_monitor(spec, Existing())  # type: ignore[arg-type]
    stalled = {c.type: c for c in assessment.conditions}["Stalled"]
    assert stalled.status == "True"
    assert fields["Expect"] in stalled.message
    assert fields["Field"] in stalled.message
