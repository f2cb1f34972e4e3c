"""The commands: read through `Cluster`, decide with the pure `actions` and views, write the
annotations they planned, print. One function per command, looked up in `COMMANDS`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from argcomplete.shell_integration import shellcode
from rich.console import Console, RenderableType
from rich.text import Text

from modelship import __version__
from modelship.api.types import parse_duration
from modelship.kubectl import actions, live, reports, rollout_view
from modelship.kubectl.cluster import Cluster
from modelship.kubectl.exitcodes import CommandError, ExitCode
from modelship.kubectl.text import PLAIN, to_text
from modelship.retrain import lineage as retrain_lineage
from modelship.rollout.objects import LABEL_REVISION

# Wider than any table, so that a pipe or a CI log gets whole lines.
PIPE_WIDTH = 200
WATCH_CHUNK_SECONDS = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    cluster: Cluster
    out: Console
    err: Console
    now: Callable[[], datetime] = _now

    def show(self, renderable: RenderableType) -> None:
        if self.out.is_terminal:
            self.out.print(renderable)
            return
        # A pipe or a file: plain lines without the padding that aligns a screen.
        rendered = to_text(renderable, width=PIPE_WIDTH)
        self.out.file.write("".join(line.rstrip() + "\n" for line in rendered.splitlines()))

    def say(self, line: str, error: bool = False) -> None:
        # A line of a log (status, answers): never wrapped, whatever its length.
        (self.err if error else self.out).print(Text(line), soft_wrap=True)


def console(stream: Any) -> Console:
    terminal = stream.isatty()
    return Console(file=stream, width=None if terminal else PIPE_WIDTH, **PLAIN)


def seconds(value: str) -> float:
    """`30s`, `5m`, `1h30m`, or a bare number of seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        return parse_duration(value).total_seconds()
    except ValueError as err:
        raise CommandError(ExitCode.USAGE, str(err)) from None


def _dump(ctx: Context, document: Any, output: str) -> None:
    if output == "json":
        ctx.out.file.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        ctx.out.file.write(
            yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False)
        )


def _report(
    ctx: Context, document: Any, output: str | None, screen: Callable[[], RenderableType]
) -> int:
    """A document as JSON or YAML (-o), else its screen."""
    if output:
        _dump(ctx, document, output)
    else:
        ctx.show(screen())
    return ExitCode.OK


def _refuse_or_annotate(ctx: Context, decision: actions.Patch | actions.Refusal) -> int:
    if isinstance(decision, actions.Refusal):
        raise CommandError(decision.code, decision.message)
    if decision.annotations:
        ctx.cluster.annotate(decision)
    ctx.say(decision.said)
    return ExitCode.OK


def _md(ctx: Context, name: str) -> dict[str, Any]:
    return ctx.cluster.get("modeldeployments", name)


def _kept(ctx: Context, name: str) -> list[str]:
    return [
        str(rev)
        for dep in ctx.cluster.deployments(name)
        if (rev := ((dep.get("metadata") or {}).get("labels") or {}).get(LABEL_REVISION))
    ]


# --- showing --------------------------------------------------------------------------------


def get(ctx: Context, args: argparse.Namespace) -> int:
    if args.name is None:
        scope = args.all_namespaces
        rows = rollout_view.list_rows(
            ctx.cluster.objects("modeldeployments", scope),
            ctx.cluster.objects("driftmonitors", scope),
            ctx.cluster.objects("retrainpolicies", scope),
        )
        return _report(
            ctx, rows, args.output, lambda: rollout_view.render_list(rows, ctx.now(), scope)
        )
    if args.watch:
        return live.watch(ctx.cluster, args.name, ctx.out, ctx.now)
    summary = rollout_view.summarize(ctx.cluster.snapshot(args.name))
    return _report(ctx, summary, args.output, lambda: rollout_view.render(summary, ctx.now()))


