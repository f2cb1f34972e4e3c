"""Open Inference Protocol v2 request bodies (pydantic) and datatype helpers."""

from __future__ import annotations

import math
from itertools import chain
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip
NUMERIC_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
     "FP16", "FP32", "FP64"}
)  # fmt: skip
INTEGER_DATATYPES = frozenset(
    {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
)


class _Lenient(BaseModel):
    # Unknown keys are ignored (clients add their own), known keys are strictly typed.
    model_config = ConfigDict(extra="ignore", frozen=True)


class RequestInput(_Lenient):
    name: StrictStr
    shape: list[Annotated[int, Field(strict=True, ge=0)]]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any]


def wrong_number_types(item: RequestInput) -> str | None:
    """Why a numeric input's data is not numbers, or None. numpy would read "1.5" as 1.5 and
    true as 1.0: a wrong type is refused, not guessed at. null is left to decoding, which
    names it together with NaN and infinity."""
    if item.datatype not in NUMERIC_DATATYPES:
        return None
    wrong = leaf_types(item.data) & ({str} if item.datatype == "BOOL" else {str, bool})
    if not wrong:
        return None
    return f"data must be numbers, not {'strings' if str in wrong else 'booleans'}"


def leaf_types(data: list[Any]) -> set[type]:
    """The types of the values in a nested list, level by level at C speed."""
    types = set(map(type, data))
    level: list[Any] = data
    while list in types:
        types.discard(list)
        nested = level if not types else [v for v in level if type(v) is list]
        level = list(chain.from_iterable(nested))
        types |= set(map(type, level))
    return types


class RequestOutput(_Lenient):
    name: StrictStr
    parameters: dict[str, Any] | None = None


# Ids are remembered for feedback (--feedback-capacity of them): bounded, so the cache is.
MAX_ID_LENGTH = 256


class InferenceRequest(_Lenient):
    id: Annotated[StrictStr, Field(max_length=MAX_ID_LENGTH)] | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class FeedbackRequest(_Lenient):
    """Ground truth for an earlier inference: one value per row, in the request's row order."""

    id: StrictStr = Field(min_length=1, max_length=MAX_ID_LENGTH)
    ground_truth: list[StrictStr | StrictInt | float | bool] = Field(min_length=1)

    @field_validator("ground_truth")
    @classmethod
    def _finite(cls, values: list[str | int | float | bool]) -> list[str | int | float | bool]:
        # JSON's NaN and Infinity tokens are no label and no value: refused, not counted.
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError("values must be finite numbers (no NaN or infinity)")
        return values


def describe_validation_error(err: ValidationError, limit: int = 3) -> str:
    """A short field-level message: `inputs.0.datatype: Input should be 'BOOL', ...`."""
    parts = []
    for detail in err.errors(include_url=False)[:limit]:
        location = ".".join(str(p) for p in detail["loc"]) or "body"
        if detail["type"] == "json_invalid":
            parts.append(f"invalid JSON: {detail['msg']}")
        else:
            parts.append(f"{location}: {detail['msg'].removeprefix('Value error, ')}")
    more = err.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def datatype_of(array: np.ndarray[Any, Any]) -> str:
    """OIP datatype of a numpy array (object and string arrays are BYTES)."""
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        prefix = "INT" if kind == "i" else "UINT"
        return f"{prefix}{array.dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{array.dtype.itemsize * 8}"
    return "BYTES"
