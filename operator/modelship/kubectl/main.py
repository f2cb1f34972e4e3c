"""`kubectl modelship`: the command line. Parsing and dispatch only: each command is a thin
function in `commands`, over the pure views and actions.

Imports stay light up to the parse (the API models and the Kubernetes client load only when a
command runs), so shell completion answers fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

import argcomplete

from modelship.kubectl.exitcodes import CommandError, ExitCode

PROG = "kubectl modelship"
OUTPUTS = ("json", "yaml")
EPILOG = """\
exit codes: 0 done (status: Healthy), 1 status: RolledBack, Degraded or Failed, 2 usage,
3 timed out waiting (status, retrain, approve, reject), 4 not found, 5 does not apply now,
6 API server unreachable or refused, 130 interrupted. Reference: docs/operating.md"""


def _cluster_names(plural: str) -> Callable[..., list[str]]:
    """Completion of object names from the cluster (quietly nothing when it cannot be read)."""

    def complete(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
        try:
            from modelship.kubectl.cluster import Cluster

            cluster = Cluster(*_connection(parsed_args))
            names = [str(o["metadata"]["name"]) for o in cluster.objects(plural)]
            return [n for n in names if n.startswith(prefix)]
        except Exception:  # noqa: BLE001 - completion must never break the shell
            return []

    return complete


def _run_names(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    try:
        from modelship.kubectl.cluster import Cluster

        cluster = Cluster(*_connection(parsed_args))
        runs = [
            str(run.get("name"))
            for policy in cluster.objects("retrainpolicies")
            for run in (policy.get("status") or {}).get("runs") or []
            if run.get("outcome") == "AwaitingApproval"
        ]
        return [r for r in runs if r.startswith(prefix)]
    except Exception:  # noqa: BLE001 - completion must never break the shell
        return []


def _connection(args: argparse.Namespace) -> tuple[str | None, str | None, str | None]:
    return (
        getattr(args, "kubeconfig", None),
        getattr(args, "context", None),
        getattr(args, "namespace", None),
    )


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: accepted before and after the command, a later one wins, none overwrites.
    group = parser.add_argument_group("cluster")
    group.add_argument(
        "--kubeconfig",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    group.add_argument(
        "--context",
        default=argparse.SUPPRESS,
        help="the kubeconfig context (default: the current one)",
    )
    group.add_argument(
        "-n",
        "--namespace",
        default=argparse.SUPPRESS,
        help="the namespace (default: the context's, else default)",
    )


def _name(parser: argparse.ArgumentParser, plural: str, help_: str, optional: bool = False) -> None:
    action = parser.add_argument(
        "name", metavar="NAME", help=help_, nargs="?" if optional else None
    )
    action.completer = _cluster_names(plural)  # type: ignore[attr-defined]


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        help="print the report as JSON or YAML instead of a table",
    )


def _all_namespaces(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="list across every namespace (without NAME)",
    )


def _answer_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="return once asked, without waiting for the operator's answer",
    )
    parser.add_argument(
        "--timeout", default="30s", help="how long to wait for the operator's answer (default 30s)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Show and steer modelship's ModelDeployments, DriftMonitors and "
        "RetrainPolicies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _connection_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(
            name,
            help=help_,
            description=help_[0].upper() + help_[1:] + ".",
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _connection_flags(cmd)
        return cmd

    get = command(
        "get",
        "show a ModelDeployment: steps, weights, revisions, pods, analysis, "
        "drift and retraining (without NAME: list them)",
    )
    _name(get, "modeldeployments", "the ModelDeployment", optional=True)
    get.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="keep the view on screen, redrawn in place as it changes (Ctrl-C ends)",
    )
    _all_namespaces(get)
    _output(get)

    promote = command("promote", "finish the current pause or analysis step of a rollout")
    _name(promote, "modeldeployments", "the ModelDeployment")
    promote.add_argument(
        "--full", action="store_true", help="skip every remaining step and promote the canary now"
    )

    for verb, help_ in (
        ("pause", "hold a rollout where it is (modelship.io/paused=true)"),
        ("resume", "lift a pause set with `pause`"),
        ("abort", "stop a rollout: all traffic back to the stable revision"),
        ("retry", "roll out an aborted or rolled-back revision again"),
    ):
        _name(command(verb, help_), "modeldeployments", "the ModelDeployment")

    undo = command("undo", "return to an earlier revision (default: the one before what serves)")
    _name(undo, "modeldeployments", "the ModelDeployment")
    undo.add_argument(
        "--to-revision",
        metavar="N",
        help="a number from `history`, a revision or a unique prefix of one",
    )

    history = command("history", "list a ModelDeployment's past rollouts, oldest first")
    _name(history, "modeldeployments", "the ModelDeployment")
    _output(history)

    lineage = command(
        "lineage",
        "where each model version came from: run, trigger and drift, data, metrics, "
        "validation, rollout outcome (as `modelship lineage`)",
    )
    _name(lineage, "modeldeployments", "the ModelDeployment")
    _output(lineage)

    retrain = command("retrain", "start a retraining run now")
    _name(retrain, "retrainpolicies", "a RetrainPolicy, or a ModelDeployment with one policy")
    _answer_flags(retrain)

    reset = command("reset-breaker", "close a RetrainPolicy's open circuit breaker")
    _name(reset, "retrainpolicies", "a RetrainPolicy, or a ModelDeployment with one policy")

    for verb, help_ in (
        ("approve", "promote a run that waits for approval (promotion manual)"),
        ("reject", "reject a run that waits for approval: never deployed"),
    ):
        decide = command(verb, help_)
        action = decide.add_argument("run", metavar="RUN", help="the run, as `retrain` names it")
        action.completer = _run_names  # type: ignore[attr-defined]
        _answer_flags(decide)

    drift = command(
        "drift",
        "a DriftMonitor's report: features by score, dataset drift, data "
        "quality, performance, fairness (without NAME: list them)",
    )
    _name(
        drift,
        "driftmonitors",
        "a DriftMonitor, or a ModelDeployment with one monitor",
        optional=True,
    )
    _all_namespaces(drift)
    _output(drift)

    status = command(
        "status",
        "wait for a rollout to finish: exit 0 when Healthy, 1 when "
        "RolledBack, Degraded or Failed, 3 on timeout",
    )
    _name(status, "modeldeployments", "the ModelDeployment")
    status.add_argument(
        "-t",
        "--timeout",
        default="0s",
        help="give up after this long, e.g. 5m (default 0s: no limit)",
    )
    status.add_argument(
        "--no-watch",
        action="store_true",
        help="look once: exit 0 if Healthy, 1 if failed, 3 if not finished",
    )

    completion = command("completion", "print the shell code that completes kubectl-modelship")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))

    command("version", "print the plugin's version")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, and refuse (exit 2, as argparse does) the combinations that make no sense."""
    args = parser.parse_args(argv)
    if getattr(args, "all_namespaces", False) and getattr(args, "name", None):
        parser.error("-A lists every namespace: give no NAME with it")
    if getattr(args, "watch", False) and (args.output or not args.name):
        parser.error("--watch draws one ModelDeployment's screen: give NAME and no -o")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser, always_complete_options=False)
    args = parse(parser, argv)
    from modelship.kubectl import commands

    try:
        return int(commands.run(args))
    except CommandError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return int(err.code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
