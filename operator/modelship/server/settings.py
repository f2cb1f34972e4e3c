"""Server settings: command-line flags override the environment the operator sets."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

FORMATS = ("sklearn", "xgboost", "lightgbm", "onnx", "custom")

# Environment variable -> settings field. Documented in docs/server.md.
ENVIRONMENT = {
    "MODELSHIP_MODEL_NAME": "model_name",
    "MODELSHIP_MODEL_VERSION": "model_version",
    "MODELSHIP_MODEL_URI": "model_uri",
    "MODELSHIP_MODEL_FORMAT": "model_format",
    "MODELSHIP_MODEL_CLASS": "model_class",
    "MODELSHIP_REVISION": "revision",
    "MODELSHIP_PROFILE_PATH": "profile_path",
    "MODELSHIP_HOST": "host",
    "MODELSHIP_PORT": "port",
    "MODELSHIP_GRPC_PORT": "grpc_port",
    "MODELSHIP_FEEDBACK_CAPACITY": "feedback_capacity",
    "MODELSHIP_CACHE_DIR": "cache_dir",
    "MODELSHIP_LOG_LEVEL": "log_level",
    "MODELSHIP_AUTH_TOKEN": "auth_token",
    "MODELSHIP_AUTH_TOKEN_FILE": "auth_token_file",
    "MODELSHIP_AUTH_METRICS": "auth_metrics",
    "MODELSHIP_SCORE_HISTOGRAM": "score_histogram",
    "MODELSHIP_MAX_REQUEST_BYTES": "max_request_bytes",
    "MODELSHIP_MAX_BATCH_ROWS": "max_batch_rows",
    "MODELSHIP_READ_TIMEOUT": "read_timeout",
    "MODELSHIP_WORKERS": "workers",
}
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    model_name: str
    model_uri: str
    model_version: str = ""
    model_format: str = "sklearn"
    model_class: str = ""  # custom format: "package.module:ClassName"
    revision: str = ""
    profile_path: str = ""
    host: str = "0.0.0.0"
    port: int = 8080
    grpc_port: int | None = None  # the protocol's gRPC service; None: not served
    feedback_capacity: int = 10_000  # requests whose predictions are kept for /feedback
    cache_dir: str = ""  # where remote models are downloaded; default: the temp directory
    log_level: str = "info"
    # Bearer token (docs/server.md#authentication): a literal, or a file re-read on change.
    auth_token: str = field(default="", repr=False)
    auth_token_file: str = ""
    auth_metrics: bool = False  # /metrics needs the token too
    # A binary classifier with predict_proba exports its score histogram (estimated
    # performance); the price is a predict_proba call per batch.
    score_histogram: bool = True
    # Hostile input (docs/server.md#limits): a request body is refused past this size (413)
    # before it is read whole, and past this time to arrive (408); a batch past this many rows.
    max_request_bytes: int = 8 * 1024 * 1024
    max_batch_rows: int = 100_000
    read_timeout: float = 30.0
    # Worker processes sharing the port (server/workers.py); their metrics are merged.
    workers: int = 1

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_token or self.auth_token_file)

    def to_environment(self) -> dict[str, str]:
        """The settings as environment variables (how uvicorn's app factory receives them)."""
        values = {env: getattr(self, name) for env, name in ENVIRONMENT.items()}
        values["MODELSHIP_GRPC_PORT"] = self.grpc_port if self.grpc_port is not None else "off"
        return {env: str(v).lower() if isinstance(v, bool) else str(v) for env, v in values.items()}


class SettingsError(ValueError):
    pass


def from_environment(environ: Mapping[str, str]) -> Settings:
    values: dict[str, str] = {
        name: environ[env] for env, name in ENVIRONMENT.items() if environ.get(env)
    }
    return _build(values)


def _build(values: Mapping[str, str]) -> Settings:
    missing = [name for name in ("model_name", "model_uri") if not values.get(name)]
    if missing:
        flags = ", ".join(f"--{m.replace('_', '-')}" for m in missing)
        raise SettingsError(f"missing {flags} (or their MODELSHIP_* environment variables)")
    fmt = values.get("model_format", "sklearn")
    if fmt not in FORMATS:
        raise SettingsError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "custom" and not values.get("model_class"):
        raise SettingsError("--format custom needs --model-class package.module:ClassName")
    try:
        port = int(values.get("port", "8080"))
        capacity = int(values.get("feedback_capacity", "10000"))
    except ValueError as err:
        raise SettingsError(f"invalid number: {err}") from err
    grpc_port = _grpc_port(values.get("grpc_port", "off"), port)
    max_bytes = _positive(values, "max_request_bytes", Settings.max_request_bytes, int)
    max_rows = _positive(values, "max_batch_rows", Settings.max_batch_rows, int)
    read_timeout = _positive(values, "read_timeout", Settings.read_timeout, float)
    workers = _positive(values, "workers", Settings.workers, int)
    if workers > 1 and port == 0:
        raise SettingsError("--workers: the workers share one port; give a fixed --port")
    if workers > 1 and grpc_port is not None:
        # Each worker would bind the gRPC port, which is not shared (no SO_REUSEPORT there).
        raise SettingsError("--workers: gRPC is served by one process only; leave --grpc-port "
                            "off with more than one worker")  # fmt: skip
    token, token_file = values.get("auth_token", ""), values.get("auth_token_file", "")
    if token and token_file:
        raise SettingsError(
            "set one of MODELSHIP_AUTH_TOKEN and MODELSHIP_AUTH_TOKEN_FILE (--auth-token-file), "
            "not both"
        )
    if token:
        from modelship.server.auth import TokenError, check_token

        try:
            check_token(token.encode(), "MODELSHIP_AUTH_TOKEN")
        except TokenError as err:
            raise SettingsError(str(err)) from None
    auth_metrics = _boolean(values.get("auth_metrics", "false"), "--auth-metrics")
    if auth_metrics and not (token or token_file):
        raise SettingsError(
            "--auth-metrics (MODELSHIP_AUTH_METRICS) needs a token: set "
            "MODELSHIP_AUTH_TOKEN_FILE (--auth-token-file) or MODELSHIP_AUTH_TOKEN"
        )
    return Settings(
        model_name=values["model_name"],
        model_uri=values["model_uri"],
        model_version=values.get("model_version", ""),
        model_format=fmt,
        model_class=values.get("model_class", ""),
        revision=values.get("revision", ""),
        profile_path=values.get("profile_path", ""),
        host=values.get("host", "0.0.0.0"),
        port=port,
        grpc_port=grpc_port,
        feedback_capacity=capacity,
        cache_dir=values.get("cache_dir", ""),
        log_level=values.get("log_level", "info"),
        auth_token=token,
        auth_token_file=token_file,
        auth_metrics=auth_metrics,
        score_histogram=_boolean(values.get("score_histogram", "true"), "--score-histogram"),
        max_request_bytes=max_bytes,
        max_batch_rows=max_rows,
        read_timeout=read_timeout,
        workers=workers,
    )


def _grpc_port(text: str, http_port: int) -> int | None:
    if text.lower() in ("off", ""):
        return None
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise SettingsError(f"--grpc-port: expected a port number (1-65535) or off, not {text!r}")
    if int(text) == http_port:
        raise SettingsError(f"--grpc-port {text} is the REST port too; choose another")
    return int(text)


Number = TypeVar("Number", int, float)


def _positive(values: Mapping[str, str], name: str, default: Number, kind: type[Number]) -> Number:
    flag = "--" + name.replace("_", "-")
    text = values.get(name)
    if text is None:
        return default
    try:
        number = kind(text)
    except ValueError:
        raise SettingsError(f"{flag}: expected a number, not {text!r}") from None
    if not 0 < number < float("inf"):
        raise SettingsError(f"{flag}: must be a positive number, not {text!r}")
    return number


def _boolean(value: str, flag: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise SettingsError(f"{flag}: expected true or false, not {value!r}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="modelship serve",
        description="Serve a model over the Open Inference Protocol v2 (REST and gRPC).",
        epilog="Every flag defaults to its MODELSHIP_* environment variable (docs/server.md).",
    )
    p.add_argument("--model-uri", help="file://, http(s)://, s3://, gs:// or a local path")
    p.add_argument("--model-name", help="name in the /v2/models/{name} routes")
    p.add_argument("--model-version")
    p.add_argument("--format", dest="model_format", choices=FORMATS)
    p.add_argument("--model-class", help="custom format: package.module:ClassName")
    p.add_argument("--revision", help="value of the `revision` metrics label")
    p.add_argument("--profile", dest="profile_path", help="reference profile JSON")
    p.add_argument("--host")
    p.add_argument("--port")
    p.add_argument(
        "--grpc-port",
        help="serve the protocol's gRPC service (inference.GRPCInferenceService) on this port; "
        "'off' (the default) serves REST only",
    )
    p.add_argument("--feedback-capacity", help="requests remembered for /feedback")
    p.add_argument("--cache-dir", help="download directory for remote models")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.add_argument(
        "--auth-token-file",
        help="require 'Authorization: Bearer <token>' with the token in this file (re-read "
        "when it changes); MODELSHIP_AUTH_TOKEN gives a literal token instead",
    )
    p.add_argument(
        "--auth-metrics",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="require the token on /metrics too (default: /metrics stays open)",
    )
    p.add_argument(
        "--score-histogram",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="export the positive-class score histogram of a binary classifier with "
        "predict_proba (default: on; costs a predict_proba call per batch)",
    )
    p.add_argument(
        "--max-request-bytes",
        help="refuse request bodies larger than this with 413, before reading them whole "
        "(default 8388608, 8 MiB)",
    )
    p.add_argument(
        "--max-batch-rows",
        help="refuse inference requests of more rows than this with 400 (default 100000)",
    )
    p.add_argument(
        "--read-timeout",
        help="seconds a client may take to send a request body before 408 (default 30)",
    )
    p.add_argument(
        "--workers",
        help="worker processes sharing the port, one per core to use (default 1); the model "
        "is loaded once and /metrics answers for all of them",
    )
    return p


def from_arguments(argv: list[str], environ: Mapping[str, str]) -> Settings:
    args = vars(parser().parse_args(argv))
    values = {name: environ[env] for env, name in ENVIRONMENT.items() if environ.get(env)}
    values.update({k: str(v) for k, v in args.items() if v is not None})
    return _build(values)


def current() -> Settings:
    return from_environment(os.environ)
