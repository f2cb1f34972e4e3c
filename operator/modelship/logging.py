"""Structured logs: JSON lines for machines (default), aligned colourless text for people.

Every line about an object carries `kind`, `namespace`, `name` (and `generation` for the
operator's own lines). kopf's own log records go through the same formatter; the object
reference kopf attaches to them (`k8s_ref`) becomes the same fields.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
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


# Kinds the operator watches only where they are installed (a cluster without the Gateway API
# or Istio is normal): kopf's warning that it cannot serve them says nothing wrong.
OPTIONAL_KINDS = ("gateway.networking.k8s.io", "networking.istio.io")
UNRESOLVED = "Unresolved resources cannot be served (try creating their CRDs):"


class _OptionalKindsMissing(logging.Filter):
    """Drop kopf's "Unresolved resources" warning when it names optional kinds only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(UNRESOLVED):
            return True
        # kopf names each one as Selector(group='...', version='...', any_name='...').
        groups = re.findall(r"group='([^']*)'", message)
        return not groups or not all(group in OPTIONAL_KINDS for group in groups)


class _RepeatedWarning(logging.Filter):
    """Say a problem with an object once, not at every pass that finds it unchanged.

    A warning of the operator's own about an object (an invalid spec, a refused child: a
    reconcile woken twice in a row finds the same problem twice) is dropped when the
    same warning, with the same fields (object, generation, error), was logged less than
    `window` seconds ago. The object's status and Events carry the problem meanwhile; the
    periodic resync (every 10 minutes) logs it again while it lasts, and any change to it
    (another error, a new generation) is logged at once.
    """

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.msg
        if record.levelno != logging.WARNING or not isinstance(fields, dict):
            return True  # info and error lines, and kopf's own records
        if not record.name.startswith("modelship") or "name" not in fields:
            return True  # only lines about an object
        key = (
            record.name,
            record.levelno,
            *sorted((k, repr(v)) for k, v in fields.items() if k != "timestamp"),
        )
        now = self.clock()
        printed = self._seen.pop(key, None)  # when it was last printed
        if printed is not None and now - printed < self.window:
            self._seen[key] = printed
            return False
        self._seen[key] = now
        while len(self._seen) > 4096:
            self._seen.popitem(last=False)
        return True


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
    handler.addFilter(_RepeatedWarning())
    handler.addFilter(_OptionalKindsMissing())
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
