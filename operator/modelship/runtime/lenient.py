"""Reading a status written by any version of the operator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def lenient(model: type[M], raw: Mapping[str, Any]) -> M:
    """Parse a status written by any version of the operator: fields this version does not
    know, or cannot read, are dropped one by one, never the whole status (an empty status
    would restart the rollout from scratch and replay handled controls)."""
    fields = {f.alias or name for name, f in model.model_fields.items()} | set(model.model_fields)
    known = {k: v for k, v in raw.items() if k in fields}
    try:
        return model.model_validate(known)
    except ValueError:
        readable = {}
        for key, value in known.items():
            try:
                model.model_validate({key: value})
            except ValueError:
                continue
            readable[key] = value
        return model.model_validate(readable)
