"""Durations, quantities and cron schedules."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from modelship.api.cron import validate_cron
from modelship.api.types import Duration, IntOrPercent, Quantity, parse_duration
from pydantic import TypeAdapter, ValidationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("6h", timedelta(hours=6)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 m", "1d", "-5m", "m", "1h 30m", "PT5M"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(text)


@pytest.mark.parametrize("text", ["100000000000000s", "2562048h", "2562047h60m"])
def test_a_duration_longer_than_kubernetes_represents_is_rejected_not_an_overflow(
    text: str,
) -> None:
    # The pattern admits them (the API server too, where no CEL rule reads the field).
    with pytest.raises(ValueError, match="longer than 2562047h"):
        parse_duration(text)
    with pytest.raises(ValidationError, match="longer than 2562047h"):
        TypeAdapter(Duration).validate_python(text)
    assert parse_duration("2562047h") == timedelta(hours=2_562_047)


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["ms", "s", "m", "h"])),
        min_size=1,
        max_size=4,
    )
)
def test_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    expected = sum(n * scale[unit] for n, unit in parts)
    assert parse_duration(text).total_seconds() == pytest.approx(expected)


@pytest.mark.parametrize("value", ["500m", "2", 2, "1Gi", "1.5Gi", "100M", "1e3", "0.5"])
def test_quantity_accepts(value: int | str) -> None:
    assert TypeAdapter(Quantity).validate_python(value) == value


@pytest.mark.parametrize("value", ["", "1 Gi", "lots", "1GB", "--1"])
def test_quantity_rejects(value: str) -> None:
    with pytest.raises(ValidationError, match="invalid quantity"):
        TypeAdapter(Quantity).validate_python(value)


@pytest.mark.parametrize(
    ("value", "ok"), [(1, True), ("25%", True), ("25", True), ("x%", False), (-1, False)]
)
def test_int_or_percent(value: int | str, ok: bool) -> None:
    if ok:
        TypeAdapter(IntOrPercent).validate_python(value)
    else:
        with pytest.raises(ValidationError):
            TypeAdapter(IntOrPercent).validate_python(value)


@pytest.mark.parametrize(
    "schedule",
    [
        "0 3 * * 0",
        "*/5 * * * *",
        "0 0 1 1 *",
        "0 9-17 * * MON-FRI",
        "0 0 ? * 7",
        "@hourly",
        "15,45 */2 1-15/3 jan,jul sun",
        "59 23 31 12 6",
    ],
)
def test_cron_accepts(schedule: str) -> None:
    assert validate_cron(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("61 3 * * 0", "minute 61 is outside 0-59"),
        ("0 24 * * *", "hour 24 is outside 0-23"),
        ("0 0 0 * *", "day of month 0 is outside 1-31"),
        ("0 0 * 13 *", "month 13 is outside 1-12"),
        ("0 0 * * 8", "day of week 8 is outside 0-7"),
        ("0 0 * * FUN", "day of week 'FUN' is not a number"),
        ("*/0 * * * *", "minute step '0' must be a positive number"),
        ("10-5 * * * *", "minute range '10-5' runs backwards"),
        ("0 0 * *", "needs 5 fields"),
        ("1,,2 * * * *", "empty item in the minute field"),
        ("? * * * *", "minute '?' is not a number"),
    ],
)
def test_cron_rejects(schedule: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        validate_cron(schedule)
