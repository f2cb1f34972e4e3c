"""Control annotations: how people (and `kubectl modelship`) steer a rollout.

- `modelship.io/paused: "true"`: hold the rollout where it is.
- `modelship.io/promote: <new value>`: finish the current pause or analysis step.
- `modelship.io/promote-full: <new value>`: skip every remaining step and promote.
- `modelship.io/abort: <new value>`: all traffic back to stable, the canary scaled down.
- `modelship.io/retry: <new value>`: restart an aborted or rolled-back rollout.
- `modelship.io/rollback-to: REVISION[:anything]`: return to a revision kept in history.

Each one-shot annotation acts once per new value (for example a timestamp), and the value it
acted on is remembered in status, so the operator never edits the user's metadata to consume
it and Git-synced annotations cause no loops. A promote that arrives while the rollout is
paused waits for the pause to lift; nothing is consumed silently, and an annotation the
operator does not understand is reported with an Event.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping

from modelship.api.rolloutstate import HandledControls
from modelship.rollout.types import Control, PlannedEvent

PREFIX = "modelship.io/"
PAUSED = PREFIX + "paused"
PROMOTE = PREFIX + "promote"
PROMOTE_FULL = PREFIX + "promote-full"
ABORT = PREFIX + "abort"
RETRY = PREFIX + "retry"
ROLLBACK_TO = PREFIX + "rollback-to"
CONTROLS = (PAUSED, PROMOTE, PROMOTE_FULL, ABORT, RETRY, ROLLBACK_TO)
TRUE = frozenset({"true", "yes", "1", "on"})
FALSE = frozenset({"false", "no", "0", "off", ""})


def read_controls(
    annotations: Mapping[str, str], handled: HandledControls
) -> tuple[Control, HandledControls]:
    """The requests not acted on yet, and the handled values to remember from now on."""

    def fresh(key: str, seen: str | None) -> str | None:
        value = annotations.get(key)
        return value if value and value != seen else None

    paused_value = annotations.get(PAUSED, "").strip().lower()
    paused = paused_value in TRUE
    notices: list[PlannedEvent] = []

    promote = fresh(PROMOTE, handled.promote)
    promote_full = fresh(PROMOTE_FULL, handled.promote_full)
    deferred = handled.deferred_promote
    if paused and (promote or promote_full):
        # Held, not consumed: it acts in the first reconcile after the pause lifts.
        key, value = (PROMOTE_FULL, promote_full) if promote_full else (PROMOTE, promote)
        if value != deferred:
            notices.append(
                PlannedEvent(
                    "Normal",
                    "PromoteDeferred",
                    f"{key}={value} arrived while {PAUSED} is true: "
                    "it acts as soon as the pause is lifted",
                )
            )
        deferred = value
        promote = promote_full = None
    elif not paused:
        deferred = None
    abort = fresh(ABORT, handled.abort)
    retry = fresh(RETRY, handled.retry)
    rollback = fresh(ROLLBACK_TO, handled.rollback_to)

    problems = unrecognised(annotations)
    fingerprint = _fingerprint(problems) if problems else None
    if fingerprint is not None and fingerprint != handled.unrecognised:
        notices.append(PlannedEvent("Warning", "UnrecognisedControl", "; ".join(problems)))

    control = Control(
        paused=paused,
        promote="full" if promote_full else ("step" if promote else None),
        abort=abort is not None,
        retry=retry is not None,
        rollback_to=rollback.split(":", 1)[0] if rollback else None,
        notices=tuple(notices),
    )
    remembered = handled.model_copy(
        update={
            "promote": promote or handled.promote,
            "promote_full": promote_full or handled.promote_full,
            "abort": abort or handled.abort,
            "retry": retry or handled.retry,
            "rollback_to": rollback or handled.rollback_to,
            "deferred_promote": deferred,
            "unrecognised": fingerprint,
        }
    )
    return control, remembered


def unrecognised(annotations: Mapping[str, str]) -> list[str]:
    """What in the `modelship.io/` annotations means nothing to the operator, as messages."""
    problems = []
    paused = annotations.get(PAUSED)
    if paused is not None and paused.strip().lower() not in TRUE | FALSE:
        problems.append(f"{PAUSED}={paused!r} is neither true nor false: the rollout is not paused")
    for key in sorted(annotations):
        if key.startswith(PREFIX) and key not in CONTROLS:
            names = [c.removeprefix(PREFIX) for c in CONTROLS]
            close = difflib.get_close_matches(key.removeprefix(PREFIX), names, n=1, cutoff=0.75)
            hint = f"did you mean {PREFIX}{close[0]}?" if close else f"known: {', '.join(CONTROLS)}"
            problems.append(f"{key} is not a modelship control annotation and is ignored ({hint})")
    return problems


def _fingerprint(problems: list[str]) -> str:
    return hashlib.sha256("\n".join(problems).encode()).hexdigest()[:16]
