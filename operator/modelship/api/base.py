"""The base of every API model: Kubernetes field names, descriptions and cross-field rules.

A cross-field rule is written once, as a `Rule`, and enforced twice: by the API server (its CEL
expression lands in the CRD's `x-kubernetes-validations`) and by the operator (its Python
predicate runs when a model is validated), with the same message in both places, so a user sees
the same words from `kubectl apply` and from the object's `Stalled` condition.

The API server evaluates CEL rules even on values that already failed their own schema (a
pattern, a range): only type, enum, required and size errors stop it. pydantic never runs a
model's rules once one of its fields failed. So a rule's CEL must hold ("pass") whenever a
value it reads is invalid by its own schema, and never fail with a runtime error on such a
value (`duration('10x')`): the field's own message is then the only one, from both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


@dataclass(frozen=True)
class Rule:
    """A cross-field rule: a CEL expression for the API server and its Python twin.

    `cel` is None for rules the API server enforces by other means (list-map keys are unique
    by construction), so the operator's message matches what it would have said.
    """

    cel: str | None
    message: str
    check: Callable[[Any], bool]
    field_path: str | None = None
    """CEL `fieldPath`: the child the API server names in the error (e.g. `.max`)."""
    message_expression: str | None = None
    """CEL `messageExpression`: a message naming the culprit. `message` stays the fallback."""
    describe: Callable[[Any], str] | None = None
    """The Python twin of `message_expression`: the same words for the same object."""

    def __post_init__(self) -> None:
        if (self.message_expression is None) != (self.describe is None):
            raise ValueError("message_expression and describe come together")

    def failure(self, value: Any) -> str:
        """The message for a value that fails the rule."""
        return self.describe(value) if self.describe else self.message

    def to_schema(self) -> dict[str, str]:
        assert self.cel is not None
        entry = {"rule": self.cel, "message": self.message}
        if self.message_expression:
            entry["messageExpression"] = self.message_expression
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


class KubeModel(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )

    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        for rule in type(self).__dict__.get("rules", ()):
            if not rule.check(self):
                raise ValueError(rule.failure(self))
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        rules = [rule for rule in cls.__dict__.get("rules", ()) if rule.cel is not None]
        if rules:
            target = handler.resolve_ref_schema(schema)
            target["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]
        return schema

    def to_kube(self) -> dict[str, Any]:
        """The Kubernetes (camelCase) form, leaving out unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def only_one(*values: object) -> bool:
    """True when exactly one of the values is set (not None)."""
    return sum(value is not None for value in values) == 1


def unique(values: Iterable[object] | None) -> bool:
    """True when no value repeats (None counts as empty)."""
    items = list(values or [])
    return len(items) == len(set(items))


def ordered(low: float | None, high: float | None) -> bool:
    """True unless both bounds are set and the low one exceeds the high one."""
    return low is None or high is None or low <= high
