"""`modelship serve --workers N`: N processes on one port, one set of metrics, one feedback cache.

Pre-fork: the parent loads the profile and the model once (then `gc.freeze`, so the workers
share those pages copy-on-write) and forks N workers. Each worker binds the port with
SO_REUSEPORT, so the kernel spreads connections across them, and a private Unix socket in a
run directory that only its siblings call:

- `/metrics` on the port asks every sibling for its own exposition over those sockets and
  merges them (server/exposition.py), so a scrape of any worker counts the whole pod;
- `/feedback` for an id this worker never served asks its siblings to score it; the one that
  remembers the prediction does, so ground truth matches whichever worker answered.

A worker that exits stops the others and the parent exits non-zero: the kubelet restarts the
container and Prometheus sees one counter reset, as for any restart, never a sum that drops
because one worker's share vanished.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import structlog

from modelship.server.settings import Settings

log = structlog.get_logger("modelship.server")
PEER_HEADER = "x-modelship-worker"  # set on calls between workers of one server
PEER_TIMEOUT = 5.0
PR_SET_PDEATHSIG = 1  # prctl(2)


class PeerError(RuntimeError):
    pass


def from_peer(scope_server: object) -> bool:
    """True when the request came in on a worker's private Unix socket (uvicorn reports a
    Unix socket's address as (path, None))."""
    return isinstance(scope_server, tuple) and len(scope_server) == 2 and scope_server[1] is None


class Peers:
    """The sibling workers' private sockets, and plain HTTP/1.1 calls to them."""

    def __init__(self, sockets: Sequence[Path]) -> None:
        self.sockets = list(sockets)

    async def call(self, path: Path, method: str, target: str, body: bytes = b"",
                   ) -> tuple[int, bytes]:  # fmt: skip
        async with asyncio.timeout(PEER_TIMEOUT):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                head = (f"{method} {target} HTTP/1.1\r\nhost: worker\r\nconnection: close\r\n"
                        f"content-type: application/json\r\n{PEER_HEADER}: 1\r\n"
                        f"content-length: {len(body)}\r\n\r\n")  # fmt: skip
                writer.write(head.encode() + body)
                raw = await reader.read()
            finally:
                writer.close()
        status_line, _, rest = raw.partition(b"\r\n")
        _, _, payload = rest.partition(b"\r\n\r\n")
        try:
            return int(status_line.split(b" ", 2)[1]), payload
        except (IndexError, ValueError):
            raise PeerError(f"worker socket {path.name} answered {status_line[:80]!r}") from None

    async def gather(self, target: str) -> list[bytes]:
        """Every sibling's answer to GET `target`; PeerError when one does not answer 200."""
        try:
            answers = await asyncio.gather(*(self.call(p, "GET", target) for p in self.sockets))
        except (OSError, TimeoutError) as err:
            raise PeerError(f"a worker did not answer {target}: {err!r}") from None
        for path, (status, _) in zip(self.sockets, answers, strict=True):
            if status != 200:
                raise PeerError(f"worker socket {path.name} answered {target} with {status}")
        return [payload for _, payload in answers]

    async def first_match(self, target: str, body: bytes) -> tuple[int, bytes] | None:
        """The answer of the sibling that remembers the request (any status but 404)."""
        for path in self.sockets:
            try:
                status, payload = await self.call(path, "POST", target, body)
            except (OSError, TimeoutError, PeerError) as err:
                log.warning("worker did not answer a feedback lookup", error=repr(err))
                continue
            if status != 404:
                return status, payload
        return None


def listening_socket(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(settings: Settings, index: int, sockets: list[Path], server: object) -> None:
    import uvicorn

    from modelship.server.app import ModelServer, create_app
    from modelship.server.main import uvicorn_options

    assert isinstance(server, ModelServer)
    _die_with_parent()
    server.become_worker(Peers([p for i, p in enumerate(sockets) if i != index]))
    public = listening_socket(settings.host, settings.port)
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    private.bind(str(sockets[index]))
    private.listen(64)
    config = uvicorn.Config(create_app(settings, server=server), **uvicorn_options())
    uvicorn.Server(config).run(sockets=[public, private])


def serve(settings: Settings) -> int:
    """Load once, fork `settings.workers` workers, and wait; the exit code of the server."""
    from modelship.server.app import ModelServer

    server = ModelServer(settings)
    server.load()  # in this process, before forking: the workers share the loaded model
    rundir = Path(tempfile.mkdtemp(prefix="modelship-workers-"))
    sockets = [rundir / f"worker-{i}.sock" for i in range(settings.workers)]
    children: dict[int, int] = {}
    for index in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            code = 1
            try:
                _worker(settings, index, sockets, server)
                code = 0
            except BaseException as err:  # noqa: BLE001 - report, then leave with 1
                log.error("worker failed", worker=index, error=repr(err))
            finally:
                os._exit(code)
        children[pid] = index
    log.info("workers started", workers=settings.workers, port=settings.port,
             pids=sorted(children))  # fmt: skip
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    try:
        while children:
            pid, status = os.wait()
            if pid not in children:
                continue
            index = children.pop(pid)
            exit_code = os.waitstatus_to_exitcode(status)
            if not stopping:  # one worker down: stop the rest, let the pod restart whole
                log.error("worker exited; stopping the server", worker=index, exit_code=exit_code)
                code = 1
                stop(signal.SIGTERM, None)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
    return code


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies, even by SIGKILL (no orphans)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def new_id_prefix() -> str:
    """A fresh random prefix for generated request ids (each worker needs its own)."""
    return uuid.uuid4().hex[:12]
