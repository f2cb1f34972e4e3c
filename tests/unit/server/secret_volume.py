"""A Secret volume as the kubelet writes it, for the token-rotation tests.

The kubelet's atomic writer keeps each version of the Secret in a timestamped directory,
points `..data` at the current one and exposes every key as a symlink `key -> ..data/key`.
An update writes a new directory and swaps `..data` with one rename, so a reader sees the
old file or the new one, never a partial one.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path


class SecretVolume:
    def __init__(self, root: Path, key: str = "token") -> None:
        self.root = root
        self.key = key
        self._versions = itertools.count(1)
        root.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        """The file the server is given: `root/key`."""
        return self.root / self.key

    def write(self, content: str) -> None:
        version = self.root / f"..2026_01_01_00_00_00.{next(self._versions)}"
        version.mkdir()
        (version / self.key).write_text(content)
        staging = self.root / "..data_tmp"
        staging.symlink_to(version.name)
        os.replace(staging, self.root / "..data")  # the one atomic step
        if not self.path.is_symlink():
            self.path.symlink_to(f"..data/{self.key}")
