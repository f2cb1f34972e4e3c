"""No input, however malformed, produces a 5xx: property-based fuzzing of the ASGI app.

Three generators: arbitrary JSON documents, arbitrary bytes, and valid requests with one part
replaced by arbitrary JSON (which reaches deep into decoding, where bugs would hide).
"""

from __future__ import annotations

import copy
from typing import Any

from credit_model import columnar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

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

VALID = columnar(
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
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=json_values)
def test_arbitrary_json_never_5xx(client: TestClient, body: Any) -> None:
    for path in ("/v2/models/credit/infer", "/v2/models/credit/feedback"):
        response = client.post(path, json=body)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert "error" in response.json()


@FUZZ
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_5xx(client: TestClient, body: bytes) -> None:
    response = client.post("/v2/models/credit/infer", content=body)
    assert response.status_code < 500, response.text


@FUZZ
@given(path=st.sampled_from(PATHS), value=json_values)
def test_mutated_valid_requests_never_5xx(
    client: TestClient, path: tuple[Any, ...], value: Any
) -> None:
    request = copy.deepcopy(VALID)
    target: Any = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    response = client.post("/v2/models/credit/infer", json=request)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400), response.text


numbers = (
    st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.none()
    | st.booleans()
    | st.text(max_size=2)
)
numeric_data = st.recursive(st.lists(numbers, max_size=4), lambda c: st.lists(c, max_size=3))


@FUZZ
@given(
    column=st.integers(0, 3),
    shape=st.lists(st.integers(0, 4), max_size=3),
    data=numeric_data,
    datatype=st.sampled_from(["FP64", "INT64", "BOOL", "BYTES", "UINT8", "FP16"]),
)
def test_any_shape_data_and_datatype_in_any_input_never_5xx(
    client: TestClient, column: int, shape: list[int], data: Any, datatype: str
) -> None:
    request = copy.deepcopy(VALID)
    request["inputs"][column].update(shape=shape, data=data, datatype=datatype)  # type: ignore[index]
    response = client.post("/v2/models/credit/infer", json=request)
    assert response.status_code in (200, 400), response.text


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
            st.text(max_size=3),
        ),
        max_size=6,
    )
)
def test_well_formed_requests_with_any_values_never_5xx(
    client: TestClient, rows: list[tuple[int, float, str]]
) -> None:
    request = columnar([{"age": a, "income": i, "country": c} for a, i, c in rows])
    response = client.post("/v2/models/credit/infer", json=request)
    assert response.status_code in (200, 400), response.text
