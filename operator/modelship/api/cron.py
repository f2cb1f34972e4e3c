"""Cron schedule syntax, checked field by field (the CRD can only check the overall shape)."""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import CroniterBadDateError, croniter

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"})
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# (name, lowest, highest, names for values starting at lowest, whether `?` is allowed)
_FIELDS: tuple[tuple[str, int, int, list[str], bool], ...] = (
    ("minute", 0, 59, [], False),
    ("hour", 0, 23, [], False),
    ("day of month", 1, 31, [], True),
    ("month", 1, 12, _MONTHS, False),
    ("day of week", 0, 7, _DAYS, True),
)


def _value(text: str, field: str, low: int, high: int, names: list[str]) -> int:
    upper = text.upper()
    if upper in names:
        return low + names.index(upper)
    if not text.isdigit():
        raise ValueError(f"{field} {text!r} is not a number")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{field} {number} is outside {low}-{high}")
    return number


def _check_item(item: str, spec: tuple[str, int, int, list[str], bool]) -> None:
    field, low, high, names, _ = spec
    base, _, step = item.partition("/")
    if "/" in item and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"{field} step {step!r} must be a positive number")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    first = _value(start, field, low, high, names)
    if dash:
        last = _value(end, field, low, high, names)
        if first > last:
            raise ValueError(f"{field} range {base!r} runs backwards")


def validate_cron(schedule: str) -> str:
    """Return `schedule` unchanged, or raise ValueError naming the first bad field."""
    text = schedule.strip()
    if text in MACROS:
        return schedule
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"schedule {schedule!r} needs 5 fields (minute hour day-of-month month day-of-week)"
        )
    for part, spec in zip(parts, _FIELDS, strict=True):
        if part == "?" and spec[4]:
            continue
        for item in part.split(","):
            if not item:
                raise ValueError(f"schedule {schedule!r}: empty item in the {spec[0]} field")
            try:
                _check_item(item, spec)
            except ValueError as err:
                raise ValueError(f"schedule {schedule!r}: {err}") from None
    _check_fires(schedule, text)
    return schedule


def _check_fires(schedule: str, text: str) -> None:
    """Fields that are each valid can still name no real time (February 30th)."""
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterBadDateError, ValueError, KeyError) as err:
        raise ValueError(f"schedule {schedule!r} never fires: {err}") from None
