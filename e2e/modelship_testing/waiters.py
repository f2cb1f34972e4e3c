"""Wait for a condition instead of sleeping, and explain what was seen when it never came.

Fixtures register diagnostics (the object under test, its namespace's Events, the operator's
log tail); a timed-out wait prints them all, so a red test says why without a re-run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_diagnostics: list[tuple[str, Callable[[], str]]] = []


@contextmanager
def diagnostic(title: str, produce: Callable[[], str]) -> Iterator[None]:
    """Include `produce()`'s text in the message of any wait that times out meanwhile."""
    entry = (title, produce)
    _diagnostics.append(entry)
    try:
        yield
    finally:
        _diagnostics.remove(entry)


def collect_diagnostics() -> str:
    parts = []
    for title, produce in list(_diagnostics):
        try:
            text = produce()
        except Exception as err:  # noqa: BLE001 - diagnostics must never hide the failure
            text = f"(could not collect: {err})"
        parts.append(f"--- {title} ---\n{text}")
    return "\n".join(parts)


class WaitTimeoutError(AssertionError):
    """A condition did not hold within its timeout."""


def wait_for(
    check: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.2,
    describe: str = "condition",
) -> T:
    """Call `check` until it returns a truthy value and return that value.

    Exceptions from `check` count as "not yet" (the API may be briefly unavailable); the last
    one is reported on timeout together with the registered diagnostics.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    last_value: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last_value = value
        except Exception as err:  # noqa: BLE001
            last_error = err
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    detail = f"last error: {last_error!r}" if last_error else f"last value: {last_value!r}"
    raise WaitTimeoutError(
        f"timed out after {timeout:.0f}s waiting for {describe}; {detail}\n" + collect_diagnostics()
    )
