"""Control annotations: how people (and `kubectl modelship`) steer a rollout.

- `modelship.io/paused: "true"`: hold the rollout where it is.
- `modelship.io/promote: <new value>`: finish the current pause or analysis step.
- `modelship.io/promote-full: <new value>`: skip every remaining step and promote.
- `modelship.io/abort: <new value>`: all traffic back to stable, the canary scaled down.
- `modelship.io/retry: <new value>`: restart an aborted or rolled-back rollout.
- `modelship.io/rollback-to: REVISION[:anything]`: return to a revision kept in history.

Each one-shot annotation acts once per new value (for example a timestamp), and the value it
acted on is remembered in status, so the operator never edits the user's metadata to consume
it and Git-synced annotations cause no loops.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelship.api.rolloutstate import HandledControls
from modelship.rollout.types import Control

PREFIX = "modelship.io/"
PAUSED = PREFIX + "paused"
PROMOTE = PREFIX + "promote"
PROMOTE_FULL = PREFIX + "promote-full"
ABORT = PREFIX + "abort"
RETRY = PREFIX + "retry"
ROLLBACK_TO = PREFIX + "rollback-to"


def read_controls(
    annotations: Mapping[str, str], handled: HandledControls
) -> tuple[Control, HandledControls]:
    """The requests not acted on yet, and the handled values to remember from now on."""

    def fresh(key: str, seen: str | None) -> str | None:
        value = annotations.get(key)
        return value if value and value != seen else None

    promote = fresh(PROMOTE, handled.promote)
    promote_full = fresh(PROMOTE_FULL, handled.promote_full)
    abort = fresh(ABORT, handled.abort)
    retry = fresh(RETRY, handled.retry)
    rollback = fresh(ROLLBACK_TO, handled.rollback_to)
    control = Control(
        paused=annotations.get(PAUSED, "").strip().lower() in {"true", "1", "yes"},
        promote="full" if promote_full else ("step" if promote else None),
        abort=abort is not None,
        retry=retry is not None,
        rollback_to=rollback.split(":", 1)[0] if rollback else None,
    )
    remembered = handled.model_copy(
        update={
            "promote": promote or handled.promote,
            "promote_full": promote_full or handled.promote_full,
            "abort": abort or handled.abort,
            "retry": retry or handled.retry,
            "rollback_to": rollback or handled.rollback_to,
        }
    )
    return control, remembered
