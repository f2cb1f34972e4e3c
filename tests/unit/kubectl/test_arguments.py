"""The command line: what each invocation parses to, what it refuses, completion, and the
exit codes of failures that need no cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from modelship.kubectl import completion
from modelship.kubectl.commands import seconds
from modelship.kubectl.exitcodes import CommandError, ExitCode
from modelship.kubectl.main import build_parser, main, parse


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["get", "fraud"], {"command": "get", "name": "fraud", "watch": False, "output": None}),
        (["get"], {"command": "get", "name": None, "all_namespaces": False}),
        (["get", "-A", "-o", "json"], {"name": None, "all_namespaces": True, "output": "json"}),
        (["get", "fraud", "-w"], {"watch": True}),
        # connection flags before or after the command
        (["-n", "ml", "get", "fraud"], {"namespace": "ml"}),
        (
            ["get", "fraud", "-n", "ml", "--context", "prod", "--kubeconfig", "/k"],
            {"namespace": "ml", "context": "prod", "kubeconfig": "/k"},
        ),
        (["--context", "a", "promote", "fraud", "--context", "b"], {"context": "b"}),
        (["promote", "fraud"], {"command": "promote", "full": False}),
        (["promote", "fraud", "--full"], {"full": True}),
        (["undo", "fraud"], {"command": "undo", "to_revision": None}),
        (["undo", "fraud", "--to-revision", "3"], {"to_revision": "3"}),
        (["history", "fraud", "-o", "yaml"], {"output": "yaml"}),
        (["retrain", "fraud"], {"no_wait": False, "timeout": "30s"}),
        (["retrain", "fraud", "--no-wait"], {"no_wait": True}),
        (["approve", "fraud-retrain-2"], {"command": "approve", "run": "fraud-retrain-2"}),
        (["reject", "fraud-retrain-2", "--no-wait"], {"command": "reject", "no_wait": True}),
        (["drift"], {"command": "drift", "name": None}),
        (["drift", "fraud-drift", "-o", "json"], {"name": "fraud-drift", "output": "json"}),
        (["status", "fraud"], {"timeout": "0s", "no_watch": False}),
        (["status", "fraud", "--timeout", "5m"], {"timeout": "5m"}),
        (["status", "fraud", "-t", "90", "--no-watch"], {"timeout": "90", "no_watch": True}),
        (["reset-breaker", "fraud"], {"command": "reset-breaker", "name": "fraud"}),
        (["pause", "fraud"], {"command": "pause"}),
        (["resume", "fraud"], {"command": "resume"}),
        (["abort", "fraud"], {"command": "abort"}),
        (["retry", "fraud"], {"command": "retry"}),
    ],
)
def test_parse(argv: list[str], expected: dict[str, Any]) -> None:
    args = vars(parse(build_parser(), argv))
    assert {key: args.get(key) for key in expected} == expected


def test_connection_flags_left_out_stay_unset() -> None:
    args = vars(parse(build_parser(), ["get", "fraud"]))
    assert not {"kubeconfig", "context", "namespace"} & set(args)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["promote"], "the following arguments are required: NAME"),
        (["lineage"], "the following arguments are required: NAME"),
        (["lineage", "fraud", "-A"], "unrecognized arguments: -A"),
        (["get", "fraud", "-o", "wide"], "invalid choice: 'wide'"),
        (["get", "fraud", "-A"], "-A lists every namespace: give no NAME with it"),
        (["get", "fraud", "-w", "-o", "json"], "--watch draws one ModelDeployment's screen"),
        (["get", "-w"], "--watch draws one ModelDeployment's screen"),
        (["history", "fraud", "-A"], "unrecognized arguments: -A"),
        (["status", "fraud", "--full"], "unrecognized arguments: --full"),
    ],
)
def test_usage_errors_exit_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == ExitCode.USAGE == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("90", 90.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
    ],
)
def test_seconds(value: str, expected: float) -> None:
    assert seconds(value) == expected


@pytest.mark.parametrize("value", ["5x", "", "-1s", "m5"])
def test_a_malformed_duration_is_a_usage_error(value: str) -> None:
    with pytest.raises(CommandError) as raised:
        seconds(value)
    assert raised.value.code is ExitCode.USAGE


def test_a_malformed_timeout_is_refused_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--kubeconfig", "/nonexistent", "status", "fraud", "--timeout", "5x"]) == 2
    assert "invalid duration '5x'" in capsys.readouterr().err


def test_an_unreadable_kubeconfig_is_an_api_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--kubeconfig", str(tmp_path / "missing"), "get", "fraud"]) == 6
    assert capsys.readouterr().err.startswith("error: kubeconfig: ")


def write_kubeconfig(path: Path, namespace: str | None) -> Path:
    """One context, `c`, on a port nothing listens on."""
    context = (
        f"{{cluster: k, user: u, namespace: {namespace}}}" if namespace else "{cluster: k, user: u}"
    )
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        f"contexts: [{{name: c, context: {context}}}]\n"
    )
    return path


def test_an_unreachable_api_server_is_an_api_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The client's connection error becomes exit 6, with a message.
    kubeconfig = write_kubeconfig(tmp_path / "config", namespace="ml")
    assert main(["--kubeconfig", str(kubeconfig), "promote", "fraud"]) == 6
    err = capsys.readouterr().err
    assert err.startswith("error: modeldeployment 'fraud' in namespace ml: cannot reach the API")


def test_an_unknown_context_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", namespace=None)
    code = main(["--kubeconfig", str(kubeconfig), "--context", "nope", "get", "fraud"])
    assert code in (ExitCode.USAGE, ExitCode.API_ERROR)
    assert "nope" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("words", "expected", "absent"),
    [
        (
            [""],
            {"get", "promote", "undo", "status", "approve", "drift", "reset-breaker", "lineage"},
            {"--kubeconfig"},
        ),
        (["pro"], {"promote"}, {"pause"}),
        (["get", "--w"], {"--watch"}, set()),
        (["status", "fraud", "--t"], {"--timeout"}, {"--watch"}),
        (["undo", "fraud", "--"], {"--to-revision", "--namespace", "--kubeconfig"}, {"--full"}),
        (["get", "fraud", "-o", ""], {"json", "yaml"}, set()),
    ],
)
def test_completion_candidates(words: list[str], expected: set[str], absent: set[str]) -> None:
    found = set(completion.candidates(words))
    assert expected <= found
    assert not absent & found


def test_kubectl_completion_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    assert completion.main(["promote", "--f"]) == 0
    assert capsys.readouterr().out.splitlines() == ["--full", ":4"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_shell_code(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    assert "kubectl-modelship" in capsys.readouterr().out
