"""Scalar types shared by the resources: durations, quantities, Kubernetes names, URIs, cron.

Each is an annotated `str` (or int-or-string) whose pattern is enforced identically by pydantic
and, through the generated CRD, by the API server.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema

from modelship.api.cron import validate_cron

# Go duration syntax restricted to ms, s, m and h: CEL's duration() parses exactly this, so
# rules such as `duration(self.window) >= duration(self.interval)` work at the API server.
# No backslashes, so that the pattern reads the same inside a CEL string literal.
DURATION_PATTERN = r"^([0-9]+([.][0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# The longest duration Go (and so CEL's duration()) represents, about 292 years; longer ones
# fit the pattern but overflow there, and here once added to a date.
MAX_DURATION_HOURS = 2_562_047


def parse_duration(text: str) -> timedelta:
    """`"1h30m"` -> 90 minutes. Raises ValueError on anything `DURATION_PATTERN` rejects, and
    on a duration longer than MAX_DURATION_HOURS."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 5m, 1h")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    if seconds > MAX_DURATION_HOURS * 3600:
        raise ValueError(f"duration {text!r} is longer than {MAX_DURATION_HOURS}h (292 years), "
                         "the longest Kubernetes represents")  # fmt: skip
    return timedelta(seconds=seconds)


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def cel_matches(expr: str, pattern: str) -> str:
    """CEL: `expr` (a string) matches `pattern` (which holds no quote or backslash)."""
    assert "'" not in pattern and "\\" not in pattern, pattern
    return f"{expr}.matches('{pattern}')"


def cel_duration_at_least(expr: str, minimum: str) -> str:
    """CEL: the duration `expr` is at least `minimum` (a quoted literal or another duration
    expression), or one of them is not a duration at all: its pattern reports that, and
    `duration()` of it would be a runtime error."""
    operands = [expr] if minimum.startswith("'") else [expr, minimum]
    guards = " || ".join(f"!{cel_matches(e, DURATION_PATTERN)}" for e in operands)
    return f"({guards} || duration({expr}) >= duration({minimum}))"


Duration = Annotated[
    str,
    StringConstraints(pattern=DURATION_PATTERN, max_length=32),
    AfterValidator(_check_duration),
]
"""A duration such as `30s`, `5m`, `1h` or `1h30m` (units ms, s, m, h)."""

# The Kubernetes resource.Quantity grammar, as the upstream CRD generators emit it.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _check_quantity(value: int | str) -> int | str:
    if isinstance(value, str) and not re.fullmatch(QUANTITY_PATTERN, value):
        raise ValueError(f"invalid quantity {value!r}: use e.g. 500m, 2, 1Gi")
    return value


Quantity = Annotated[
    int | str,
    AfterValidator(_check_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes quantity such as `500m`, `2` or `1Gi`."""

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
LABEL_VALUE = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"

ObjectName = Annotated[str, StringConstraints(pattern=DNS1123_SUBDOMAIN, max_length=253)]
"""The name of a namespaced object (a DNS-1123 subdomain)."""

LabelName = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=63)]
"""A DNS-1123 label: lower-case letters, digits and '-', at most 63 characters."""

ServiceName = Annotated[str, StringConstraints(pattern=DNS1035_LABEL, max_length=63)]
"""A Service name (a DNS-1035 label: starts with a letter)."""

LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE, max_length=63)]
"""A value usable as a Kubernetes label value (it labels pods and metrics)."""

ShortString = Annotated[str, StringConstraints(min_length=1, max_length=253)]

MODEL_URI_PATTERN = r"^((file|https?|s3|gs)://.+|pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/.*)?)$"
ModelURI = Annotated[str, StringConstraints(pattern=MODEL_URI_PATTERN, max_length=1024)]
"""Where a model lives: `file://`, `http(s)://`, `s3://`, `gs://` or `pvc://claim/path`."""

URL = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=1024)]
"""An http:// or https:// URL."""

# The schema only checks the shape (a macro or five fields); the operator checks every field.
CRON_SHAPE = r"^(@(yearly|annually|monthly|weekly|daily|hourly)|\S+( +\S+){4})$"
Cron = Annotated[
    str,
    StringConstraints(pattern=CRON_SHAPE, max_length=128),
    AfterValidator(validate_cron),
]
"""A cron schedule with five fields (minute hour day-of-month month day-of-week) or a macro."""

INT_OR_PERCENT_PATTERN = r"^[0-9]+%?$"


def _check_int_or_percent(value: int | str) -> int | str:
    if isinstance(value, str) and not re.fullmatch(INT_OR_PERCENT_PATTERN, value):
        raise ValueError(
            f"invalid value {value!r}: use a count such as 1 or a percentage such as 25%"
        )
    if isinstance(value, int) and value < 0:
        raise ValueError("must not be negative")
    return value


IntOrPercent = Annotated[
    int | str,
    AfterValidator(_check_int_or_percent),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": INT_OR_PERCENT_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A count (`1`) or a percentage (`25%`)."""
