"""The input schema (from the profile, else from the model) and request decoding.

Decoding is a pure function: a validated InferenceRequest and a schema in, a Batch out, or
InvalidInputError naming each feature and its problem (HTTP 400).

Two request layouts are accepted:
- columnar: one input per feature, named after it, shape [N] or [N, 1] (BYTES for
  categorical features); fairness attributes that are not model inputs may be sent the same way;
- tensor: a single input not named after a feature, shape [N, F], numeric, features in profile
  order (what generic v2 clients and MLServer's NumPy codec send).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modelship.api.common import RejectReason
from modelship.profile.schema import CategoricalFeature, Profile
from modelship.server.protocol import INTEGER_DATATYPES, NUMERIC_DATATYPES, RequestInput

MAX_LISTED = 5  # categories quoted in an "unknown category" message
R = RejectReason


class InvalidInputError(ValueError):
    """The request does not match the schema; the message is returned to the client, the
    reason is counted (`modelship_requests_rejected_total`)."""

    def __init__(self, message: str, reason: RejectReason) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NumericSpec:
    name: str
    integer: bool = False
    value_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class CategoricalSpec:
    name: str
    categories: frozenset[str]
    allow_unknown: bool = False


FeatureSpec = NumericSpec | CategoricalSpec


@dataclass(frozen=True)
class InputSchema:
    """`features` is None when nothing describes the inputs: any numeric [N, F] is accepted."""

    features: tuple[FeatureSpec, ...] | None
    # Fairness attributes that are not model inputs, with their known groups.
    extra_attributes: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def numeric(self) -> tuple[NumericSpec, ...]:
        return tuple(f for f in self.features or () if isinstance(f, NumericSpec))

    @property
    def categorical(self) -> tuple[CategoricalSpec, ...]:
        return tuple(f for f in self.features or () if isinstance(f, CategoricalSpec))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features or ())


@dataclass(frozen=True)
class Batch:
    rows: int
    numeric: NDArray[np.float64]  # [rows, numeric features], schema order
    categorical: dict[str, list[str]]  # feature -> value per row
    extra_attributes: dict[str, list[str]]  # fairness-only attribute -> group per row


def schema_from_profile(profile: Profile) -> InputSchema:
    features: list[FeatureSpec] = []
    for feature in profile.features:
        if isinstance(feature, CategoricalFeature):
            features.append(
                CategoricalSpec(
                    feature.name,
                    frozenset(feature.distribution.categories),
                    feature.allow_unknown,
                )
            )
        else:
            limits = feature.enforce_range
            features.append(
                NumericSpec(
                    feature.name,
                    integer=feature.dtype == "integer",
                    value_range=(limits.min, limits.max) if limits else None,
                )
            )
    extra = {a.name: frozenset(a.groups) for a in profile.fairness if not a.is_feature}
    return InputSchema(tuple(features), extra)


def schema_from_model(n_features: int | None, names: Sequence[str] | None) -> InputSchema:
    """No profile: numeric features named after the model's `feature_names_in_` if it has them."""
    if names is not None:
        return InputSchema(tuple(NumericSpec(str(n)) for n in names))
    if n_features is not None:
        return InputSchema(tuple(NumericSpec(f"input-{i}") for i in range(n_features)))
    return InputSchema(None)


def _shape_size(shape: Sequence[int]) -> int:
    return math.prod(shape)


def _numbers(item: RequestInput, what: str) -> NDArray[np.float64]:
    """The input's data as a flat float64 array of prod(shape) finite numbers."""
    if item.datatype not in NUMERIC_DATATYPES:
        raise InvalidInputError(f"{what}: datatype {item.datatype} is not numeric", R.WRONG_TYPE)
    try:
        values = np.asarray(item.data, dtype=np.float64).reshape(-1)
    except OverflowError:
        raise InvalidInputError(
            f"{what}: a value is too large for a 64-bit float", R.NOT_A_NUMBER
        ) from None
    except (ValueError, TypeError):
        raise InvalidInputError(
            f"{what}: data must be numbers, nested as the shape says", R.NOT_A_NUMBER
        ) from None
    expected = _shape_size(item.shape)
    if values.size != expected:
        raise InvalidInputError(
            f"{what}: shape {item.shape} needs {expected} values but data has {values.size}",
            R.WRONG_SHAPE,
        )
    if not np.isfinite(values).all():
        reason = R.MISSING_VALUE if np.isnan(values).any() else R.NOT_A_NUMBER
        raise InvalidInputError(
            f"{what}: values must be finite numbers (no null, NaN or infinity)", reason
        )
    if item.datatype in INTEGER_DATATYPES and not (values == np.floor(values)).all():
        raise InvalidInputError(
            f"{what}: datatype {item.datatype} needs integer values", R.NOT_INTEGER
        )
    return values


