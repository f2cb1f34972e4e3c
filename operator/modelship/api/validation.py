"""Validate a whole object (as read from the API server) against its kind's models.

The operator calls this on every reconcile: the CRD schema catches most mistakes at
`kubectl apply`, but not all (a cron minute of 61, objects written before a CRD upgrade), and
whatever slips through is reported on the object as `Stalled` with these messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from modelship.api.base import KubeModel
from modelship.api.resources import Kind


@dataclass(frozen=True)
class Problem:
    """One reason an object is invalid: where (`spec.strategy.canary`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidObjectError(ValueError):
    """The object does not satisfy its kind's models; `problems` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def field_path(root: str, loc: Sequence[int | str]) -> str:
    """`("strategy", "steps", 0, "setWeight")` -> `spec.strategy.steps[0].setWeight`."""
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _message(error: Mapping[str, Any]) -> str:
    text = str(error["msg"])
    # Our rules raise ValueError; pydantic prefixes their message with "Value error, ".
    return text.removeprefix("Value error, ")


def problems_of(error: ValidationError, root: str = "spec") -> list[Problem]:
    return [Problem(field_path(root, e["loc"]), _message(e)) for e in error.errors()]


def parse_spec(kind: Kind, body: Mapping[str, Any]) -> KubeModel:
    """The object's spec as its model; raises InvalidObjectError naming every problem."""
    problems: list[Problem] = []
    name = str(body.get("metadata", {}).get("name", ""))
    for rule in kind.object_rules:
        if not rule.check(name):
            problems.append(Problem("", rule.message))  # the message names the field
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidObjectError([*problems, Problem("spec", "Required value")])
    try:
        model = kind.spec.model_validate(spec)
    except ValidationError as err:
        problems.extend(problems_of(err))
    if problems:
        raise InvalidObjectError(problems)
    return model
