"""Open Inference Protocol v2 request bodies (pydantic) and datatype helpers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

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


class RequestOutput(_Lenient):
    name: StrictStr
    parameters: dict[str, Any] | None = None


class InferenceRequest(_Lenient):
    id: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class FeedbackRequest(_Lenient):
    """Ground truth for an earlier inference: one value per row, in the request's row order."""

    id: StrictStr = Field(min_length=1)
    ground_truth: list[StrictStr | StrictInt | float | bool] = Field(min_length=1)


def describe_validation_error(err: ValidationError, limit: int = 3) -> str:
    """A short field-level message: `inputs.0.datatype: Input should be 'BOOL', ...`."""
    parts = []
    for detail in err.errors(include_url=False)[:limit]:
        location = ".".join(str(p) for p in detail["loc"]) or "body"
        if detail["type"] == "json_invalid":
            parts.append(f"invalid JSON: {detail['msg']}")
        else:
            parts.append(f"{location}: {detail['msg']}")
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
