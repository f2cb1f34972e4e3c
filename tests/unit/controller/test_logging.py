"""Log lines: JSON with the object reference; kopf's records get the same fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from modelship import logging as mslogging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_object_lines_carry_kind_namespace_name_generation(stream: io.StringIO) -> None:
    mslogging.configure("INFO", "json", stream)
    body = {"metadata": {"namespace": "ml", "name": "fraud", "generation": 3}}
    mslogging.object_logger(body, "ModelDeployment").info("status changed", phase="Healthy")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["msg"] == "status changed"
    assert (line["kind"], line["namespace"], line["name"], line["generation"]) == (
        "ModelDeployment",
        "ml",
        "fraud",
        3,
    )
    assert line["level"] == "info"
    assert line["phase"] == "Healthy"
    assert "timestamp" in line
    assert list(line)[:4] == ["timestamp", "level", "logger", "msg"]


def test_kopf_object_records_get_the_reference(stream: io.StringIO) -> None:
    mslogging.configure("INFO", "json", stream)
    ref = {
        "apiVersion": "modelship.io/v1alpha1",
        "kind": "DriftMonitor",
        "name": "d",
        "namespace": "ml",
        "uid": "u",
    }
    logging.getLogger("kopf.objects").info("Handler succeeded.", extra={"k8s_ref": ref})
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert (line["kind"], line["namespace"], line["name"]) == ("DriftMonitor", "ml", "d")
    assert line["logger"] == "kopf.objects"


def test_console_format_is_for_people(stream: io.StringIO) -> None:
    mslogging.configure("DEBUG", "console", stream)
    mslogging.object_logger({"metadata": {"name": "x"}}, "RetrainPolicy").debug("hello")
    text = stream.getvalue()
    assert "hello" in text
    assert "kind=RetrainPolicy" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[-1])


def test_level_filters(stream: io.StringIO) -> None:
    mslogging.configure("WARNING", "json", stream)
    logging.getLogger("modelship.x").info("quiet")
    logging.getLogger("modelship.x").warning("loud")
    assert [json.loads(x)["msg"] for x in stream.getvalue().splitlines()] == ["loud"]
