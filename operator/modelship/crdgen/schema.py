"""Turn a pydantic JSON schema into a Kubernetes structural OpenAPI v3 schema.

Kubernetes accepts a restricted dialect: no `$ref`, no `anyOf` except the int-or-string idiom,
no `additionalProperties` beside `properties`, no `title`. Defaults stay out of the CRD (the
API server would write them into users' objects, which GitOps tools then report as drift);
they are stated in each field's description instead and applied by the operator's models.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

JSON = dict[str, Any]

# Keys copied as they are; anything else pydantic emits is either translated below or an error,
# so a new pydantic feature cannot slip a non-structural construct into a CRD.
_PASS_THROUGH = {
    "type",
    "format",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
}
_DROPPED = {"title", "default", "$defs", "examples"}
_NULL = {"type": "null"}


class UnsupportedSchemaError(ValueError):
    """The model uses a construct that has no structural equivalent."""


def structural_schema(model: type[BaseModel]) -> JSON:
    """The structural schema of `model` (aliases, i.e. Kubernetes field names, as properties)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(raw, raw.get("$defs", {}), path=model.__name__)


def _describe(text: str) -> str:
    """Docstrings wrap lines; `kubectl explain` re-wraps, so join them into one paragraph."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def _default_note(value: Any) -> str | None:
    if isinstance(value, bool):
        return f"Defaults to {str(value).lower()}."
    if isinstance(value, str) and not value:
        return None  # "Defaults to ." says nothing: an empty text is the same as none
    if isinstance(value, str | int | float):
        return f"Defaults to {value}."
    return None


def _convert(node: JSON, defs: JSON, path: str) -> JSON:
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        # Field-level keys (its description) override the referenced model's.
        return _convert({**target, **node}, defs, path)
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        branches = [b for b in node.pop("anyOf") if b != _NULL]
        if len(branches) != 1:
            raise UnsupportedSchemaError(f"{path}: a union of {len(branches)} types")
        branch = _convert(branches[0], defs, path)
        outer = _convert(node, defs, path)
        return {**branch, **outer}
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if "const" in node:
        node["enum"] = [node.pop("const")]
    # JSON Schema 2020-12 writes `exclusiveMinimum: 0`; OpenAPI v3.0 wants `minimum: 0` + `true`.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(exclusive), int | float) and not isinstance(node[exclusive], bool):
            node[bound] = node[exclusive]
            node[exclusive] = True

    out: JSON = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "description":
            out[key] = _describe(value)
        elif key == "properties":
            out[key] = {name: _convert(sub, defs, f"{path}.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            out[key] = _convert(value, defs, f"{path}{{}}")
        elif key in _PASS_THROUGH or key == "anyOf":  # anyOf: only int-or-string gets here
            out[key] = value
        elif key == "uniqueItems":
            raise UnsupportedSchemaError(f"{path}: uniqueItems (use x-kubernetes-list-type)")
        else:
            raise UnsupportedSchemaError(f"{path}: unsupported key {key!r}")

    note = _default_note(node.get("default"))
    if note and "Defaults to" not in out.get("description", ""):
        out["description"] = f"{out.get('description', '')} {note}".strip()
    if "enum" in out and "type" not in out:
        out["type"] = _enum_type(out["enum"], path)
    return out


def _enum_type(values: list[Any], path: str) -> str:
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return "string"
    raise UnsupportedSchemaError(f"{path}: enum of {json.dumps(values)}")
