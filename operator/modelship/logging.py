"""Structured logs: JSON lines for machines (default), aligned colourless text for people.

Every line about an object carries `kind`, `namespace`, `name` (and `generation` for the
operator's own lines). kopf's own log records go through the same formatter; the object
reference kopf attaches to them (`k8s_ref`) becomes the same fields.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "console"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "console")


def _kopf_object_ref(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Lift kopf's `k8s_ref` (set on its per-object log records) into our fields."""
    record = event_dict.get("_record")
    ref = getattr(record, "k8s_ref", None)
    if isinstance(ref, Mapping):
        for key in ("kind", "namespace", "name"):
            if ref.get(key):
                event_dict.setdefault(key, ref[key])
    return event_dict


_LEADING = ("timestamp", "level", "logger", "msg", "kind", "namespace", "name", "generation")


def _leading_keys_first(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Put time, level, message and the object reference first, for people reading JSON."""
    ordered = {key: event_dict[key] for key in _LEADING if key in event_dict}
    ordered.update((key, value) for key, value in event_dict.items() if key not in ordered)
    return ordered


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)
    return event_dict


class _RoutineHandlerSuccess(logging.Filter):
    """kopf logs every handler success at INFO; for the operator's event handlers (wake-ups,
    re-checks) that is one line per watch event, noise that hides what matters. Failures
    and retries still pass, and the operator logs its own changes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.INFO
            and record.name == "kopf.objects"
            and str(record.msg).startswith("Handler '")
            and str(record.msg).endswith("' succeeded.")
        )


def configure(level: str = "INFO", fmt: LogFormat = "json", stream: TextIO | None = None) -> None:
    """Send every log record (structlog's and the standard library's) to one formatter."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _kopf_object_ref,
        _drop_color_message,
    ]
    renderer: Processor
    if fmt == "json":
        final: list[Processor] = [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("msg"),
            _leading_keys_first,
        ]
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        final = []
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_RoutineHandlerSuccess())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries' debug output drowns the operator's; keep them at INFO or above.
    for noisy in ("asyncio", "aiohttp", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))


def object_logger(body: Mapping[str, Any], kind: str) -> structlog.stdlib.BoundLogger:
    """A logger bound to one object: kind, namespace, name and generation on every line."""
    meta: Mapping[str, Any] = body.get("metadata", {})
    log: structlog.stdlib.BoundLogger = structlog.get_logger("modelship.controller")
    return log.bind(
        kind=kind,
        namespace=meta.get("namespace"),
        name=meta.get("name"),
        generation=meta.get("generation"),
    )


def bound_fields(log: structlog.stdlib.BoundLogger) -> MutableMapping[str, Any]:
    """The fields bound to a logger (for tests)."""
    return dict(structlog.get_context(log))
