"""What `kubectl modelship` exits with (docs/operating.md#exit-codes)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Done; for `status`: the rollout ended Healthy."""
    NOT_HEALTHY = 1
    """`status`: the rollout ended RolledBack, Degraded or Failed."""
    USAGE = 2
    """The command line is wrong (argparse's own code)."""
    TIMEOUT = 3
    """Still not finished when --timeout ran out (`status`), or no answer from the operator
    in time (`retrain`, `approve`, `reject`)."""
    NOT_FOUND = 4
    """The object, run or revision named does not exist."""
    NOT_APPLICABLE = 5
    """The request does not apply now: nothing to promote, abort or retry, a run that is not
    waiting for approval, a name that matches several policies, a retrain the policy refused."""
    API_ERROR = 6
    """The API server could not be reached, or refused the request (authentication, RBAC)."""
    INTERRUPTED = 130
    """Ctrl-C."""


class CommandError(Exception):
    """A command cannot go on: the message for the user and the exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