def history(ctx: Context, args: argparse.Namespace) -> int:
    rows = reports.history_rows(_md(ctx, args.name), _kept(ctx, args.name))
    return _report(ctx, rows, args.output, lambda: reports.render_history(rows, ctx.now()))


def lineage(ctx: Context, args: argparse.Namespace) -> int:
    """Where each model version came from: `modelship lineage`'s chain and table."""
    md = _md(ctx, args.name)

    def policy(name: str) -> Mapping[str, Any] | None:
        try:
            return ctx.cluster.get("retrainpolicies", name)
        except CommandError as err:
            if err.code is ExitCode.NOT_FOUND:
                return None  # deleted since: the lineage says so
            raise

    entries = retrain_lineage.lineage(md, retrain_lineage.policies_of(md, policy))
    if args.output:
        _dump(ctx, [e.to_json() for e in entries], args.output)
    elif entries:
        ctx.out.file.write(retrain_lineage.table(entries) + "\n")
    else:
        ctx.say(f"modeldeployment '{args.name}' has no rollout history yet")
    return ExitCode.OK


def drift(ctx: Context, args: argparse.Namespace) -> int:
    monitors = ctx.cluster.objects("driftmonitors", args.all_namespaces)
    if args.name is None:
        summaries = [reports.monitor_summary(m, None) for m in monitors]
        if args.output:
            _dump(ctx, summaries, args.output)
        elif not summaries:
            ctx.say("No DriftMonitors found.")
        else:
            ctx.show(reports.render_monitors(summaries, ctx.now(), args.all_namespaces))
        return ExitCode.OK
    found = actions.resolve(args.name, monitors, "DriftMonitor", "DriftMonitors")
    if isinstance(found, actions.Refusal):
        raise CommandError(found.code, found.message)
    report = reports.monitor_summary(found)
    return _report(ctx, report, args.output, lambda: reports.render_drift(report, ctx.now()))


# --- steering a rollout ---------------------------------------------------------------------


def promote(ctx: Context, args: argparse.Namespace) -> int:
    return _refuse_or_annotate(ctx, actions.promote(_md(ctx, args.name), args.full, ctx.now()))


def pause(ctx: Context, args: argparse.Namespace) -> int:
    return _refuse_or_annotate(ctx, actions.pause(_md(ctx, args.name)))


def resume(ctx: Context, args: argparse.Namespace) -> int:
    return _refuse_or_annotate(ctx, actions.resume(_md(ctx, args.name)))


def abort(ctx: Context, args: argparse.Namespace) -> int:
    return _refuse_or_annotate(ctx, actions.abort(_md(ctx, args.name), ctx.now()))


def retry(ctx: Context, args: argparse.Namespace) -> int:
    return _refuse_or_annotate(ctx, actions.retry(_md(ctx, args.name), ctx.now()))


def undo(ctx: Context, args: argparse.Namespace) -> int:
    md = _md(ctx, args.name)
    decision = actions.undo(md, _kept(ctx, args.name), args.to_revision, ctx.now())
    return _refuse_or_annotate(ctx, decision)


def status(ctx: Context, args: argparse.Namespace) -> int:
    """Follow a rollout to its end, a line per change (Argo Rollouts' `status` for CI)."""
    limit = seconds(args.timeout)
    deadline = time.monotonic() + limit if limit > 0 else None
    last = None
    while True:
        md = _md(ctx, args.name)
        verdict = actions.rollout_verdict(md)
        if verdict.line != last:
            ctx.say(f"{ctx.now():%H:%M:%S} {verdict.line}")
            last = verdict.line
        if verdict.finished:
            return verdict.code
        if args.no_watch:
            return ExitCode.TIMEOUT
        left = deadline - time.monotonic() if deadline is not None else WATCH_CHUNK_SECONDS
        if left <= 0:
            ctx.say(
                f"error: timed out after {args.timeout}: modeldeployment '{args.name}' is "
                f"still {(md.get('status') or {}).get('phase', 'Pending')}",
                error=True,
            )
            return ExitCode.TIMEOUT
        ctx.cluster.wait_for_change("modeldeployments", md, min(left, WATCH_CHUNK_SECONDS))


