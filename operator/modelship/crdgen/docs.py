"""The field reference in docs/resources.md, generated from the same schemas as the CRDs.

Only the text between the two markers is generated; the prose around it is written by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelship.api.resources import KINDS, Kind
from modelship.crdgen.schema import JSON, structural_schema

BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE (make crds) -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"


def _type(node: JSON) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return "object (free-form)"
    kind = str(node.get("type", ""))
    if kind == "array":
        return f"[]{_type(node['items'])}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map[string]{_type(node['additionalProperties'])}"
    return kind


def _constraints(node: JSON) -> str:
    parts: list[str] = []
    if "enum" in node:
        parts.append(" \\| ".join(f"`{v}`" for v in node["enum"]))
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None or high is not None:
        left = "(" if node.get("exclusiveMinimum") else "["
        parts.append(f"{left}{'' if low is None else low}, {'' if high is None else high}]")
    if "maxItems" in node:
        parts.append(f"{node.get('minItems', 0)}-{node['maxItems']} items")
    if "pattern" in node and "x-kubernetes-int-or-string" not in node and "enum" not in node:
        pattern = str(node["pattern"]).replace("|", "\\|")
        parts.append(f"pattern `{pattern}`")
    for rule in node.get("x-kubernetes-validations", []):
        parts.append(f"rule: {rule['message']}")
    return "; ".join(parts)


def _rows(node: JSON, path: str, required: bool) -> Iterator[str]:
    description = str(node.get("description", "")).replace("|", "\\|")
    mark = " **required**" if required else ""
    yield f"| `{path}` | {_type(node)}{mark} | {description} | {_constraints(node)} |"
    target = node["items"] if node.get("type") == "array" else node
    needed = set(target.get("required", []))
    suffix = "[]" if node.get("type") == "array" else ""
    for name, child in target.get("properties", {}).items():
        yield from _rows(child, f"{path}{suffix}.{name}", name in needed)


def _section(kind: Kind) -> list[str]:
    lines = [f"### {kind.kind}", "", kind.description, ""]
    short = ", ".join(f"`{s}`" for s in kind.short_names)
    lines += [f"`kubectl get {kind.plural}` (short names {short}; category `modelship`)", ""]
    for part, model in (("spec", kind.spec), ("status", kind.status)):
        schema: dict[str, Any] = structural_schema(model)
        lines += ["| Field | Type | Description | Constraints |", "|---|---|---|---|"]
        lines += list(_rows(schema, part, False))
        lines.append("")
    return lines


def render_reference() -> str:
    lines = [BEGIN, ""]
    for kind in KINDS:
        lines += _section(kind)
    lines.append(END)
    return "\n".join(lines)


def splice(document: str) -> str:
    """`document` with the text between the markers replaced by the current reference."""
    if BEGIN not in document or END not in document:
        return document.rstrip("\n") + "\n\n" + render_reference() + "\n"
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + render_reference() + tail
