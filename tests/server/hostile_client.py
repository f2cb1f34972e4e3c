"""Clients that misbehave on purpose, against a `modelship serve` process: raw HTTP with a
body that trickles or never comes, big bodies with and without Content-Length, a flood of
connections, and the process's memory as /proc reports it."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from served_process import ServerProcess


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    seconds: float


def _answer(response: http.client.HTTPResponse, started: float) -> Answer:
    raw = response.read()
    body = json.loads(raw) if raw else None
    return Answer(response.status, body, time.monotonic() - started)


def post(
    server: ServerProcess,
    path: str,
    body: bytes | Iterable[bytes],
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """A POST with http.client: bytes get a Content-Length, an iterable is sent chunked."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    started = time.monotonic()
    try:
        headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request("POST", path, body=body, headers=headers)
        return _answer(connection.getresponse(), started)
    finally:
        connection.close()


def exchange(
    server: ServerProcess,
    head: bytes,
    pieces: Iterable[bytes] = (),
    pace: float = 0.0,
    timeout: float = 30,
    sent: threading.Event | None = None,
) -> Answer:
    """Send `head` (request line and headers; then `sent` is set), then `pieces` of body one
    per `pace` seconds from another thread, and read the answer, whenever it comes, here."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    done = threading.Event()

    def trickle() -> None:
        try:
            for piece in pieces:
                if done.wait(pace):  # the client's own pace, not a wait for the server
                    return
                sock.sendall(piece)
        except OSError:  # the server closed the connection: what it should do
            return

    started = time.monotonic()
    sock.sendall(head)
    if sent is not None:
        sent.set()
    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()
        return _answer(response, started)
    finally:
        done.set()
        sender.join(timeout=5)
        sock.close()


def request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class _Gate:
    """Opens once every connection of the flood is established."""

    expected: int
    connected: int = 0
    opened: asyncio.Event | None = None


async def _one(port: int, request: bytes, gate: _Gate) -> int:
    assert gate.opened is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        gate.connected += 1
        if gate.connected == gate.expected:
            gate.opened.set()
        await gate.opened.wait()  # every connection is open before any request is sent
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # Connection: close: read to the end
        return int(status_line.split()[1])
    finally:
        writer.close()


async def _flood(port: int, request: bytes, connections: int, seconds: float) -> list[int]:
    gate = _Gate(connections, opened=asyncio.Event())
    async with asyncio.timeout(seconds):
        return list(await asyncio.gather(*(_one(port, request, gate) for _ in range(connections))))


def flood(
    server: ServerProcess, path: str, body: bytes, connections: int, timeout: float = 120
) -> list[int]:
    """`connections` connections at once, each one POST; the status of every answer."""
    head = request_head(path, {"Content-Length": str(len(body)), "Connection": "close"})
    return asyncio.run(_flood(server.port, head + body, connections, timeout))


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak since the last reset_peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def reset_peak(pid: int) -> None:
    """Set VmHWM back to the current RSS (Linux: 5 > /proc/pid/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
