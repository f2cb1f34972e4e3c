"""`get NAME --watch`: the rollout view, redrawn in place on every change (rich's Live
display), until Ctrl-C."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.live import Live
from rich.text import Text

from modelship.kubectl import rollout_view
from modelship.kubectl.cluster import Cluster
from modelship.kubectl.exitcodes import CommandError, ExitCode

# Ages and pause countdowns move on their own: redraw this often without a change.
TICK_SECONDS = 1.0
# The objects around the ModelDeployment (monitors, policies) are not watched: re-read so often.
REREAD_SECONDS = 5.0


def watch(cluster: Cluster, name: str, console: Console, now: Callable[[], datetime]) -> int:
    changed, stop = threading.Event(), threading.Event()
    cluster.follow(name, changed, stop)
    snapshot = cluster.snapshot(name)
    read_at = time.monotonic()
    try:
        if not console.is_terminal:
            return _print_changes(cluster, name, console, now, changed)
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                summary = rollout_view.summarize(snapshot)
                live.update(rollout_view.render(summary, now()), refresh=True)
                if changed.wait(TICK_SECONDS) or time.monotonic() - read_at > REREAD_SECONDS:
                    changed.clear()
                    snapshot = _reread(cluster, name, live.console)
                    read_at = time.monotonic()
    except KeyboardInterrupt:
        return ExitCode.OK  # Ctrl-C is how a watch ends
    finally:
        stop.set()


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
