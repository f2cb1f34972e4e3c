"""Bearer-token authentication for the protected routes (docs/server.md#authentication).

The token comes from `MODELSHIP_AUTH_TOKEN` (a literal) or `MODELSHIP_AUTH_TOKEN_FILE` (a
path; the operator mounts the `authSecretRef` Secret key there). A token file is stat'ed at
most once per `recheck_seconds` on the request path and re-read only when it changed, so a
rotated Secret takes effect without a new rollout (the kubelet refreshes mounted Secret files
in place, by an atomic symlink swap).

Never open: before a usable token has been read every protected request answers 401. A file
that becomes empty fails closed at once; a file that becomes unreadable (missing, permission
denied) keeps the previous token for `grace_seconds`, since the kubelet never leaves a
mounted Secret unreadable and a failing read is a transient accident, and then fails closed.
Each problem is logged once, naming the file; the token and the Authorization header are
never logged.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Awaitable, Callable

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

log = structlog.get_logger("modelship.server")

RECHECK_SECONDS = 1.0
GRACE_SECONDS = 30.0
# A file modified this shortly before we read it may change again within the filesystem's
# timestamp granularity without its stat changing ("racy" in git's sense): read it again.
RACY_NS = 2_000_000_000
SCHEME = b"bearer"
REALM = 'Bearer realm="modelship"'

Handler = Callable[[Request], Awaitable[Response]]


class TokenError(ValueError):
    """The configured token cannot be used; the message says why (never the token)."""


def check_token(raw: bytes, source: str) -> bytes:
    """The token in `raw` with surrounding whitespace removed, or TokenError."""
    token = raw.strip()
    if not token:
        raise TokenError(f"{source} is empty")
    if any(b < 0x21 or b > 0x7E for b in token):
        raise TokenError(
            f"{source} holds whitespace, control or non-ASCII characters; an Authorization "
            "header cannot carry them (use a token of printable ASCII)"
        )
    return token


def _denied(message: str, challenge: str) -> Response:
    body = orjson.dumps({"error": message})
    return Response(body, status_code=401, media_type="application/json",
                    headers={"WWW-Authenticate": challenge})  # fmt: skip


MISSING = "missing bearer token: send the header 'Authorization: Bearer <token>'"
INVALID = "invalid bearer token"
UNAVAILABLE = (
    "the server cannot check bearer tokens: its token file is empty or unreadable "
    "(see the server log); every request is refused"
)
INVALID_CHALLENGE = f'{REALM}, error="invalid_token"'
# reason -> (message, WWW-Authenticate challenge)
REFUSALS = {
    "missing": (MISSING, REALM),
    "invalid": (INVALID, INVALID_CHALLENGE),
    "unavailable": (UNAVAILABLE, REALM),
}


class BearerAuth:
    """Checks `Authorization: Bearer <token>` against a literal or a token file."""

    def __init__(
        self,
        *,
        token: str = "",
        token_file: str = "",
        recheck_seconds: float = RECHECK_SECONDS,
        grace_seconds: float = GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bool(token) == bool(token_file):
            raise TokenError("give exactly one of a token and a token file")
        self.token_file = token_file
        self.recheck_seconds = recheck_seconds
        self.grace_seconds = grace_seconds
        self.clock = clock
        self.refusals = {"missing": 0, "invalid": 0, "unavailable": 0}
        self._token: bytes | None = None
        self._signature: tuple[int, ...] | None = None
        self._racy = False
        self._next_check = float("-inf")
        self._failing_since: float | None = None
        self._problem: str | None = None  # the last problem logged, to log each once
        if token:
            self._token = check_token(token.encode(), "MODELSHIP_AUTH_TOKEN")
            self._next_check = float("inf")  # a literal never changes
        else:
            self._refresh(clock())

    # -- the token file ---------------------------------------------------------------------

    def _refresh(self, now: float) -> None:
        self._next_check = now + self.recheck_seconds
        path = self.token_file
        try:
            st = os.stat(path)
            signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if signature == self._signature and not self._racy:
                return
            with open(path, "rb") as f:
                raw = f.read(65_536)
        except OSError as err:
            self._signature = None
            self._unreadable(now, f"{type(err).__name__}: {err.strerror or err}")
            return
        self._signature = signature
        self._racy = time.time_ns() - st.st_mtime_ns < RACY_NS
        try:
            token = check_token(raw, f"auth token file {path}")
        except TokenError as err:
            self._fail_closed(str(err))
            return
        changed = self._token is not None and not hmac.compare_digest(token, self._token)
        recovered = self._problem is not None or self._token is None
        self._token, self._failing_since, self._problem = token, None, None
        if recovered:
            log.info("auth token loaded", file=path)
        elif changed:
            log.info("auth token changed; the new token applies from now", file=path)

    def _unreadable(self, now: float, reason: str) -> None:
        if self._token is None:
            self._fail_closed(f"cannot read auth token file {self.token_file}: {reason}")
            return
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since < self.grace_seconds:
            self._report(
                f"cannot read auth token file {self.token_file}: {reason}; the previous token "
                f"stays valid for up to {self.grace_seconds:g} s while retrying"
            )
        else:
            self._fail_closed(
                f"cannot read auth token file {self.token_file} for {self.grace_seconds:g} s: "
                f"{reason}"
            )

    def _fail_closed(self, reason: str) -> None:
        self._token = None
        self._report(f"{reason}; every protected request answers 401 until it holds a token")

    def _report(self, message: str) -> None:
        if message != self._problem:
            self._problem = message
            log.error(message, file=self.token_file)

    @property
    def usable(self) -> bool:
        """Whether a token is loaded now (false: failing closed)."""
        return self._token is not None

    # -- the request path --------------------------------------------------------------------

    def refusal(self, header: bytes) -> str | None:
        """None when the `Authorization` value `header` carries the token, else the reason to
        refuse (a REFUSALS key, counted). Shared by the REST routes and gRPC's metadata."""
        now = self.clock()
        if now >= self._next_check:
            self._refresh(now)
        expected = self._token
        reason: str | None = None
        if expected is None:
            reason = "unavailable"
        else:
            scheme, _, credentials = header.partition(b" ")
            if scheme.lower() != SCHEME:
                reason = "missing"
            elif not hmac.compare_digest(credentials.strip(b" "), expected):
                reason = "invalid"
        if reason is not None:
            self.refusals[reason] += 1
        return reason

    def check(self, scope: Scope) -> Response | None:
        """None when the request carries the token, else the 401 to answer."""
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        reason = self.refusal(header)
        if reason is None:
            return None
        message, challenge = REFUSALS[reason]
        return _denied(message, challenge)

    def guard(self, handler: Handler) -> Handler:
        """`handler` behind the token check."""
        check = self.check

        async def guarded(request: Request) -> Response:
            denied = check(request.scope)
            if denied is not None:
                return denied
            return await handler(request)

        guarded.__name__ = getattr(handler, "__name__", "guarded")
        return guarded

    def render(self, base_labels: str) -> bytes:
        """The refusal counter in Prometheus text format."""
        name = "modelship_unauthorized_requests_total"
        lines = [
            f"# HELP {name} Requests to protected routes refused with 401, by reason.",
            f"# TYPE {name} counter",
        ]
        for reason, count in self.refusals.items():
            lines.append(f'{name}{{{base_labels},reason="{reason}"}} {count}')
        return ("\n".join(lines) + "\n").encode()
