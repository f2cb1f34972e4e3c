"""The `modelship` command: one entry point that dispatches to each tool.

Subcommands import their module lazily so that, for example, the operator image does not need
the model server's dependencies and `modelship --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# subcommand -> (module, one-line help). Each module exposes `main(argv) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "operator": ("modelship.controller.run", "run the Kubernetes operator"),
    "serve": ("modelship.server.main", "run the reference model server"),
    "profile": ("modelship.profile.main", "build a reference profile from training data"),
    "drift": ("modelship.drift.main", "score a data file for drift, as a DriftMonitor would"),
    "lineage": ("modelship.lineage_main", "where a ModelDeployment's model versions came from"),
    "crds": ("modelship.crdgen.main", "write the CustomResourceDefinitions"),
}


def usage() -> str:
    lines = ["usage: modelship <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] == "--version":
        from modelship import __version__

        print(__version__)
        return 0
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        print(f"modelship: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[command][0])
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":
    sys.exit(main())
