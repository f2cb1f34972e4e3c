"""A program run in a real pseudo-terminal, its screen read back through a terminal emulator
(pyte): what a person would see, for tests of full-screen and redrawn output."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import termios
import threading
from collections.abc import Callable, Mapping, Sequence

import pyte

from modelship_testing.waiters import diagnostic, wait_for

CTRL_C = b"\x03"


class PseudoTerminal:
    """`argv` with a pty of `columns` x `rows` as its controlling terminal (so Ctrl-C is a
    real SIGINT from the terminal), the bytes it writes fed to an emulated screen."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], columns: int = 150, rows: int = 60
    ) -> None:
        self.screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        self._lock = threading.Lock()
        self.output = bytearray()
        full_env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
        pid, fd = pty.fork()
        if pid == 0:  # the child: nothing but exec (the parent has threads)
            try:
                os.execvpe(argv[0], list(argv), full_env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.exit_code: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            with self._lock:
                self.output.extend(chunk)
                self._stream.feed(chunk)

    def lines(self) -> list[str]:
        """The screen now, one string per row, trailing blanks removed."""
        with self._lock:
            return [row.rstrip() for row in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for_screen(
        self, check: Callable[[list[str]], bool], describe: str, timeout: float = 60
    ) -> list[str]:
        with diagnostic("the terminal's screen", self.text):
            wait_for(lambda: check(self.lines()), timeout=timeout, describe=describe)
        return self.lines()

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def poll(self) -> int | None:
        if self.exit_code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code

    def wait(self, timeout: float = 20) -> int:
        wait_for(lambda: self.poll() is not None, timeout=timeout, describe="the program to end")
        self._reader.join(timeout=5)
        assert self.exit_code is not None
        return self.exit_code

    def close(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)
