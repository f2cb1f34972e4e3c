"""`modelship crds`: write (or check, or print) the CustomResourceDefinitions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelship.crdgen.crd import rendered
from modelship.crdgen.docs import splice


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="modelship crds",
        description="Generate the CRDs from the API models. Without --out, print them "
        "(`modelship crds | kubectl apply -f -`).",
    )
    p.add_argument(
        "--out",
        type=Path,
        action="append",
        default=[],
        help="directory to write one YAML per CRD into (repeatable)",
    )
    p.add_argument(
        "--chart",
        type=Path,
        action="append",
        default=[],
        help="the Helm chart's crds/ directory (same files)",
    )
    p.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="also refresh the generated field reference in this Markdown file",
    )
    p.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a directory's files differ"
    )
    return p


def _generated(directory: Path) -> list[Path]:
    """Files in `directory` this command owns (and may remove when no longer generated)."""
    return sorted([*directory.glob("modelship.io_*.yaml"), *directory.glob("kopf.dev_*.yaml")])


def _differs(path: Path, text: str) -> bool:
    return not path.exists() or path.read_text() != text


def stale_files(directory: Path, files: dict[str, str]) -> list[str]:
    """Names of generated files that are missing or different, and extra modelship CRDs."""
    stale = [name for name, text in files.items() if _differs(directory / name, text)]
    extra = [p.name for p in _generated(directory) if p.name not in files]
    return sorted(stale + extra)


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in _generated(directory):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    files = rendered()
    directories: list[Path] = [*args.out, *args.chart]
    if not directories and not args.docs:
        sys.stdout.write("---\n".join(files.values()))
        return 0
    if args.check:
        problems = {d: stale_files(d, files) for d in directories}
        for directory, names in problems.items():
            for name in names:
                print(f"stale: {directory / name} (run `make crds`)", file=sys.stderr)
        stale_docs = bool(args.docs) and _docs_differ(args.docs)
        if stale_docs:
            print(f"stale: {args.docs} (run `make crds`)", file=sys.stderr)
        return 1 if any(problems.values()) or stale_docs else 0
    for directory in directories:
        write(directory, files)
    if args.docs:
        current = args.docs.read_text() if args.docs.exists() else ""
        if splice(current) != current:
            args.docs.write_text(splice(current))
    return 0


def _docs_differ(path: Path) -> bool:
    current = path.read_text() if path.exists() else ""
    return splice(current) != current
