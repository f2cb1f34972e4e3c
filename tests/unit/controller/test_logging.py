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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_repeated_warning_about_an_object_prints_once(
    stream: io.StringIO, fmt: mslogging.LogFormat
) -> None:
    """A reconcile woken twice in a row finds the same invalid spec twice: one line."""
    mslogging.configure("INFO", fmt, stream)
    body = {"metadata": {"namespace": "ml", "name": "fraud", "generation": 1}}
    log = mslogging.object_logger(body, "ModelDeployment")
    log.warning("invalid spec", error="spec.strategy: set exactly one")
    log.warning("invalid spec", error="spec.strategy: set exactly one")
    log.warning("child refused", error="HTTPRoute: no such kind")
    log.warning("child refused", error="HTTPRoute: no such kind")
    text = stream.getvalue()
    assert text.count("invalid spec") == 1, text
    assert text.count("child refused") == 1, text


def test_a_changed_or_lasting_problem_is_logged_again(stream: io.StringIO) -> None:
    mslogging.configure("INFO", "json", stream)
    clock = Clock()
    handler = logging.getLogger().handlers[0]
    repeated = next(f for f in handler.filters if isinstance(f, mslogging._RepeatedWarning))
    repeated.clock = clock
    body = {"metadata": {"namespace": "ml", "name": "fraud", "generation": 1}}
    log = mslogging.object_logger(body, "ModelDeployment")
    log.warning("invalid spec", error="a")
    log.warning("invalid spec", error="b")  # another problem
    mslogging.object_logger({"metadata": {**body["metadata"], "generation": 2}}, "X").warning(
        "invalid spec", error="b"
    )  # another generation
    other = {"metadata": {"namespace": "ml", "name": "other", "generation": 1}}
    mslogging.object_logger(other, "ModelDeployment").warning("invalid spec", error="a")
    for now in (10.0, 59.0):
        clock.now = now
        log.warning("invalid spec", error="a")  # still within the minute since it was said
    clock.now = 61.0
    log.warning("invalid spec", error="a")  # it lasts: said again
    log.error("reconcile failed", error="boom")
    log.error("reconcile failed", error="boom")  # errors are never held back
    logging.getLogger("modelship.x").warning("not about an object")
    logging.getLogger("modelship.x").warning("not about an object")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [(x["msg"], x.get("name"), x.get("error")) for x in lines] == [
        ("invalid spec", "fraud", "a"),
        ("invalid spec", "fraud", "b"),
        ("invalid spec", "fraud", "b"),
        ("invalid spec", "other", "a"),
        ("invalid spec", "fraud", "a"),
        ("reconcile failed", "fraud", "boom"),
        ("reconcile failed", "fraud", "boom"),
        ("not about an object", None, None),
        ("not about an object", None, None),
    ]


# As kopf 1.45 names them.
ISTIO = "Selector(group='networking.istio.io', version='v1', any_name='virtualservices')"
GATEWAY = "Selector(group='gateway.networking.k8s.io', version='v1', any_name='httproutes')"
OURS = "Selector(group='modelship.io', version='v1alpha1', any_name='modeldeployments')"


@pytest.mark.parametrize(
    ("unresolved", "shown"),
    [
        (f"{ISTIO}, {GATEWAY}", False),
        (ISTIO, False),
        (f"{GATEWAY}, {OURS}", True),
        (OURS, True),
    ],
)
def test_kopf_warns_of_missing_kinds_only_when_a_needed_one_is_missing(
    stream: io.StringIO, unresolved: str, shown: bool
) -> None:
    mslogging.configure("INFO", "json", stream)
    logging.getLogger("kopf.reactor.observation").warning(
        f"Unresolved resources cannot be served (try creating their CRDs): {unresolved}"
    )
    assert ("Unresolved resources" in stream.getvalue()) is shown
