"""Local webhook receivers for the notification tests, on loopback: one that records what it
is sent, and one that accepts connections and never answers (a dead receiver)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from kubernetes import client


class Receiver:
    """An HTTP server recording each POSTed JSON body with its path; answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        received, lock = self.received, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for p, body in self.received if p == path]

    def events(self, path: str, field: str = "event") -> list[str]:
        return [str(b.get(field)) for b in self.bodies(path)]

    def summary(self) -> str:
        with self._lock:
            return "\n".join(f"{p} {b.get('event') or b.get('text', '')[:80]}"
                             for p, b in self.received) or "nothing received"  # fmt: skip

    def secret(self, api: client.ApiClient, namespace: str, name: str, path: str) -> None:
        """A Secret `name` whose key `url` is this receiver's URL at `path`."""
        secret = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name), string_data={"url": self.url(path)}
        )
        client.CoreV1Api(api).create_namespaced_secret(namespace, secret)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class BlackHole:
    """Accepts TCP connections and never answers: every request to it times out."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.connections = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}{path}"

    def _accept(self) -> None:
        self._socket.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)  # held open, never read, never answered
            self.connections += 1

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        self._socket.close()
