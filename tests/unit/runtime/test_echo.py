"""The memory of our own status writes: never plan on a status older than the one written."""

from __future__ import annotations

from typing import Any

from modelship.runtime.echo import OwnWrites


def body(version: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ml", "name": "fraud", "resourceVersion": version}}


def test_a_body_older_than_our_write_is_read_again_until_the_watch_catches_up() -> None:
    writes = OwnWrites()
    reads: list[str] = []

    def read() -> dict[str, Any]:
        reads.append("GET")
        return body("12")

    assert writes.current(body("10"), read) == body("10")  # nothing written yet: no read
    writes.record(("ml", "fraud"), "11")
    assert writes.is_echo(("ml", "fraud"), "11")
    assert not writes.is_echo(("ml", "fraud"), "10")
    assert writes.current(body("10"), read) == body("12")  # stale watch: read it
    assert writes.current(body("10"), read) == body("12")  # still stale
    assert reads == ["GET", "GET"]
    assert writes.current(body("12"), read) == body("12")  # caught up: trusted again
    assert writes.current(body("13"), read) == body("13")
    assert reads == ["GET", "GET"]


def test_forget_drops_only_that_object() -> None:
    writes = OwnWrites()
    writes.record(("ml", "fraud"), "1")
    writes.record(("ml", "fraud-2"), "2")
    writes.forget(("ml", "fraud"))
    assert not writes.is_echo(("ml", "fraud"), "1")
    assert writes.is_echo(("ml", "fraud-2"), "2")
