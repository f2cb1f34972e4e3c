"""The watch view's viewport: cut to the terminal, scrolled by keys, never past either end."""

from __future__ import annotations

import io

import pytest
from modelship.kubectl.live import Viewport, fit, split_keys
from rich.console import Console
from rich.text import Text

KEYS = "j/k or ↑/↓ scroll, space/b page, q quits"


@pytest.mark.parametrize(
    ("total", "height", "offset", "top", "rows", "footer"),
    [
        (10, 20, 5, 0, 10, None),  # fits: no scrolling, no footer
        (20, 20, 3, 0, 20, None),
        (30, 10, 0, 0, 9, "── 21 lines below: " + KEYS),
        (30, 10, 5, 5, 9, "── 5 lines above, 16 lines below: " + KEYS),
        (30, 10, 99, 21, 9, "── 21 lines above: " + KEYS),
        (30, 10, -4, 0, 9, "── 21 lines below: " + KEYS),
    ],
)
def test_viewport(
    total: int, height: int, offset: int, top: int, rows: int, footer: str | None
) -> None:
    port = Viewport(total, height, offset)
    assert (port.top, port.rows, port.footer()) == (top, rows, footer)


@pytest.mark.parametrize(
    ("keys", "top"),
    [
        ([b"j"], 1),
        ([b"j", b"j", b"\x1b[B"], 3),
        ([b"j", b"k"], 0),
        ([b"k"], 0),  # not above the first line
        ([b" "], 9),  # a page is the rows shown
        ([b" ", b" ", b" ", b" "], 21),  # not below the last page
        ([b" ", b"b"], 0),
        ([b"\x1b[6~", b"\x1b[A"], 8),
        ([b"x"], 0),  # other keys do nothing
    ],
)
def test_scrolling(keys: list[bytes], top: int) -> None:
    port = Viewport(30, 10)
    for key in keys:
        port = port.scrolled(key)
    assert port.top == top


@pytest.mark.parametrize(
    ("chunk", "keys"),
    [
        (b"j", [b"j"]),
        (b"jjk", [b"j", b"j", b"k"]),
        (b"\x1b[B\x1b[Aq", [b"\x1b[B", b"\x1b[A", b"q"]),
        (b"\x1b[6~ ", [b"\x1b[6~", b" "]),
        (b"\x1b[", [b"\x1b["]),  # cut short: kept whole, matches nothing
    ],
)
def test_split_keys(chunk: bytes, keys: list[bytes]) -> None:
    assert split_keys(chunk) == keys


def _console(height: int) -> Console:
    return Console(file=io.StringIO(), width=40, height=height, force_terminal=True)


def _shown(view: object, console: Console) -> list[str]:
    console.print(view)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return Text.from_ansi(out).plain.splitlines()


def test_a_view_taller_than_the_terminal_is_cut_with_a_footer() -> None:
    view = Text("\n".join(f"line {i}" for i in range(30)))
    console = _console(height=11)
    cut, port = fit(view, console, offset=4)
    shown = _shown(cut, console)
    assert shown[:9] == [f"line {i}" for i in range(4, 13)]
    assert shown[9].startswith("── 4 lines above, 17 lines below")
    assert len(shown) == 10 == port.height  # one row short of the terminal


def test_a_view_that_fits_is_shown_whole() -> None:
    view = Text("\n".join(f"line {i}" for i in range(5)))
    console = _console(height=11)
    same, port = fit(view, console, offset=3)
    assert same is view
    assert (port.fits, port.top) == (True, 0)
