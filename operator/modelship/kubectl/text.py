"""Shared pieces of the plugin's output: ages, numbers, phase symbols, rendering to text."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

# Phases of the three kinds: a symbol (as Argo Rollouts prints them) and a colour.
_PHASES: Mapping[str, tuple[str, str]] = {
    "Healthy": ("✔", "green"),
    "Monitoring": ("✔", "green"),
    "Idle": ("✔", "green"),
    "Promoted": ("✔", "green"),
    "Succeeded": ("✔", "green"),
    "Successful": ("✔", "green"),
    "Progressing": ("◌", "cyan"),
    "Training": ("◌", "cyan"),
    "Validating": ("◌", "cyan"),
    "Promoting": ("◌", "cyan"),
    "Running": ("◌", "cyan"),
    "Pending": ("◌", "dim"),
    "CoolingDown": ("◷", "dim"),
    "Paused": ("॥", "yellow"),
    "AwaitingApproval": ("॥", "yellow"),
    "Inconclusive": ("?", "yellow"),
    "Degraded": ("✖", "red"),
    "Drifted": ("✖", "red"),
    "RolledBack": ("↩", "red"),
    "RolledBackAfterPromotion": ("↩", "red"),
    "Aborted": ("↩", "red"),
    "Failed": ("✖", "red"),
    "Rejected": ("✖", "red"),
    "Cancelled": ("-", "dim"),
    "Superseded": ("-", "dim"),
    "Dropped": ("-", "dim"),
}
_SEVERITY_STYLES: Mapping[str, str] = {"critical": "bold red", "warning": "yellow", "none": ""}


def phase(value: str | None) -> Text:
    """A phase or outcome with its symbol and colour, e.g. `॥ Paused`."""
    if not value:
        return Text("-", style="dim")
    symbol, style = _PHASES.get(value, ("", ""))
    return Text(f"{symbol} {value}" if symbol else value, style=style)


_POD_STYLES: Mapping[str, str] = {"Running": "green", "Failed": "red", "Unknown": "red"}


def pod_phase(value: str) -> Text:
    """A pod's phase (or Terminating), coloured but without a rollout's symbols."""
    return Text(value, style=_POD_STYLES.get(value, "dim"))


def severity(value: str | None) -> Text:
    value = value or "none"
    return Text(value, style=_SEVERITY_STYLES.get(value, ""))


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as the API server writes it (`2026-01-02T03:04:05Z`)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """A span as kubectl prints ages: `45s`, `3m12s`, `5h3m`, `2d4h`."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours and days < 10 else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes and hours < 10 else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs and minutes < 10 else f"{minutes}m"
    return f"{secs}s"


def age(value: Any, now: datetime) -> str:
    """Time since a timestamp (`-` when there is none)."""
    moment = parse_time(value)
    return duration((now - moment).total_seconds()) if moment else "-"


def number(value: Any) -> str:
    """A measurement or score: 4 significant digits, `-` when absent."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of type `kind`, if the object has it."""
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return None


# Every string is shown as it is: status messages hold brackets that are not rich markup.
PLAIN: Mapping[str, Any] = {"markup": False, "emoji": False, "highlight": False}


def to_text(renderable: RenderableType, width: int = 120, color: bool = False) -> str:
    """Render to a string: plain text (tests, pipes) or with ANSI colours."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        **PLAIN,
    )
    console.print(renderable)
    return buffer.getvalue()


def table(*columns: str, title: str | None = None) -> Table:
    """A borderless table as kubectl prints them: upper-case headers, columns two apart."""
    grid = Table(
        *columns,
        title=title,
        title_justify="left",
        title_style="bold",
        box=None,
        padding=(0, 2, 0, 0),
        pad_edge=False,
        show_edge=False,
        header_style="bold",
    )
    return grid


def indent(renderable: RenderableType, spaces: int = 2) -> Padding:
    return Padding(renderable, (0, 0, 0, spaces))
