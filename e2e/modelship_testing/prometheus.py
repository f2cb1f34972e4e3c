"""A handle on the test Prometheus: add scrape targets at run time and query it."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from modelship_testing.cluster import LocalCluster
from modelship_testing.waiters import wait_for


class PrometheusHandle:
    def __init__(self, cluster: LocalCluster) -> None:
        self._cluster = cluster

    @property
    def url(self) -> str:
        return self._cluster.prometheus_url

    @property
    def targets_dir(self) -> Path:
        return self._cluster.prometheus_targets_dir

    def add_target(self, job: str, address: str, labels: dict[str, str] | None = None) -> None:
        """Scrape `address` (host:port, /metrics) as job `job` from the next SD refresh."""
        group = [{"targets": [address], "labels": {"job": job, **(labels or {})}}]
        path = self.targets_dir / f"{job}.json"
        tmp = path.with_suffix(".tmp")  # atomic: Prometheus must never read half a file
        tmp.write_text(json.dumps(group))
        tmp.replace(path)

    def remove_target(self, job: str) -> None:
        (self.targets_dir / f"{job}.json").unlink(missing_ok=True)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; returns the `result` list."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of a scalar-like instant query, or None when it has no result."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def wait_for_target_up(self, job: str, timeout: float = 30) -> None:
        wait_for(
            lambda: self.value(f'up{{job="{job}"}}') == 1.0,
            timeout=timeout,
            describe=f"Prometheus to scrape job {job}",
        )

    def stop(self) -> None:
        """Stop Prometheus (to test an outage); `start` brings it back with its data."""
        self._cluster.stop("prometheus")

    def start(self) -> None:
        self._cluster.start("prometheus")
