"""The operator's settings, from command-line flags with environment-variable fallbacks.

Every flag has an environment variable (MODELSHIP_<FLAG>), so the Helm chart can set either;
a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelship.controller.sharding import NAMESPACE_KEY, Sharding, ShardingError
from modelship.logging import LOG_FORMATS, LogFormat

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_SERVER_IMAGE = "ghcr.io/modelship/modelship-server:0.1.0"


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...]
    """Namespaces to watch; empty means all namespaces (cluster-wide)."""
    prometheus_url: str | None
    """Default Prometheus for analysis and drift, where a resource names none."""
    prometheus_bearer_token_file: str | None
    """A file holding the bearer token sent to the default Prometheus (read on every query)."""
    prometheus_ca_file: str | None
    """A PEM CA bundle verifying the default Prometheus' certificate."""
    log_level: str
    log_format: LogFormat
    peering: str | None
    """kopf peering name for running several replicas (one active); None: standalone."""
    peering_priority: int
    """This replica's priority in the peering: the highest live one is active."""
    metrics_port: int
    """Port of the operator's own /metrics; 0 disables it."""
    health_port: int
    """Port of the liveness endpoint /healthz; 0 disables it."""
    server_image: str
    """The reference model server image, for ModelDeployments that name none."""
    notifications_config: str | None = None
    """A file of operator-wide notification receivers and delivery settings."""
    sharding: Sharding = field(default_factory=Sharding)
    """Which share of the objects this operator owns (controller/sharding.py)."""

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    @property
    def standalone(self) -> bool:
        return self.peering is None


def _env_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="modelship operator",
        description="Run the modelship operator: reconcile ModelDeployments, DriftMonitors and "
        "RetrainPolicies. Every flag can be set as an environment variable instead.",
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        dest="namespaces",
        action="append",
        default=None,
        help="watch this namespace (repeatable) [MODELSHIP_NAMESPACES, comma-separated]",
    )
    scope.add_argument(
        "--all-namespaces",
        "-A",
        action="store_true",
        default=_env_bool(env.get("MODELSHIP_ALL_NAMESPACES")),
        help="watch every namespace (the default without --namespace) [MODELSHIP_ALL_NAMESPACES]",
    )
    p.add_argument(
        "--prometheus-url",
        default=env.get("MODELSHIP_PROMETHEUS_URL"),
        help="default Prometheus URL [MODELSHIP_PROMETHEUS_URL]",
    )
    p.add_argument(
        "--prometheus-bearer-token-file",
        default=env.get("MODELSHIP_PROMETHEUS_BEARER_TOKEN_FILE"),
        help="a file holding the bearer token for the default Prometheus, read on every query "
        "(e.g. a projected ServiceAccount token); never sent to an address a resource names "
        "[MODELSHIP_PROMETHEUS_BEARER_TOKEN_FILE]",
    )
    p.add_argument(
        "--prometheus-ca-file",
        default=env.get("MODELSHIP_PROMETHEUS_CA_FILE"),
        help="a PEM CA bundle for the default Prometheus' certificate "
        "[MODELSHIP_PROMETHEUS_CA_FILE]",
    )
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=env.get("MODELSHIP_LOG_LEVEL", "INFO").upper(),
        help="[MODELSHIP_LOG_LEVEL] (default INFO)",
    )
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=env.get("MODELSHIP_LOG_FORMAT", "json"),
        help="json lines, or console for people [MODELSHIP_LOG_FORMAT] (default json)",
    )
    # --peering and --standalone share one destination: the last one given wins, so a wrapper
    # that always passes --standalone can still be overridden by a later --peering.
    standalone_env = _env_bool(env.get("MODELSHIP_STANDALONE"))
    p.add_argument(
        "--peering",
        dest="peering",
        default=None if standalone_env else (env.get("MODELSHIP_PEERING") or None),
        help="kopf peering name: replicas sharing it elect one active operator [MODELSHIP_PEERING]",
    )
    p.add_argument(
        "--standalone",
        dest="peering",
        action="store_const",
        const=None,
        help="run without peering (the default) [MODELSHIP_STANDALONE]",
    )
    p.add_argument(
        "--peering-priority",
        type=int,
        default=int(env.get("MODELSHIP_PEERING_PRIORITY", "0")) or None,
        help="this replica's priority in the peering; default: random, so that replicas never "
        "tie (kopf pauses every replica of a tied priority) [MODELSHIP_PEERING_PRIORITY]",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(env.get("MODELSHIP_METRICS_PORT", "0")),
        help="serve the operator's Prometheus metrics on this port; 0: off "
        "[MODELSHIP_METRICS_PORT]",
    )
    p.add_argument(
        "--health-port",
        type=int,
        default=int(env.get("MODELSHIP_HEALTH_PORT", "0")),
        help="serve /healthz on this port; 0: off [MODELSHIP_HEALTH_PORT]",
    )
    p.add_argument(
        "--server-image",
        default=env.get("MODELSHIP_SERVER_IMAGE", DEFAULT_SERVER_IMAGE),
        help="the reference model server image [MODELSHIP_SERVER_IMAGE]",
    )
    p.add_argument(
        "--notifications-config",
        default=env.get("MODELSHIP_NOTIFICATIONS_CONFIG"),
        help="a YAML file of operator-wide notification receivers (webhook, slack) and "
        "delivery settings [MODELSHIP_NOTIFICATIONS_CONFIG]",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=int(env.get("MODELSHIP_SHARDS", "1")),
        help="split the objects between this many operators, each started with its own "
        "--shard-index (default 1: this operator owns them all) [MODELSHIP_SHARDS]",
    )
    p.add_argument(
        "--shard-index",
        type=int,
        default=int(env.get("MODELSHIP_SHARD_INDEX", "0")),
        help="the share this operator owns, 0..shards-1 [MODELSHIP_SHARD_INDEX]",
    )
    p.add_argument(
        "--shard-key",
        default=env.get("MODELSHIP_SHARD_KEY", NAMESPACE_KEY),
        help="what is hashed to pick an object's shard: 'namespace' (default: objects that "
        "refer to each other stay together) or 'label:<label key>' [MODELSHIP_SHARD_KEY]",
    )
    return p


def parse(argv: Sequence[str], env: Mapping[str, str]) -> OperatorConfig:
    parser = build_parser(env)
    args = parser.parse_args(list(argv))
    if args.namespaces is not None:
        namespaces = args.namespaces
    elif args.all_namespaces:
        namespaces = []
    else:
        namespaces = _split(env.get("MODELSHIP_NAMESPACES"))
    peering = args.peering or None
    try:
        sharding = Sharding(args.shards, args.shard_index, args.shard_key)
    except ShardingError as err:
        parser.error(str(err))
    return OperatorConfig(
        namespaces=tuple(dict.fromkeys(namespaces)),
        prometheus_url=args.prometheus_url or None,
        prometheus_bearer_token_file=args.prometheus_bearer_token_file or None,
        prometheus_ca_file=args.prometheus_ca_file or None,
        log_level=args.log_level,
        log_format=args.log_format,
        peering=peering,
        peering_priority=args.peering_priority or random.randint(1, 2**31 - 1),
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        server_image=args.server_image,
        notifications_config=args.notifications_config or None,
        sharding=sharding,
    )