def _strings(item: RequestInput, what: str) -> list[str]:
    if item.datatype != "BYTES":
        raise InvalidInputError(
            f"{what}: datatype {item.datatype} is not valid here, use BYTES", R.WRONG_TYPE
        )
    data: list[Any] = item.data
    if len(data) == 1 and isinstance(data[0], list):  # [[...]] for shape [N, 1] or [1, N]
        data = data[0]
    if data and isinstance(data[0], list):
        data = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
    if not all(isinstance(v, str) for v in data):
        reason = R.MISSING_VALUE if any(v is None for v in data) else R.WRONG_TYPE
        raise InvalidInputError(f"{what}: BYTES data must be strings", reason)
    expected = _shape_size(item.shape)
    if len(data) != expected:
        raise InvalidInputError(
            f"{what}: shape {item.shape} needs {expected} values but data has {len(data)}",
            R.WRONG_SHAPE,
        )
    return data


def _column_rows(item: RequestInput, what: str) -> int:
    shape = item.shape
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return shape[0]
    raise InvalidInputError(
        f"{what}: shape {shape} must be [N] or [N, 1] (one value per row)", R.WRONG_SHAPE
    )


def _check_numeric(spec: NumericSpec, values: NDArray[np.float64], what: str) -> None:
    if spec.value_range is not None:
        low, high = spec.value_range
        outside = (values < low) | (values > high)
        if outside.any():
            bad = float(values[outside.argmax()])
            raise InvalidInputError(
                f"{what}: value {bad:g} is outside the allowed range [{low:g}, {high:g}]",
                R.OUT_OF_RANGE,
            )


def _check_categories(spec: CategoricalSpec, values: list[str], what: str) -> None:
    if spec.allow_unknown:
        return
    for value in values:
        if value not in spec.categories:
            known = sorted(spec.categories)
            listed = ", ".join(repr(c) for c in known[:MAX_LISTED])
            if len(known) > MAX_LISTED:
                listed += f", ... ({len(known)} in all)"
            raise InvalidInputError(
                f"{what}: unknown category {value!r} (known: {listed})", R.UNKNOWN_CATEGORY
            )


def decode(inputs: Sequence[RequestInput], schema: InputSchema) -> Batch:
    """Validate the request's inputs against the schema and gather them into a Batch."""
    if schema.features is None:
        return _decode_untyped(inputs)
    names = set(schema.names)
    if len(inputs) == 1 and (inputs[0].name not in names or _whole_table(inputs[0], schema)):
        if inputs[0].name in schema.extra_attributes:
            raise InvalidInputError(
                "missing features: " + ", ".join(repr(n) for n in schema.names),
                R.MISSING_FEATURE,
            )
        return _decode_tensor(inputs[0], schema)
    return _decode_columns(inputs, schema)


def _whole_table(item: RequestInput, schema: InputSchema) -> bool:
    """A lone [N, F] input holding every feature is a tensor, whatever its name: without a
    profile the features are named input-0, input-1, ..., and clients name a tensor that way
    too (MLServer's NumPy codec sends "input-1")."""
    count = len(schema.names)
    return count > 1 and len(item.shape) == 2 and item.shape[1] == count


def _decode_untyped(inputs: Sequence[RequestInput]) -> Batch:
    if len(inputs) != 1:
        raise InvalidInputError(
            "this model takes a single input tensor of shape [N, F]", R.WRONG_SHAPE
        )
    item = inputs[0]
    what = f"input {item.name!r}"
    if len(item.shape) != 2:
        raise InvalidInputError(f"{what}: shape {item.shape} must be [N, F]", R.WRONG_SHAPE)
    values = _numbers(item, what)
    return Batch(item.shape[0], values.reshape(item.shape), {}, {})


def _decode_tensor(item: RequestInput, schema: InputSchema) -> Batch:
    what = f"input {item.name!r}"
    count = len(schema.names)
    if schema.categorical:
        raise InvalidInputError(
            f"{what}: this model has categorical features "
            f"({', '.join(f.name for f in schema.categorical)}); send one input per feature",
            R.WRONG_SHAPE,
        )
    if len(item.shape) != 2 or item.shape[1] != count:
        raise InvalidInputError(
            f"{what}: shape {item.shape} must be [N, {count}] (features: "
            f"{', '.join(schema.names)}), or send one input per feature",
            R.WRONG_SHAPE,
        )
    values = _numbers(item, what).reshape(item.shape)
    for column, spec in enumerate(schema.numeric):
        _check_numeric_column(spec, values[:, column])
    return Batch(item.shape[0], values, {}, {})


