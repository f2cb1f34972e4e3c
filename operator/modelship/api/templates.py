"""Pod and Job templates: free-form in the CRD (x-kubernetes-preserve-unknown-fields), so the
API server admits `spec: null` or `containers: [1]`. The parts the operator reads (to merge
a pod template, find the objects it refers to, or add the trainer's environment to a Job)
must have the types Kubernetes gives them; anything else is refused with the field's path.
Every other field is left to Kubernetes, which checks the Deployment or Job the operator
creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

Shape = Mapping[str, Any] | list[Any] | type
"""An object's shape (its keys' shapes), a list's item shape, or a scalar type."""

_NAMED_REF: Shape = {"name": str, "key": str}
_ITEMS: Shape = [{"key": str}]
_CONTAINER: Shape = {
    "name": str,
    "env": [
        {"name": str, "valueFrom": {"configMapKeyRef": _NAMED_REF, "secretKeyRef": _NAMED_REF}}
    ],
    "envFrom": [{"configMapRef": {"name": str}, "secretRef": {"name": str}}],
    "volumeMounts": [{"name": str}],
    "terminationMessagePath": str,
}
_SOURCES: Shape = {
    "configMap": {"name": str, "items": _ITEMS},
    "secret": {"name": str, "items": _ITEMS},
}
_VOLUME: Shape = {
    "name": str,
    "configMap": {"name": str, "items": _ITEMS},
    "secret": {"secretName": str, "items": _ITEMS},
    "persistentVolumeClaim": {"claimName": str},
    "projected": {"sources": [_SOURCES]},
}
_METADATA: Shape = {"labels": {}, "annotations": {}}
POD_TEMPLATE: Shape = {
    "metadata": _METADATA,
    "spec": {
        "containers": [_CONTAINER],
        "initContainers": [_CONTAINER],
        "volumes": [_VOLUME],
        "serviceAccountName": str,
    },
}
JOB_TEMPLATE: Shape = {"metadata": _METADATA, "spec": {"template": POD_TEMPLATE}}
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def _what(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def shape_problem(value: Any, shape: Shape, where: str = "") -> str | None:
    """The first place where `value` does not have `shape`: `spec.containers[0] must be an
    object, not a number` (paths relative to the template)."""
    if isinstance(shape, Mapping):
        if not isinstance(value, Mapping):
            return _wrong(where, "an object", value)
        for key, inner in shape.items():
            if key in value:
                problem = shape_problem(value[key], inner, f"{where}.{key}" if where else key)
                if problem:
                    return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return _wrong(where, "a list", value)
        for index, item in enumerate(value):
            problem = shape_problem(item, shape[0], f"{where}[{index}]")
            if problem:
                return problem
        return None
    return None if isinstance(value, shape) else _wrong(where, _JSON_NAMES[shape], value)


def _wrong(where: str, expected: str, value: Any) -> str:
    return f"{where or 'the template'} must be {expected}, not {_what(value)}"


def _checked(shape: Shape) -> AfterValidator:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        problem = shape_problem(value, shape)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


_FREE_FORM = WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
PodTemplate = Annotated[dict[str, Any], _checked(POD_TEMPLATE), _FREE_FORM]
"""A partial PodTemplateSpec, kept as written; the parts the operator reads are type-checked."""
JobTemplate = Annotated[dict[str, Any], _checked(JOB_TEMPLATE), _FREE_FORM]
"""A JobTemplateSpec, kept as written; the parts the operator reads are type-checked."""
