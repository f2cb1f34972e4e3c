"""`get NAME --watch`: the rollout view, redrawn in place on every change (rich's Live
display), until Ctrl-C or `q`. A view taller than the terminal is cut to fit, with a line
saying what is below, and scrolls with j/k or the arrow keys."""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.segment import Segment, Segments
from rich.text import Text

from modelship.kubectl import rollout_view
from modelship.kubectl.cluster import Cluster
from modelship.kubectl.exitcodes import CommandError, ExitCode

# Ages and pause countdowns move on their own: redraw this often without a change.
TICK_SECONDS = 1.0
# The objects around the ModelDeployment (monitors, policies) are not watched: re-read so often.
REREAD_SECONDS = 5.0
# Keys as a terminal sends them: a line down or up (j/k, arrows), a page down or up (space/b,
# PgDn/PgUp), quit.
LINE_KEYS = {b"j": 1, b"\x1b[B": 1, b"k": -1, b"\x1b[A": -1}
PAGE_KEYS = {b" ": 1, b"\x1b[6~": 1, b"b": -1, b"\x1b[5~": -1}
QUIT = (b"q", b"Q")


@dataclass(frozen=True)
class Viewport:
    """Which rows of a view a terminal of `height` rows shows, scrolled down by `offset`."""

    total: int
    height: int
    offset: int = 0

    @property
    def fits(self) -> bool:
        return self.total <= self.height

    @property
    def rows(self) -> int:
        """Rows of the view shown: all of them, or all but the footer's."""
        return self.total if self.fits else max(self.height - 1, 1)

    @property
    def top(self) -> int:
        return 0 if self.fits else min(max(self.offset, 0), self.total - self.rows)

    def scrolled(self, key: bytes) -> Viewport:
        step = LINE_KEYS.get(key, 0) + PAGE_KEYS.get(key, 0) * self.rows
        return Viewport(self.total, self.height, self.top + step)

    def footer(self) -> str | None:
        if self.fits:
            return None
        above, below = self.top, self.total - self.top - self.rows
        where = ", ".join(
            part for part in (f"{above} lines above" if above else "",
                              f"{below} lines below" if below else "") if part
        )  # fmt: skip
        return f"── {where}: j/k or ↑/↓ scroll, space/b page, q quits"


def split_keys(chunk: bytes) -> list[bytes]:
    """The keys in what one read from the terminal gave: single bytes and escape sequences."""
    keys, i = [], 0
    while i < len(chunk):
        end = i + 1
        if chunk[i : i + 2] == b"\x1b[":  # CSI: up to its final byte, a letter or ~
            end = i + 2
            while end < len(chunk) and not (chunk[end : end + 1].isalpha() or chunk[end] == 0x7E):
                end += 1
            end += 1
        keys.append(chunk[i:end])
        i = end
    return keys


def fit(view: RenderableType, console: Console, offset: int) -> tuple[RenderableType, Viewport]:
    """The view cut to the terminal's height at `offset`, with a footer when it does not fit."""
    lines = console.render_lines(view, console.options.update(height=None), pad=False)
    # One row short of the terminal: a view as tall as the screen would scroll it on redraw.
    port = Viewport(len(lines), max(console.size.height - 1, 1), offset)
    if port.fits:
        return view, port
    shown = [
        seg for line in lines[port.top : port.top + port.rows] for seg in (*line, Segment.line())
    ]
    footer = Text(port.footer() or "", style="dim", no_wrap=True, overflow="ellipsis")
    return Group(Segments(shown), footer), port


class _Forwarding(threading.Event):
    """An Event that, when set, also sets `wake`: the view wakes for a change or a key, and
    re-reads the cluster only for a change."""

    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake.set()


def watch(cluster: Cluster, name: str, console: Console, now: Callable[[], datetime]) -> int:
    wake, stop = threading.Event(), threading.Event()
    changed = _Forwarding(wake)
    cluster.follow(name, changed, stop)
    snapshot = cluster.snapshot(name)
    read_at = time.monotonic()
    try:
        if not console.is_terminal:
            return _print_changes(cluster, name, console, now, changed)
        keys: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        with (
            _keys_into(keys, wake, stop),
            Live(
                console=console, auto_refresh=False, transient=False, vertical_overflow="visible"
            ) as live,
        ):
            offset = 0
            while True:
                view, port = fit(rollout_view.render(rollout_view.summarize(snapshot), now()),
                                 live.console, offset)  # fmt: skip
                live.update(view, refresh=True)
                wake.wait(TICK_SECONDS)
                wake.clear()
                while not keys.empty():
                    for key in split_keys(keys.get_nowait()):
                        if key in QUIT:
                            return ExitCode.OK
                        port = port.scrolled(key)
                offset = port.top
                if changed.is_set() or time.monotonic() - read_at > REREAD_SECONDS:
                    changed.clear()
                    snapshot = _reread(cluster, name, live.console)
                    read_at = time.monotonic()
    except KeyboardInterrupt:
        return ExitCode.OK  # Ctrl-C is how a watch ends
    finally:
        stop.set()


@contextlib.contextmanager
def _keys_into(
    keys: queue.SimpleQueue[bytes], wake: threading.Event, stop: threading.Event
) -> Iterator[None]:
    """Read keys from the terminal (cbreak mode: Ctrl-C still interrupts) into `keys`, waking
    the view; the terminal's settings are restored afterwards."""
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read() -> None:
        while not stop.is_set():
            try:
                chunk = os.read(fd, 16)
            except OSError:
                return
            if not chunk:
                return
            keys.put(chunk)
            wake.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _reread(cluster: Cluster, name: str, console: Console) -> rollout_view.Snapshot:
    try:
        return cluster.snapshot(name)
    except CommandError as err:
        if err.code is ExitCode.NOT_FOUND:
            console.print(Text(f"modeldeployment '{name}' was deleted", style="bold red"))
        raise


def _print_changes(
    cluster: Cluster,
    name: str,
    console: Console,
    now: Callable[[], datetime],
    changed: threading.Event,
) -> int:
    """Not a terminal (a pipe, a log): print the view again whenever it changes."""
    last = None
    while True:
        summary = rollout_view.summarize(_reread(cluster, name, console))
        if summary != last:
            console.print(Text(f"--- {now():%H:%M:%S}", style="dim"))
            console.print(rollout_view.render(summary, now()))
            last = summary
        changed.wait(REREAD_SECONDS)
        changed.clear()