def _check_numeric_column(spec: NumericSpec, values: NDArray[np.float64]) -> None:
    what = f"feature {spec.name!r}"
    if spec.integer and not (values == np.floor(values)).all():
        raise InvalidInputError(f"{what}: needs integer values", R.NOT_INTEGER)
    _check_numeric(spec, values, what)


def _decode_columns(inputs: Sequence[RequestInput], schema: InputSchema) -> Batch:
    by_name: dict[str, RequestInput] = {}
    problems: list[str] = []
    for item in inputs:
        if item.name in by_name:
            problems.append(f"feature {item.name!r}: given more than once")
        elif item.name not in schema.names and item.name not in schema.extra_attributes:
            problems.append(f"unknown feature {item.name!r}")
        by_name[item.name] = item
    missing = [name for name in schema.names if name not in by_name]
    if missing:
        problems.append("missing features: " + ", ".join(repr(n) for n in missing))
    if problems:
        # A missing feature is the data-quality fact; it wins over a stray input.
        reason = R.MISSING_FEATURE if missing else R.UNKNOWN_FEATURE
        raise InvalidInputError("; ".join(problems), reason)
    rows: int | None = None
    numeric_columns: list[NDArray[np.float64]] = []
    categorical: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    for item in by_name.values():
        what = f"feature {item.name!r}"
        count = _column_rows(item, what)
        if rows is None:
            rows = count
        elif count != rows:
            raise InvalidInputError(
                f"{what}: has {count} rows but other features have {rows}", R.WRONG_SHAPE
            )
    for spec in schema.features or ():
        item = by_name[spec.name]
        what = f"feature {spec.name!r}"
        if isinstance(spec, NumericSpec):
            if item.datatype == "BYTES":
                raise InvalidInputError(
                    f"{what}: numeric feature needs a numeric datatype, not BYTES", R.WRONG_TYPE
                )
            column = _numbers(item, what)
            _check_numeric_column(spec, column)
            numeric_columns.append(column)
        else:
            if item.datatype != "BYTES":
                raise InvalidInputError(
                    f"{what}: categorical feature needs datatype BYTES, not {item.datatype}",
                    R.WRONG_TYPE,
                )
            values = _strings(item, what)
            _check_categories(spec, values, what)
            categorical[spec.name] = values
    for name in schema.extra_attributes:
        if name in by_name:
            extra[name] = _strings(by_name[name], f"attribute {name!r}")
    assert rows is not None  # at least one feature exists
    numeric = (
        np.column_stack(numeric_columns) if numeric_columns else np.empty((rows, 0), np.float64)
    )
    return Batch(rows, numeric, categorical, extra)


def _nulls(data: Sequence[Any]) -> list[bool]:
    """Whether each value of (nested) data is missing: null or NaN."""
    flags: list[bool] = []
    stack: list[Any] = [iter(data)]
    while stack:
        value = next(stack[-1], _END)
        if value is _END:
            stack.pop()
        elif isinstance(value, list):
            stack.append(iter(value))
        else:
            flags.append(value is None or (isinstance(value, float) and math.isnan(value)))
    return flags


_END = object()


def missing_values(
    inputs: Sequence[RequestInput], schema: InputSchema
) -> tuple[int, dict[str, int]] | None:
    """The rows of a rejected request and each feature's missing values (no input, null or
    NaN), read leniently; None when the request does not say how many rows it has. A served
    request has none: decoding rejects them all."""
    if schema.features is None or not inputs:
        return None
    names = schema.names
    first = inputs[0]
    if len(inputs) == 1 and first.name not in names and first.name not in schema.extra_attributes:
        return _missing_in_tensor(first, names)
    by_name: dict[str, RequestInput] = {}
    for item in inputs:
        by_name.setdefault(item.name, item)
    shapes = [
        i.shape for i in inputs if len(i.shape) == 1 or (len(i.shape) == 2 and i.shape[1] == 1)
    ]
    if not shapes:
        return None
    rows = shapes[0][0]
    counts = {}
    for name in names:
        given = by_name.get(name)
        counts[name] = rows if given is None else min(sum(_nulls(given.data)), rows)
    return rows, counts


def _missing_in_tensor(
    item: RequestInput, names: Sequence[str]
) -> tuple[int, dict[str, int]] | None:
    width = len(names)
    if len(item.shape) != 2 or item.shape[1] != width:
        return None
    flags = _nulls(item.data)
    if len(flags) != item.shape[0] * width:
        return None
    return item.shape[0], {name: sum(flags[j::width]) for j, name in enumerate(names)}