# --- retraining -----------------------------------------------------------------------------


def _policy(ctx: Context, name: str) -> Mapping[str, Any]:
    policies = ctx.cluster.objects("retrainpolicies")
    found = actions.resolve(name, policies, "RetrainPolicy", "RetrainPolicies")
    if isinstance(found, actions.Refusal):
        raise CommandError(found.code, found.message)
    return found


def _await(
    ctx: Context,
    policy: Mapping[str, Any],
    answer: Callable[[Mapping[str, Any]], tuple[ExitCode, str] | None],
    timeout: str,
) -> int:
    """Wait for the operator's answer to what was just written, and print it."""
    deadline = time.monotonic() + seconds(timeout)
    name = (policy.get("metadata") or {}).get("name", "")
    while True:
        said = answer(policy)
        if said is not None:
            code, line = said
            ctx.say(line, error=code is not ExitCode.OK)
            return code
        left = deadline - time.monotonic()
        if left <= 0:
            ctx.say(
                f"error: the operator has not answered within {timeout}: is it running? "
                f"(the request stays: kubectl describe retrainpolicy {name})",
                error=True,
            )
            return ExitCode.TIMEOUT
        ctx.cluster.wait_for_change("retrainpolicies", policy, min(left, WATCH_CHUNK_SECONDS))
        policy = ctx.cluster.get("retrainpolicies", name)


def retrain(ctx: Context, args: argparse.Namespace) -> int:
    policy = _policy(ctx, args.name)
    patch, value = actions.retrain(policy, ctx.now())
    written = ctx.cluster.annotate(patch)
    ctx.say(patch.said)
    if args.no_wait:
        return ExitCode.OK
    return _await(ctx, written, lambda p: actions.retrain_answer(p, value), args.timeout)


def reset_breaker(ctx: Context, args: argparse.Namespace) -> int:
    return _refuse_or_annotate(ctx, actions.reset_breaker(_policy(ctx, args.name), ctx.now()))


def _decide(ctx: Context, args: argparse.Namespace, approve: bool) -> int:
    found = actions.find_run(args.run, ctx.cluster.objects("retrainpolicies"))
    if isinstance(found, actions.Refusal):
        raise CommandError(found.code, found.message)
    decision = actions.decide(found, approve)
    if isinstance(decision, actions.Refusal):
        raise CommandError(decision.code, decision.message)
    written = ctx.cluster.annotate(decision)
    ctx.say(decision.said)
    if args.no_wait:
        return ExitCode.OK
    return _await(ctx, written, lambda p: actions.decision_answer(p, args.run), args.timeout)


def approve(ctx: Context, args: argparse.Namespace) -> int:
    return _decide(ctx, args, approve=True)


def reject(ctx: Context, args: argparse.Namespace) -> int:
    return _decide(ctx, args, approve=False)


COMMANDS: Mapping[str, Callable[[Context, argparse.Namespace], int]] = {
    "get": get,
    "history": history,
    "lineage": lineage,
    "drift": drift,
    "promote": promote,
    "pause": pause,
    "resume": resume,
    "abort": abort,
    "retry": retry,
    "undo": undo,
    "status": status,
    "retrain": retrain,
    "reset-breaker": reset_breaker,
    "approve": approve,
    "reject": reject,
}


def run(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(__version__)
        return ExitCode.OK
    if args.command == "completion":
        sys.stdout.write(shellcode(["kubectl-modelship"], shell=args.shell))
        return ExitCode.OK
    if hasattr(args, "timeout"):
        seconds(args.timeout)  # a malformed duration is a usage error, before connecting
    cluster = Cluster(
        getattr(args, "kubeconfig", None),
        getattr(args, "context", None),
        getattr(args, "namespace", None),
    )
    ctx = Context(cluster, console(sys.stdout), console(sys.stderr))
    return COMMANDS[args.command](ctx, args)
