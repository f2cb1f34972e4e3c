"""The Prometheus adapter: instant queries with a timeout, a bearer token and TLS settings.

The only place the operator talks to Prometheus. Every failure (refused, timed out, an HTTP
error, a malformed answer, a credential that cannot be read) becomes
`PrometheusUnavailableError`, which callers turn into Inconclusive results: an unreachable
Prometheus never fails a rollout and never reports drift.

`PrometheusConnections` keeps one client per distinct connection (address, timeout, token,
CA bundle): a CA bundle is written to a private file once per content, and the files are
removed when the operator stops. The operator's own token and CA files (flags
--prometheus-bearer-token-file, --prometheus-ca-file) go only to the operator's own address,
and only on a connection that sets no token or TLS of its own: a spec cannot make the
operator send its credentials to another address, unverified, or checked against a CA the
spec chose.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from modelship.api.common import PrometheusConnection
from modelship.api.types import parse_duration

SecretReader = Callable[[str, str, str], str]
"""(namespace, Secret name, key) -> the key's text; raises when it cannot be read."""
DEFAULT_TIMEOUT_SECONDS = 10.0


class PrometheusUnavailableError(RuntimeError):
    """Prometheus did not answer a query usefully."""


class PrometheusClient:
    def __init__(
        self,
        url: str,
        timeout_seconds: float = 10.0,
        bearer_token: str | None = None,
        verify: bool | str = True,
    ) -> None:
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else None
        self.url = url
        self.timeout = timeout_seconds
        # No retries here: the analysis interval is the retry, and a slow failure would
        # delay every other rollout sharing the operator's workers.
        self._conn = PrometheusConnect(
            url=url,
            headers=headers,
            disable_ssl=verify is False,
            retry=Retry(total=0),
            timeout=max(1, round(timeout_seconds)),
        )
        if isinstance(verify, str):
            self._conn._session.verify = verify  # a CA bundle path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the `result` vector."""
        try:
            result = self._conn.custom_query(expr, params={"timeout": f"{self.timeout:g}s"})
        except (requests.RequestException, PrometheusApiClientException, ValueError) as err:
            raise PrometheusUnavailableError(_reason(err)) from err
        if not isinstance(result, list):  # a scalar answer is a [timestamp, value] list too
            raise PrometheusUnavailableError(f"unexpected answer: {str(result)[:200]}")
        return result

    def scalar(self, expr: str) -> float | None:
        """The single value of a query (a vector's first sample, or a scalar), None when it
        returned nothing."""
        result: Any = self.query(expr)
        try:
            if not result:
                return None
            if isinstance(result[0], dict):
                value = result[0].get("value")
                return float(value[1]) if value else None
            return float(result[1])  # a scalar: [timestamp, "value"]
        except (IndexError, KeyError, TypeError, ValueError) as err:
            raise PrometheusUnavailableError(f"unexpected answer: {str(result)[:200]}") from err


def _reason(err: BaseException) -> str:
    if isinstance(err, requests.Timeout):
        return "query timed out"
    if isinstance(err, requests.ConnectionError):
        return "connection refused or reset"
    return str(err)[:300]


class PrometheusConnections:
    """Clients for the connections specs name, falling back to the operator-wide address.

    Credentials are read on every call, so a rotated Secret is used from the next round;
    clients are cached on what they connect with, so an unchanged connection is reused.
    """

    def __init__(
        self,
        default_url: str | None,
        read_secret: SecretReader,
        default_token_file: str | None = None,
        default_ca_file: str | None = None,
    ) -> None:
        self.default_url = default_url
        self.default_token_file = default_token_file
        self.default_ca_file = default_ca_file
        self._read_secret = read_secret
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, float, str, bool | str], PrometheusClient] = {}
        self._bundles: Path | None = None
        atexit.register(self.close)

    def client(
        self, conn: PrometheusConnection | None, namespace: str, address: str | None = None
    ) -> PrometheusClient:
        """The client for `conn` (a spec's `prometheus` block) in `namespace`; `address`
        overrides the connection's address (a metric's own Prometheus)."""
        url = address or (conn.address if conn else None) or self.default_url
        if not url:
            raise PrometheusUnavailableError(
                "no Prometheus address: set the spec's prometheus.address or the operator's "
                "--prometheus-url"
            )
        timeout = parse_duration(conn.timeout).total_seconds() if conn else DEFAULT_TIMEOUT_SECONDS
        token: str | None = None
        verify: bool | str = True
        if conn and conn.bearer_token_secret_ref:
            token_ref = conn.bearer_token_secret_ref
            token = self._secret(namespace, token_ref.name, token_ref.key).strip()
        if conn and conn.tls:
            if conn.tls.insecure_skip_verify:
                verify = False
            elif conn.tls.ca_secret_ref:
                ca_ref = conn.tls.ca_secret_ref
                verify = self._bundle(self._secret(namespace, ca_ref.name, ca_ref.key))
        own_credentials = conn is not None and (conn.bearer_token_secret_ref or conn.tls)
        if url == self.default_url and not own_credentials:
            # Only the operator's own connection, whole: a spec that sets a token or any TLS
            # (insecureSkipVerify, its own CA) must not receive the operator's token.
            if self.default_token_file:
                token = _read_file(self.default_token_file, "bearer token").strip()
            if self.default_ca_file:
                verify = self.default_ca_file
        key = (url, timeout, _digest(token or ""), verify)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self._clients[key] = PrometheusClient(url, timeout, token, verify)
        return found

    def _secret(self, namespace: str, name: str, key: str) -> str:
        try:
            return self._read_secret(namespace, name, key)
        except Exception as err:
            raise PrometheusUnavailableError(str(err)) from err

    def _bundle(self, pem: str) -> str:
        """The path of a file holding `pem`, written once per distinct content."""
        with self._lock:
            if self._bundles is None:
                self._bundles = Path(tempfile.mkdtemp(prefix="modelship-ca-"))
            path = self._bundles / f"{_digest(pem)}.pem"
            if not path.exists():
                path.write_text(pem)
        return str(path)

    def close(self) -> None:
        """Forget every client and remove the CA bundle files."""
        with self._lock:
            self._clients.clear()
            if self._bundles is not None:
                shutil.rmtree(self._bundles, ignore_errors=True)
                self._bundles = None


def _read_file(path: str, what: str) -> str:
    """A credential file, read on every call so a rotated (projected) token is picked up."""
    try:
        return Path(path).read_text()
    except OSError as err:
        raise PrometheusUnavailableError(
            f"cannot read the operator's Prometheus {what} file {path}: {err.strerror}"
        ) from err


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
