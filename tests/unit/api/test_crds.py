"""The generated CRDs: fresh, deterministic, structural, and readable with kubectl explain."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship.api import KINDS
from modelship.crdgen.crd import crd, file_name, rendered
from modelship.crdgen.docs import render_reference, splice
from modelship.crdgen.main import main as crds_main
from modelship.crdgen.schema import UnsupportedSchemaError, structural_schema
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[3]
OUTPUTS = [REPO / "crds", REPO / "charts" / "modelship" / "crds"]


@pytest.mark.parametrize("directory", OUTPUTS, ids=lambda p: str(p.relative_to(REPO)))
def test_committed_crds_are_fresh(directory: Path) -> None:
    expected = rendered()
    actual = {p.name: p.read_text() for p in directory.glob("*.yaml")}
    assert sorted(actual) == sorted(expected), "run `make crds`"
    stale = [name for name in expected if actual[name] != expected[name]]
    assert not stale, f"stale CRDs {stale}: run `make crds`"


def test_check_mode_reports_fresh_and_stale(tmp_path: Path) -> None:
    assert crds_main(["--out", str(tmp_path)]) == 0
    assert crds_main(["--out", str(tmp_path), "--check"]) == 0
    victim = tmp_path / file_name(KINDS[0])
    victim.write_text(victim.read_text() + "# edited\n")
    (tmp_path / "modelship.io_leftovers.yaml").write_text("{}")
    assert crds_main(["--out", str(tmp_path), "--check"]) == 1
    assert crds_main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(rendered())


def test_generation_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "modelship.cli", "crds", "--out", str(out)], check=True, env=env
        )
        outputs.append({p.name: p.read_text() for p in out.iterdir()})
    assert outputs[0] == outputs[1] == rendered()


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.get("properties", {}).items():
            yield from walk(value, f"{path}.{key}")
        if "items" in node:
            yield from walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from walk(node["additionalProperties"], f"{path}{{}}")


def schemas() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind in KINDS:
        root = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, node in walk(root):
            yield kind.kind, path, node


def test_schemas_are_structural() -> None:
    problems = []
    for kind, path, node in schemas():
        where = f"{kind}{path}"
        if "$ref" in node or "$defs" in node or "allOf" in node or "oneOf" in node:
            problems.append(f"{where}: $ref/allOf/oneOf")
        if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
            problems.append(f"{where}: anyOf outside int-or-string")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{where}: properties with additionalProperties")
        typed = "type" in node or node.get("x-kubernetes-int-or-string")
        if not typed:
            problems.append(f"{where}: no type")
        if node.get("x-kubernetes-int-or-string") and "type" in node:
            problems.append(f"{where}: int-or-string with a type")
        if "default" in node or "title" in node or node.get("uniqueItems"):
            problems.append(f"{where}: default/title/uniqueItems")
    assert not problems


def test_unknown_fields_are_kept_only_in_templates() -> None:
    preserved = {
        f"{kind}{path}"
        for kind, path, node in schemas()
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    assert preserved == {
        "ModelDeployment.spec.serving.template",
        "RetrainPolicy.spec.job.template",
        "RetrainPolicy.spec.validation.job.template",
    }


def test_lists_and_maps_are_bounded_for_cel_cost_estimation() -> None:
    unbounded = [
        f"{kind}{path}"
        for kind, path, node in schemas()
        if (node.get("type") == "array" and "maxItems" not in node)
        or (
            node.get("type") == "object"
            and "additionalProperties" in node
            and "maxProperties" not in node
        )
    ]
    assert not unbounded


def test_spec_strings_are_bounded() -> None:
    unbounded = [
        f"{kind}{path}"
        for kind, path, node in schemas()
        if ".spec" in path
        and node.get("type") == "string"
        and "maxLength" not in node
        and "enum" not in node
    ]
    assert not unbounded


def test_every_spec_field_is_described() -> None:
    undescribed = [
        f"{kind}{path}"
        for kind, path, node in schemas()
        if path.startswith(".spec")
        and not path.endswith("[]")
        and not path.endswith("{}")
        and not node.get("description")
    ]
    assert not undescribed


def test_cross_field_rules_are_in_the_crds() -> None:
    text = "".join(rendered().values())
    for message in (
        "set exactly one of rolling, canary, blueGreen or shadow",
        "each step sets exactly one of setWeight, pause or analysis",
        "warning must be less severe than critical",
        "uri must contain {version}",
    ):
        assert message in text


def test_names_subresources_and_columns() -> None:
    by_kind = {kind.kind: crd(kind) for kind in KINDS}
    md = by_kind["ModelDeployment"]["spec"]
    assert md["names"]["shortNames"] == ["md", "mdep"]
    assert by_kind["DriftMonitor"]["spec"]["names"]["shortNames"] == ["dm"]
    assert by_kind["RetrainPolicy"]["spec"]["names"]["shortNames"] == ["rp"]
    for doc in by_kind.values():
        spec = doc["spec"]
        assert spec["names"]["categories"] == ["modelship"]
        assert spec["scope"] == "Namespaced"
        version = spec["versions"][0]
        assert version["subresources"]["status"] == {}
        assert {"Phase", "Ready", "Age"} <= {c["name"] for c in version["additionalPrinterColumns"]}
    columns = {c["name"]: c["jsonPath"] for c in md["versions"][0]["additionalPrinterColumns"]}
    # VERSION is what serves (after a rollback-to, an older version than the spec's);
    # STEP counts from 1, as the messages do ("step 2/5").
    assert columns["Version"] == ".status.rollout.stableVersion"
    assert columns["Desired"] == ".spec.model.version"
    assert columns["Weight"] == ".status.canaryWeight"
    assert columns["Step"] == ".status.rollout.step"
    assert (
        md["versions"][0]["subresources"]["scale"]["specReplicasPath"] == ".spec.serving.replicas"
    )


def test_printer_columns_point_at_schema_fields() -> None:
    for kind in KINDS:
        version = crd(kind)["spec"]["versions"][0]
        paths = {
            path
            for _, path, _ in ((None, p, n) for p, n in walk(version["schema"]["openAPIV3Schema"]))
        }
        for column in version["additionalPrinterColumns"]:
            field = column["jsonPath"].split("[")[0]
            assert field in paths or field.startswith(".metadata"), (kind.kind, field)


def test_files_are_valid_yaml_with_one_document_each() -> None:
    for text in rendered().values():
        docs = list(yaml.safe_load_all(text))
        assert len(docs) == 1
        assert docs[0]["kind"] == "CustomResourceDefinition"


def test_unsupported_constructs_fail_loudly() -> None:
    class Union(BaseModel):
        value: int | str

    with pytest.raises(UnsupportedSchemaError, match="a union of 2 types"):
        structural_schema(Union)


def test_field_reference_in_docs_is_fresh() -> None:
    document = (REPO / "docs" / "resources.md").read_text()
    assert splice(document) == document, "run `make crds` (with --docs docs/resources.md)"
    for kind in KINDS:
        assert f"### {kind.kind}" in render_reference()
    assert "`spec.strategy.canary.steps[].setWeight`" in render_reference()
