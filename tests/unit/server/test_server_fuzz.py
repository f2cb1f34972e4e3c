"""No input, however malformed, produces a 5xx: property-based fuzzing of the ASGI app.

Generators (fuzz_bodies.py, shared with tests/server/test_hostile_input.py): arbitrary JSON
documents, arbitrary bytes, and valid requests with one part replaced by arbitrary JSON (which
reaches deep into decoding, where bugs would hide).
"""

from __future__ import annotations

from typing import Any

from fuzz_bodies import (
    PATHS,
    datatypes,
    json_values,
    numeric_data,
    replaced,
    reshaped,
    valued_requests,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

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
    response = client.post("/v2/models/credit/infer", json=replaced(path, value))
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400), response.text


@FUZZ
@given(
    column=st.integers(0, 3),
    shape=st.lists(st.integers(0, 4), max_size=3),
    data=numeric_data,
    datatype=datatypes,
)
def test_any_shape_data_and_datatype_in_any_input_never_5xx(
    client: TestClient, column: int, shape: list[int], data: Any, datatype: str
) -> None:
    request = reshaped(column, shape, data, datatype)
    response = client.post("/v2/models/credit/infer", json=request)
    assert response.status_code in (200, 400), response.text


@FUZZ
@given(request=valued_requests)
def test_well_formed_requests_with_any_values_never_5xx(
    client: TestClient, request: dict[str, Any]
) -> None:
    response = client.post("/v2/models/credit/infer", json=request)
    assert response.status_code in (200, 400), response.text
