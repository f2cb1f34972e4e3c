"""Hypothesis strategies for inference bodies, shared by the in-process and the process fuzz.

Arbitrary JSON, valid requests with one part replaced by arbitrary JSON (which reaches deep
into decoding, where bugs would hide), and valid requests with any shape, data and datatype
in one input.
"""

from __future__ import annotations

import copy
from typing import Any

from credit_model import columnar
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)

VALID: dict[str, Any] = columnar(
    [
        {"age": 30, "income": 40.5, "country": "FR"},
        {"age": 60, "income": 70.0, "country": "US"},
    ],
    gender=["F", "M"],
)
# Paths into a valid request that a mutation may replace.
PATHS: list[tuple[Any, ...]] = [
    ("inputs",),
    ("inputs", 0),
    ("inputs", 0, "shape"),
    ("inputs", 0, "shape", 0),
    ("inputs", 0, "datatype"),
    ("inputs", 0, "data"),
    ("inputs", 0, "data", 1),
    ("inputs", 1, "data", 0),
    ("inputs", 2, "data"),
    ("inputs", 2, "data", 0),
    ("inputs", 2, "shape"),
    ("inputs", 3, "data"),
    ("inputs", 1, "name"),
    ("outputs",),
    ("id",),
    ("parameters",),
]


def replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """VALID with the part at `path` replaced by `value`."""
    request = copy.deepcopy(VALID)
    target: Any = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return request


def reshaped(column: int, shape: list[int], data: Any, datatype: str) -> dict[str, Any]:
    """VALID with one input's shape, data and datatype replaced."""
    request = copy.deepcopy(VALID)
    request["inputs"][column].update(shape=shape, data=data, datatype=datatype)
    return request


numbers = (
    st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.none()
    | st.booleans()
    | st.text(max_size=2)
)
numeric_data = st.recursive(st.lists(numbers, max_size=4), lambda c: st.lists(c, max_size=3))
datatypes = st.sampled_from(["FP64", "INT64", "BOOL", "BYTES", "UINT8", "FP16"])

mutated_requests = st.builds(replaced, st.sampled_from(PATHS), json_values)
reshaped_requests = st.builds(
    reshaped, st.integers(0, 3), st.lists(st.integers(0, 4), max_size=3), numeric_data, datatypes
)
# Well-formed requests with any values: many are valid, so the prediction path is fuzzed too.
valued_requests = st.builds(
    lambda rows: columnar([{"age": a, "income": i, "country": c} for a, i, c in rows]),
    st.lists(
        st.tuples(
            st.integers(18, 89) | st.integers(-(2**63), 2**63),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
            st.sampled_from(["FR", "DE", "US"]) | st.text(max_size=3),
        ),
        max_size=6,
    ),
)
# Everything above, for a fuzz that draws one body per case.
infer_bodies = json_values | mutated_requests | reshaped_requests | valued_requests
# parameters.explain / explain_top of any value on an otherwise valid request.
explained_requests = st.builds(
    lambda parameters: {**VALID, "parameters": parameters},
    st.dictionaries(st.sampled_from(["explain", "explain_top"]), json_values, max_size=2)
    | st.builds(lambda top: {"explain": True, "explain_top": top}, json_values),
)
