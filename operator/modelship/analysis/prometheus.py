"""The Prometheus adapter: instant queries with a timeout, a bearer token and TLS settings.

The only place the analysis talks to Prometheus. Every failure (refused, timed out, an HTTP
error, a malformed answer) becomes `PrometheusUnavailableError`, which the analysis turns into
Inconclusive measurements: an unreachable Prometheus never fails a rollout.
"""

from __future__ import annotations

from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry


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
