"""Hypothesis strategies for the specs the CRD schemas in crds/ admit.

The schemas are Kubernetes structural schemas, a small subset of OpenAPI: types, properties,
required, enum, bounds, lengths, patterns, items, additionalProperties, int-or-string,
preserve-unknown-fields, list types. Each keyword is translated here; the CEL rules
(`x-kubernetes-validations`) are not, so a generated spec satisfies the schema but not always
its rules, which only the API server checks (and the operator's models mirror).
hypothesis-jsonschema would do the translation, but its release (0.23.1) calls a hypothesis
internal (`many.more`) that the hypothesis this project uses no longer has.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

CRDS = Path(__file__).resolve().parents[2] / "crds"
FILES = {
    "ModelDeployment": "modelship.io_modeldeployments.yaml",
    "DriftMonitor": "modelship.io_driftmonitors.yaml",
    "RetrainPolicy": "modelship.io_retrainpolicies.yaml",
}
MAX_ITEMS = 3  # lists and maps are cut to this many entries, to keep cases small
MAX_TEXT = 12
# Keys for free-form objects (pod and Job templates): Kubernetes field names, so that some
# generated templates look like the real thing and reach the code that merges them.
TEMPLATE_KEYS = [
    "spec",
    "template",
    "metadata",
    "labels",
    "annotations",
    "containers",
    "name",
    "image",
    "env",
    "value",
    "resources",
    "requests",
    "cpu",
    "securityContext",
    "runAsNonRoot",
    "volumes",
    "volumeMounts",
    "restartPolicy",
    "backoffLimit",
    "serviceAccountName",
    "nodeSelector",
    "tolerations",
    "command",
    "args",
]

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=MAX_TEXT)
scalars = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | text
free_form: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=MAX_ITEMS)
        | st.dictionaries(st.sampled_from(TEMPLATE_KEYS) | text, children, max_size=MAX_ITEMS)
    ),
    max_leaves=12,
)


def spec_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of `kind`'s spec, from its generated CRD."""
    crd = yaml.safe_load((CRDS / FILES[kind]).read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return dict(schema["properties"]["spec"])


def specs(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Specs of `kind` that satisfy its CRD's structural schema."""
    return from_schema(spec_schema(kind))


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.integers(0, 10**6) | _string(schema)
    kind = schema.get("type")
    if kind == "object":
        return _object(schema)
    if kind == "array":
        return _array(schema)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**53)), schema.get("maximum", 2**53))
    if kind == "number":
        return st.floats(
            schema.get("minimum", schema.get("exclusiveMinimum")),
            schema.get("maximum"),
            exclude_min="exclusiveMinimum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    raise ValueError(f"no strategy for schema keywords {sorted(schema)}")


def _object(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    if not properties:
        if isinstance(schema.get("additionalProperties"), dict):
            limit = min(schema.get("maxProperties", MAX_ITEMS), MAX_ITEMS)
            return st.dictionaries(text, from_schema(schema["additionalProperties"]),
                                   max_size=limit)  # fmt: skip
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return st.dictionaries(st.sampled_from(TEMPLATE_KEYS) | text, free_form,
                                   max_size=MAX_ITEMS)  # fmt: skip
        return st.just({})
    required = set(schema.get("required") or [])
    return st.fixed_dictionaries(
        {k: from_schema(v) for k, v in properties.items() if k in required},
        optional={k: from_schema(v) for k, v in properties.items() if k not in required},
    )


def _array(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    items = from_schema(schema["items"])
    low = schema.get("minItems", 0)
    high = max(low, min(schema.get("maxItems", MAX_ITEMS), MAX_ITEMS))
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") == "map" and keys:
        return st.lists(items, min_size=low, max_size=high,
                        unique_by=lambda item: tuple(repr(item.get(k)) for k in keys))  # fmt: skip
    if schema.get("x-kubernetes-list-type") == "set":
        return st.lists(items, min_size=low, max_size=high, unique_by=repr)
    return st.lists(items, min_size=low, max_size=high)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 2**31)
    if schema.get("format") == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(
            lambda t: t.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        )
    if "pattern" in schema:
        strings = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        strings = st.text(st.characters(exclude_categories=["Cs"]), min_size=low,
                          max_size=min(high, max(low, MAX_TEXT)))  # fmt: skip
    return strings.filter(lambda s: low <= len(s) <= high)
