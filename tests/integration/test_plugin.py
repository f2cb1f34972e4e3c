"""`kubectl modelship` against the real operator on the local cluster: every command changes
what the operator does and says what a person needs, `status` exits as CI expects, and the
`--watch` view is redrawn in place in a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from modelship_testing.cluster import binary
from modelship_testing.fixtures import OperatorFactory
from modelship_testing.objects import ModelDeployments
from modelship_testing.serving import FEATURES
from modelship_testing.stands import SHIFT, DriftStand, RetrainLoop
from modelship_testing.terminal import CTRL_C, PseudoTerminal
from modelship_testing.waiters import diagnostic, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("crds")]

BIN = Path(sys.executable).parent
PLUGIN = BIN / "kubectl-modelship"
STEPS = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}}


@dataclass
class Plugin:
    """`kubectl-modelship` (the installed entry point) against the test cluster."""

    kubeconfig: str
    namespace: str

    def argv(self, *args: str) -> list[str]:
        return [str(PLUGIN), "--kubeconfig", self.kubeconfig, "-n", self.namespace, *args]

    def __call__(self, *args: str, code: int = 0, timeout: float = 120) -> str:
        """Run it; check its exit code; its standard output (with standard error after)."""
        done = subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
        said = done.stdout + done.stderr
        assert done.returncode == code, f"{args} exited {done.returncode}:\n{said}"
        return said

    def start(self, *args: str) -> tuple[subprocess.Popen[str], str]:
        """Start it in the background; once it has printed its first line, return that too."""
        proc = subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        assert proc.stdout is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert first, f"{args} printed nothing in 60s"
        return proc, first[0]


def line_with(output: str, needle: str) -> str:
    found = [line.rstrip() for line in output.splitlines() if needle in line]
    assert len(found) == 1, f"{needle!r} on {len(found)} lines of:\n{output}"
    return found[0]


def row(output: str, first: str) -> list[str]:
    """The words of the one line whose first word is `first` (a table row)."""
    found = [line.split() for line in output.splitlines() if line.split()[:1] == [first]]
    assert len(found) == 1, f"{len(found)} rows start with {first!r} in:\n{output}"
    return found[0]


@pytest.fixture
def plugin(kubeconfig: str, namespace: str) -> Plugin:
    return Plugin(kubeconfig, namespace)


@pytest.fixture
def mds(k8s_api: client.ApiClient, namespace: str) -> ModelDeployments:
    return ModelDeployments(k8s_api, namespace)


def model(version: str) -> dict[str, Any]:
    return {"name": "fraud", "version": version, "uri": f"s3://models/fraud/{version}/"}


def paused_canary(mds: ModelDeployments, operator: OperatorFactory, replicas: int = 4,
                  strategy: dict[str, Any] | None = None) -> tuple[str, str]:  # fmt: skip
    """fraud serving version 1, with a canary of version 2 paused at its first pause step:
    (stable revision, canary revision), every pod ready."""
    operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": model("1"), "serving": {"replicas": replicas},
                         "strategy": strategy or STEPS})  # fmt: skip
    old = mds.wait_phase("fraud", "Healthy")["stableRevision"]
    mds.set_version("fraud", "2")
    new = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
    wait_for(lambda: all(ready == want for want, ready in mds.replicas("fraud").values()
                         if want), timeout=30, describe="every pod ready")  # fmt: skip
    return old, new


def test_kubectl_finds_and_completes_the_plugin(kubeconfig: str) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "KUBECONFIG": kubeconfig}  # fmt: skip
    kubectl = str(binary("kubectl"))

    def run(*args: str) -> str:
        done = subprocess.run([kubectl, *args], capture_output=True, text=True, env=env,
                              timeout=60, check=True)  # fmt: skip
        return done.stdout

    assert run("modelship", "version").strip() == "0.1.0"
    assert str(PLUGIN) in run("plugin", "list")
    assert "promote" in run("__complete", "modelship", "pro").splitlines()


def test_get_and_promote_walk_a_canary(
    plugin: Plugin, mds: ModelDeployments, operator: OperatorFactory
) -> None:
    old, new = paused_canary(mds, operator)
    shown = plugin("get", "fraud")
    assert line_with(shown, "Status:").split() == ["Status:", "॥", "Paused"]
    assert line_with(shown, "2  pause (until promoted)").startswith("►  2")
    assert line_with(shown, "setWeight 25%").startswith("✔  1")
    assert line_with(shown, "Weight:").split()[1:] == ["canary", "25%,", "stable", "75%"]
    assert row(shown, new)[:4] == [new, "canary", "2", "1/1"]
    assert row(shown, old)[:4] == [old, "stable", "1", "3/3"]
    assert len([line for line in shown.splitlines() if f"fraud-{old}-" in line]) == 3
    document = json.loads(plugin("get", "fraud", "-o", "json"))
    assert [s["state"] for s in document["steps"]] == ["done", "current", "pending", "pending"]
    assert (document["canaryRevision"], document["step"], document["canaryWeight"]) == (
        new, "2/4", 25,
    )  # fmt: skip

    said = plugin("promote", "fraud")
    assert said.strip() == "modeldeployment 'fraud' promoted: step 2/4 ends"
    mds.wait_phase("fraud", "Paused", currentStep=3)
    shown = plugin("get", "fraud")
    assert line_with(shown, "setWeight 50%").startswith("✔  3")
    assert line_with(shown, "  4  pause (until promoted)").startswith("►")
    assert line_with(shown, "Weight:").split()[1:] == ["canary", "50%,", "stable", "50%"]

    assert "skipping every remaining step" in plugin("promote", "fraud", "--full")
    mds.wait_phase("fraud", "Healthy", stableRevision=new)
    said = plugin("promote", "fraud", code=5)
    assert "nothing to promote: modeldeployment 'fraud' is Healthy" in said
    listed = plugin("get")
    assert row(listed, "fraud")[:4] == ["fraud", "canary", "✔", "Healthy"]
    everywhere = json.loads(plugin("get", "-A", "-o", "json"))
    assert {(r["namespace"], r["name"], r["version"]) for r in everywhere} >= {
        (mds.namespace, "fraud", "2")
    }
    assert "modeldeployment 'nope' in namespace" in plugin("promote", "nope", code=4)


def test_pause_holds_a_canary_and_resume_releases_it(
    plugin: Plugin, mds: ModelDeployments, operator: OperatorFactory
) -> None:
    paused_canary(mds, operator)
    assert plugin("pause", "fraud").strip() == "modeldeployment 'fraud' paused"
    mds.wait("fraud", lambda s: "paused by the modelship.io/paused annotation" in s["message"],
             "the pause to be reported")  # fmt: skip
    assert "by annotation (kubectl modelship resume)" in line_with(
        plugin("get", "fraud"), "Paused:"
    )

    said = plugin("resume", "fraud")
    assert "resumed; a pause step (step 2/4) still waits for `kubectl modelship promote" in said
    assert "modelship.io/paused" not in mds.get("fraud")["metadata"].get("annotations", {})
    mds.wait("fraud", lambda s: s["message"].startswith("step 2/4: paused until promoted"),
             "the pause step to hold it again")  # fmt: skip

    plugin("pause", "fraud")
    said = plugin("promote", "fraud")  # as Argo Rollouts' promote, it also lifts the pause
    assert "(and resumed: modelship.io/paused removed)" in said
    mds.wait_phase("fraud", "Paused", currentStep=3)


def test_status_exits_as_ci_expects_and_abort_and_retry_act(
    plugin: Plugin, mds: ModelDeployments, operator: OperatorFactory
) -> None:
    strategy = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}
    paused_canary(mds, operator, replicas=2, strategy=strategy)
    assert line_with(plugin("status", "fraud", "--no-watch", code=3), "Paused:")
    said = plugin("status", "fraud", "--timeout", "2s", code=3)
    assert "error: timed out after 2s: modeldeployment 'fraud' is still Paused" in said

    waiting, first = plugin.start("status", "fraud", "--timeout", "90s")
    assert first.split()[1] == "Paused:", first  # it waits...
    plugin("promote", "fraud", "--full")
    out, _ = waiting.communicate(timeout=100)
    assert waiting.returncode == 0, out  # ...until the rollout ends Healthy
    assert out.splitlines()[-1].split()[1] == "Healthy:", out
    assert plugin("status", "fraud").split()[1] == "Healthy:"  # already Healthy: at once

    mds.set_version("fraud", "3")
    third = mds.wait_phase("fraud", "Paused", currentStep=1)["canaryRevision"]
    waiting, first = plugin.start("status", "fraud", "--timeout", "90s")
    assert first.split()[1] == "Paused:", first
    said = plugin("abort", "fraud")
    assert said.strip() == "modeldeployment 'fraud' aborted: all traffic returns to stable"
    out, _ = waiting.communicate(timeout=100)
    assert waiting.returncode == 1, out
    assert out.splitlines()[-1].split()[1] == "RolledBack:", out
    assert "nothing to abort" in plugin("abort", "fraud", code=5)
    shown = plugin("get", "fraud")
    assert f"held {third} (kubectl modelship retry fraud)" in line_with(shown, "Revisions:")

    assert f"retried: revision {third} rolls out again" in plugin("retry", "fraud")
    mds.wait_phase("fraud", "Paused", currentStep=1, canaryRevision=third)
    assert "nothing to retry" in plugin("retry", "fraud", code=5)

    # A spec the API server refuses ends Failed: exit 1 as well.
    template = {"spec": {"containers": [{"name": "server", "ports": [{"containerPort": 99999}]}]}}
    mds.patch("fraud", {"spec": {"serving": {"template": template}}})
    said = plugin("status", "fraud", "--timeout", "60s", code=1)
    assert said.splitlines()[-1].split()[1] == "Failed:", said


def test_undo_returns_to_earlier_revisions_that_history_lists(
    plugin: Plugin, mds: ModelDeployments, operator: OperatorFactory
) -> None:
    operator(namespaces=[mds.namespace])
    mds.create("fraud", {"model": model("1"), "serving": {"replicas": 2}})
    revisions = [mds.wait_phase("fraud", "Healthy")["stableRevision"]]
    for version in ("2", "3"):
        mds.set_version("fraud", version)
        revisions.append(mds.wait(
            "fraud", lambda s: s.get("phase") == "Healthy" and s["stableRevision"] not in revisions,
            f"version {version} to serve",
        )["stableRevision"])  # fmt: skip
    first, second, third = revisions
    history = plugin("history", "fraud")
    rows = [line.split() for line in history.splitlines()[1:4]]
    assert [(r[0], r[1]) for r in rows] == [("1", first), ("2", second), ("3", third)]
    assert "(serving)" in line_with(history, third)

    assert plugin("undo", "fraud").strip() == (
        f"modeldeployment 'fraud' rolling back to revision {second}"
    )
    mds.wait_phase("fraud", "Healthy", stableRevision=second)
    entries = json.loads(plugin("history", "fraud", "-o", "json"))
    assert [e["revision"] for e in entries if e["serving"]] == [second]
    plugin("undo", "fraud", "--to-revision", "1")
    mds.wait_phase("fraud", "Healthy", stableRevision=first)
    said = plugin("undo", "fraud", "--to-revision", "42", code=4)
    assert "no revision '42' in the history of modeldeployment 'fraud'" in said
    entries = yaml.safe_load(plugin("history", "fraud", "-o", "yaml"))
    assert [e["modelVersion"] for e in entries][:3] == ["1", "2", "3"]
    assert [e["revision"] for e in entries if e["serving"]] == [first]


def test_retrain_starts_a_run_that_approve_promotes_and_reject_drops(
    plugin: Plugin, retrain_loop: RetrainLoop, operator: OperatorFactory
) -> None:
    retrain_loop.start(operator, promotion="manual")
    said = plugin("retrain", "fraud")  # the ModelDeployment's one policy
    assert "retrainpolicy 'fraud-retrain': run requested" in said
    assert "run fraud-retrain-1 started: version 1 -> 1-r1, Job fraud-retrain-1" in said
    retrain_loop.ended("AwaitingApproval", timeout=180)
    shown = plugin("get", "fraud")
    run_line = " ".join(row(shown, "fraud-retrain-1"))
    assert "AwaitingApproval" in run_line
    assert "kubectl modelship approve fraud-retrain-1" in run_line

    said = plugin("approve", "fraud-retrain-1")
    assert "run fraud-retrain-1 approved: version 1-r1 is written to its ModelDeployment" in said
    assert "run fraud-retrain-1 is Promoting" in said
    assert retrain_loop.mds.get("fraud")["spec"]["model"]["version"] == "1-r1"
    retrain_loop.ended("Promoted", timeout=120)
    assert "is Promoted, not AwaitingApproval" in plugin("approve", "fraud-retrain-1", code=5)
    # lineage: the chain `modelship lineage` prints, through the plugin.
    chain = json.loads(plugin("lineage", "fraud", "-o", "json"))
    assert [(e["version"], e.get("run")) for e in chain] == [
        ("1-r1", "fraud-retrain/fraud-retrain-1"), ("1", None)]  # fmt: skip
    assert (chain[0]["trigger"], chain[0]["runOutcome"]) == ("manual", "Promoted")
    assert row(plugin("lineage", "fraud"), "1-r1")[:4] == [
        "1-r1", "yes", "Promoted", "fraud-retrain/fraud-retrain-1"]  # fmt: skip
    assert "not found" in plugin("lineage", "nope", code=4)

    assert "run fraud-retrain-2 started" in plugin("retrain", "fraud-retrain")
    retrain_loop.ended("AwaitingApproval", timeout=180)
    said = plugin("retrain", "fraud", code=5)
    assert "run fraud-retrain-2 is AwaitingApproval (concurrency Forbid)" in said
    said = plugin("reject", "fraud-retrain-2")
    assert "run fraud-retrain-2 rejected: never deployed" in said
    assert "run fraud-retrain-2 is Cancelled" in said
    assert retrain_loop.mds.get("fraud")["spec"]["model"]["version"] == "1-r1"
    assert "no RetrainPolicy here has a run 'fraud-retrain-9'" in plugin(
        "approve", "fraud-retrain-9", code=4
    )


@pytest.mark.prometheus
def test_drift_reports_what_the_monitor_measured(
    plugin: Plugin, stand: DriftStand, operator: OperatorFactory
) -> None:
    stand.start(operator)
    stand.wait_drifted("False", timeout=90)
    report = plugin("drift", "fraud-drift")
    assert line_with(report, "Drifted:").split() == ["Drifted:", "False", "(NoDrift)"]
    header = report.splitlines().index("Features (most drifted first)")
    shown = {line.split()[0] for line in report.splitlines()[header + 2 :] if line.strip()}
    assert set(FEATURES) <= shown
    assert "predictions in the window" in line_with(report, "Evaluated:")

    stand.traffic.shift = dict(SHIFT)
    stand.wait_drifted("True", timeout=60, reason="DatasetDrift")
    report = plugin("drift", "fraud")  # the ModelDeployment's one monitor
    assert line_with(report, "Drifted:").split() == ["Drifted:", "True", "(DatasetDrift)"]
    rows = report.splitlines()[report.splitlines().index("Features (most drifted first)") + 2 :]
    top = [row.split() for row in rows[: len(SHIFT)]]
    assert {r[0] for r in top} == set(SHIFT)
    assert all("critical" in r for r in top)
    assert "drifted" in line_with(report, "Dataset drift:")
    document = json.loads(plugin("drift", "fraud-drift", "-o", "json"))
    assert [f["name"] for f in document["features"]] == [
        f["name"] for f in stand.status()["features"]
    ]
    assert "Drift fraud-drift  ✖ Drifted  Drifted=True" in plugin("get", "fraud")
    assert row(plugin("drift"), "fraud-drift")[:5] == [
        "fraud-drift", "fraud", "✖", "Drifted", "True",
    ]  # fmt: skip


def test_watch_redraws_the_view_in_place_in_a_terminal(
    plugin: Plugin, mds: ModelDeployments, operator: OperatorFactory
) -> None:
    paused_canary(mds, operator)
    terminal = PseudoTerminal(plugin.argv("get", "fraud", "--watch"), os.environ)
    try:
        with diagnostic("the terminal's screen", terminal.text):
            screen = terminal.wait_for_screen(
                lambda s: any(line.startswith("►  2  pause (until promoted)") for line in s),
                "the current step on screen",
            )
            header = [i for i, line in enumerate(screen) if line.startswith("Name:")]
            assert len(header) == 1, screen
            plugin("promote", "fraud")
            screen = terminal.wait_for_screen(
                lambda s: any(line.startswith("►  4  pause (until promoted)") for line in s),
                "the next pause step marked current",
            )
            # Redrawn in place: one view, its first line where it was, the old step done.
            assert [i for i, line in enumerate(screen) if line.startswith("Name:")] == header
            assert any(line.startswith("✔  2  pause (until promoted)") for line in screen)
            assert not any(line.startswith("►  2") for line in screen)
            assert line_with("\n".join(screen), "Weight:").split()[1:3] == ["canary", "50%,"]
            terminal.type(CTRL_C)
            assert terminal.wait() == 0
            assert any(line.startswith("►  4") for line in terminal.lines())  # the last view stays
    finally:
        terminal.close()


def test_watch_fits_a_short_terminal_and_scrolls(
    plugin: Plugin, mds: ModelDeployments, operator: OperatorFactory
) -> None:
    paused_canary(mds, operator)
    rows = 12
    assert len(plugin("get", "fraud").splitlines()) > rows  # taller than this terminal
    terminal = PseudoTerminal(plugin.argv("get", "fraud", "--watch"), os.environ, rows=rows)
    try:
        with diagnostic("the terminal's screen", terminal.text):
            first = terminal.wait_for_screen(
                lambda s: any("lines below" in line for line in s), "the view cut with a footer"
            )
            assert first[0].startswith("Name:")
            footer = next(i for i, line in enumerate(first) if "lines below" in line)
            assert footer == rows - 2  # one row short of the screen, so redraws stay in place
            terminal.type(b"jj")
            screen = terminal.wait_for_screen(
                lambda s: any("2 lines above" in line for line in s), "the view scrolled by two"
            )
            assert screen[0] == first[2]
            terminal.type(b"q")
            assert terminal.wait() == 0
    finally:
        terminal.close()
