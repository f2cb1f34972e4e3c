"""The Argo CD snippet shipped in deploy/ names fields that exist in the ModelDeployment CRD,
and docs/gitops.md shows the same snippet."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
SNIPPET = REPO / "deploy" / "argocd" / "application-retrain-promotion.yaml"
CRD = REPO / "crds" / "modelship.io_modeldeployments.yaml"


def _schema_at(path: list[str]) -> dict[str, Any] | None:
    crd = yaml.safe_load(CRD.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in path:
        found = (schema.get("properties") or {}).get(part)
        if found is None:
            return None
        schema = found
    return schema


def _commented_jq(text: str) -> list[str]:
    found = re.search(r"jqPathExpressions: \[(.*)\]", text)
    assert found is not None
    return [p.strip() for p in found.group(1).split(",")]


def test_the_ignored_fields_exist_in_the_crd() -> None:
    text = SNIPPET.read_text()
    app = yaml.safe_load(text)
    [ignore] = app["spec"]["ignoreDifferences"]
    assert (ignore["group"], ignore["kind"]) == ("modelship.io", "ModelDeployment")
    for pointer in ignore["jsonPointers"]:
        assert _schema_at(pointer.strip("/").split("/")) is not None, pointer
    for expression in _commented_jq(text):
        assert _schema_at(expression.strip(".").split(".")) is not None, expression
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert _schema_at(["model", "version"]) is None  # the walk does fail on a wrong path


def test_the_docs_show_the_shipped_snippet() -> None:
    docs = (REPO / "docs" / "gitops.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL)
    shipped = yaml.safe_load(SNIPPET.read_text())
    assert any(yaml.safe_load(block) == shipped for block in blocks)
