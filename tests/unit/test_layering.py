"""The layering contract (pyproject.toml, docs/architecture.md) holds, and breaks when a pure
planner imports an adapter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(source: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_contract_holds_and_fails_on_a_forbidden_import(tmp_path: Path) -> None:
    kept = lint_imports(ROOT / "operator", ROOT)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    copy = tmp_path / "operator"
    shutil.copytree(ROOT / "operator" / "modelship", copy / "modelship")
    planner = copy / "modelship" / "rollout" / "planner.py"
    planner.write_text(planner.read_text() + "\nimport modelship.adapters.kubernetes  # noqa\n")
    broken = lint_imports(copy, tmp_path)
    assert broken.returncode != 0
    assert "modelship.rollout.planner -> modelship.adapters.kubernetes" in broken.stdout
