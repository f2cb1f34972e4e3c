"""Reference-server processes standing in for a ModelDeployment's revisions (KWOK pods run
no containers), each scraped by Prometheus, with live traffic routed among them."""

from __future__ import annotations

from modelship_testing.prometheus import PrometheusHandle
from modelship_testing.serving import Server, TrafficGenerator, TrainedModel, start_server


class ServedRevisions:
    def __init__(
        self,
        prometheus: PrometheusHandle,
        namespace: str,
        traffic: TrafficGenerator | None = None,
        job_prefix: str | None = None,
    ) -> None:
        self.prometheus, self.namespace = prometheus, namespace
        self.traffic = traffic or TrafficGenerator(rate_per_second=40, max_seconds=500)
        self.job_prefix = job_prefix or namespace
        self.servers: dict[str, Server] = {}

    def job(self, revision: str) -> str:
        return f"{self.job_prefix}-{revision}"

    def serve(
        self,
        revision: str,
        version: str,
        model: TrainedModel,
        fault: str | None = None,
        weight: int = 1,
        only: bool = False,
        wait_scraped: bool = True,
        ready_timeout: float = 60,
    ) -> Server:
        """Serve `model` as `revision` (wrapped by faulty_models' `fault`), scraped as the
        revision's pods; `weight` of the traffic goes to it, all of it when `only`."""
        server = start_server(model, revision, version, fault=fault, ready_timeout=ready_timeout)
        self.servers[revision] = server
        self.prometheus.add_target(self.job(revision), server.address,
                                   {"namespace": self.namespace})  # fmt: skip
        if wait_scraped:
            self.prometheus.wait_for_target_up(self.job(revision))
        if only:
            for other in list(self.traffic.weights):
                self.traffic.unroute(other)
        self.traffic.servers[revision] = server
        if weight:
            self.traffic.route(server, weight)
        return server

    def route_like_the_service(self, stable: str | None, canary: str | None, weight: int) -> None:
        """Split traffic as the ModelDeployment's status says: `weight`% to the canary."""
        weights = dict.fromkeys(self.servers, 0)
        if stable in self.servers:
            weights[stable] = 100 - weight if canary in self.servers else 100
        if canary in self.servers:
            weights[canary] = weight
        self.traffic.weights = weights

    def close(self) -> None:
        self.traffic.stop()
        for revision, server in self.servers.items():
            self.prometheus.remove_target(self.job(revision))
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {r} ---\n{s.log_tail(10)}" for r, s in self.servers.items())
