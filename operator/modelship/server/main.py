"""`modelship serve`: parse flags and environment, configure logging, run uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

from modelship.server.settings import Settings, SettingsError, from_arguments


def configure_logging(level: str) -> None:
    """JSON lines on stderr, like the operator's logs."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def uvicorn_options() -> dict[str, Any]:
    """uvicorn's settings for the server (also the bench's no-op floor, to share the stack)."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        "server_header": False,
        "date_header": False,
        "timeout_graceful_shutdown": 10,
    }


def run(settings: Settings) -> int:
    import uvicorn

    from modelship.server.app import create_app

    configure_logging(settings.log_level)
    if settings.workers > 1:
        from modelship.server.workers import serve

        return serve(settings)
    structlog.get_logger("modelship.server").info(
        "starting", host=settings.host, port=settings.port, model=settings.model_name
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        **uvicorn_options(),
    )
    return 0


def main(argv: list[str]) -> int:
    try:
        settings = from_arguments(argv, os.environ)
    except SettingsError as err:
        print(f"modelship serve: {err}", file=sys.stderr)
        return 2
    return run(settings)
