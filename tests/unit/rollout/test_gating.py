"""What a gate tells the strategy that asked: move on, wait here, or the rollout ended."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from modelship.analysis.types import GateResult, Verdict
from modelship.api.analysis import AnalysisGate
from modelship.api.modeldeployment import ModelDeploymentStatus
from modelship.api.rolloutstate import RolloutState
from modelship.rollout.draft import Draft
from modelship.rollout.gating import GateOutcome, run_gate
from modelship.rollout.types import RevisionObserved, RolloutInput
from modelship_testing.rollout_sim import spec

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def draft(verdict: Verdict | None, automatic: bool = True) -> Draft:
    status = ModelDeploymentStatus.model_validate({"stableRevision": "a", "canaryRevision": "b"})
    inp = RolloutInput(
        spec=spec(rollback={"automatic": automatic}), status=status, state=RolloutState(),
        spec_revision="b", now=NOW,
        revisions={r: RevisionObserved(r, 2, 2, 2) for r in ("a", "b")},
        gates={"g": GateResult(verdict, "m")} if verdict else {},
    )  # fmt: skip
    return Draft(inp)


@pytest.mark.parametrize(
    ("verdict", "automatic", "outcome", "phase"),
    [
        (Verdict.SUCCESSFUL, True, GateOutcome.PASSED, None),
        (Verdict.RUNNING, True, GateOutcome.WAITING, "Progressing"),
        (Verdict.INCONCLUSIVE, True, GateOutcome.WAITING, "Paused"),
        (Verdict.FAILED, True, GateOutcome.STOPPED, "RolledBack"),
        (Verdict.FAILED, False, GateOutcome.WAITING, "Degraded"),
    ],
)
def test_gate_outcomes(
    verdict: Verdict, automatic: bool, outcome: GateOutcome, phase: str | None
) -> None:
    d = draft(verdict, automatic)
    assert run_gate(d, "g", AnalysisGate(), "step 2/3: analysis") is outcome
    if phase is not None:
        assert d.phase == phase
    if outcome is GateOutcome.STOPPED:
        assert d.canary is None


def test_no_gate_passes() -> None:
    assert run_gate(draft(None), "g", None, "x") is GateOutcome.PASSED
