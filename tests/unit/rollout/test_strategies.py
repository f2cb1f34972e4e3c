"""Each strategy on its own: one pass from a given situation, and what it tells the planner.

Revision `a` is stable and `b` is rolling out; a row gives the strategy, what the cluster
shows and what the analysis and the annotations say, and the outcome and phase expected.
The pass starts Progressing; a promotion leaves the phase as it was, for the planner to
report the steady state (tests/unit/rollout/test_planner.py walks that part).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.api.modeldeployment import ModelDeploymentPhase as Phase
from modelship.api.modeldeployment import ModelDeploymentStatus
from modelship.api.rolloutstate import RolloutStage, RolloutState
from modelship.rollout.draft import Draft
from modelship.rollout.moves import StrategyOutcome
from modelship.rollout.planner import run_strategy
from modelship.rollout.types import Control, GateResult, RevisionObserved, RolloutInput, Verdict
from modelship_testing.rollout_sim import spec

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
GATEWAY = {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}}
ANALYSIS = {"metrics": [{"name": "error-rate", "builtin": "errorRate", "max": 0.01}]}
FAILED = GateResult(Verdict.FAILED, "error-rate 0.2 > max 0.01")
RUNNING = GateResult(Verdict.RUNNING)
NO_CONTROL = Control()


def draft(
    strategy: dict[str, Any],
    stage: RolloutStage,
    stable: tuple[int, int] = (4, 4),
    new: tuple[int, int] = (4, 4),
    stuck: bool = False,
    step: int | None = None,
    weight: int | None = None,
    gates: dict[str, GateResult] | None = None,
    control: Control = NO_CONTROL,
    automatic: bool = True,
    background: bool = False,
    stage_age: timedelta = timedelta(0),
) -> Draft:
    """`stable` and `new`: (replicas, ready pods) of revisions `a` and `b`."""
    md = spec(
        strategy=strategy,
        analysis={**ANALYSIS, "background": background},
        rollback={"automatic": automatic},
    )
    status = ModelDeploymentStatus.model_validate(
        {
            "phase": "Progressing",
            "stableRevision": "a",
            "canaryRevision": "b",
            "currentStep": step,
            "canaryWeight": weight,
        }
    )
    started = NOW - stage_age
    state = RolloutState(stage=stage, started_at=started, stage_started_at=started)
    revisions = {
        "a": RevisionObserved("a", stable[0], stable[1], stable[1]),
        "b": RevisionObserved("b", new[0], new[1], new[1], stuck=stuck),
    }
    return Draft(
        RolloutInput(
            spec=md, status=status, state=state, spec_revision="b", revisions=revisions,
            now=NOW, control=control, gates=gates or {},
        )
    )  # fmt: skip


CANARY: dict[str, Any] = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}, {"analysis": {}}]}}
ROLLING: dict[str, Any] = {"rolling": {"maxSurge": 1, "maxUnavailable": 0}}
ROLLING_ROWS = [
    pytest.param(ROLLING, RolloutStage.ROLLING, {"new": (1, 0)},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING, id="rolling: new pods starting"),
    pytest.param(ROLLING, RolloutStage.ROLLING, {"new": (1, 0), "stuck": True},
                 StrategyOutcome.PROGRESSING, Phase.DEGRADED, id="rolling: new pods never ready"),
    pytest.param(ROLLING, RolloutStage.ROLLING, {"new": (2, 1), "control": Control(paused=True)},
                 StrategyOutcome.PROGRESSING, Phase.PAUSED, id="rolling: paused"),
    pytest.param(ROLLING, RolloutStage.ROLLING, {"new": (4, 4), "stable": (1, 1)},
                 StrategyOutcome.PROMOTED, Phase.PROGRESSING,
                 id="rolling: new pods all available"),
    # A rollback to a revision from history rolls, whatever the strategy.
    pytest.param(CANARY, RolloutStage.ROLLBACK, {"new": (4, 2)},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING, id="rollback: pods starting"),
    pytest.param(CANARY, RolloutStage.ROLLBACK, {}, StrategyOutcome.PROMOTED, Phase.PROGRESSING,
                 id="rollback: pods ready"),
]  # fmt: skip

HALF = {"stable": (2, 2), "new": (2, 2), "weight": 50}
AT_ANALYSIS = {**HALF, "step": 2}
BACKGROUND_FAILED = {**HALF, "step": 1, "background": True, "gates": {"background": FAILED}}
CANARY_ROWS = [
    pytest.param(CANARY, RolloutStage.CANARY, {"new": (0, 0), "step": 0},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING,
                 id="canary: setWeight waits for canary pods"),
    pytest.param(CANARY, RolloutStage.CANARY, {**HALF, "step": 0},
                 StrategyOutcome.PROGRESSING, Phase.PAUSED,
                 id="canary: weight reached, then the pause until promoted"),
    pytest.param(CANARY, RolloutStage.CANARY, {**AT_ANALYSIS, "gates": {"step-2": RUNNING}},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING, id="canary: analysis running"),
    pytest.param(CANARY, RolloutStage.CANARY, {**AT_ANALYSIS, "gates": {"step-2": FAILED}},
                 StrategyOutcome.ROLLED_BACK, Phase.ROLLED_BACK, id="canary: analysis failed"),
    pytest.param(CANARY, RolloutStage.CANARY,
                 {**AT_ANALYSIS, "gates": {"step-2": FAILED}, "automatic": False},
                 StrategyOutcome.PROGRESSING, Phase.DEGRADED,
                 id="canary: analysis failed, manual rollback"),
    pytest.param(CANARY, RolloutStage.CANARY, BACKGROUND_FAILED,
                 StrategyOutcome.ROLLED_BACK, Phase.ROLLED_BACK,
                 id="canary: background analysis failed"),
    pytest.param(CANARY, RolloutStage.CANARY, {**BACKGROUND_FAILED, "automatic": False},
                 StrategyOutcome.PROGRESSING, Phase.DEGRADED,
                 id="canary: background analysis failed, manual rollback"),
    pytest.param(CANARY, RolloutStage.CANARY,
                 {**HALF, "step": 1, "control": Control(promote="full")},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING,
                 id="canary: full promotion waits for canary pods"),
    pytest.param(CANARY, RolloutStage.CANARY,
                 {"stable": (0, 0), "new": (4, 4), "weight": 100, "step": 3},
                 StrategyOutcome.PROMOTED, Phase.PROGRESSING, id="canary: steps done, pods ready"),
]  # fmt: skip


def blue_green(**fields: Any) -> dict[str, Any]:
    return {"blueGreen": {"autoPromotionEnabled": False, **fields}}


PRE = blue_green(prePromotionAnalysis={})
POST = blue_green(postPromotionAnalysis={})
BLUE_GREEN_ROWS = [
    pytest.param(blue_green(), RolloutStage.PREVIEW, {"new": (4, 1)},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING,
                 id="blue-green: preview pods starting"),
    pytest.param(blue_green(), RolloutStage.PREVIEW, {}, StrategyOutcome.PROGRESSING,
                 Phase.PAUSED, id="blue-green: preview ready, waiting for promote"),
    pytest.param(PRE, RolloutStage.PREVIEW, {"gates": {"prePromotion": RUNNING}},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING,
                 id="blue-green: pre-promotion analysis running"),
    pytest.param(PRE, RolloutStage.PREVIEW, {"gates": {"prePromotion": FAILED}},
                 StrategyOutcome.ROLLED_BACK, Phase.ROLLED_BACK,
                 id="blue-green: pre-promotion analysis failed"),
    pytest.param(blue_green(), RolloutStage.PREVIEW, {"control": Control(promote="step")},
                 StrategyOutcome.PROMOTED, Phase.PROGRESSING,
                 id="blue-green: promoted, pods ready"),
    pytest.param(POST, RolloutStage.SWITCHED, {"gates": {"postPromotion": RUNNING}},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING,
                 id="blue-green: switched, post-promotion analysis running"),
    pytest.param(POST, RolloutStage.SWITCHED, {"gates": {"postPromotion": FAILED}},
                 StrategyOutcome.ROLLED_BACK, Phase.ROLLED_BACK,
                 id="blue-green: switched, post-promotion analysis failed"),
    pytest.param(POST, RolloutStage.SWITCHED,
                 {"gates": {"postPromotion": FAILED}, "automatic": False},
                 StrategyOutcome.PROGRESSING, Phase.DEGRADED,
                 id="blue-green: switched, post-promotion failed, manual rollback"),
    pytest.param(blue_green(), RolloutStage.SWITCHED, {}, StrategyOutcome.PROMOTED,
                 Phase.PROGRESSING, id="blue-green: switched, nothing to analyse"),
]  # fmt: skip


def shadow(**fields: Any) -> dict[str, Any]:
    then = {"canary": {"steps": [{"pause": {}}]}} if fields.get("then") != "drop" else {}
    return {"shadow": {"traffic": GATEWAY, "duration": "10m", **then, **fields}}


OVER = timedelta(minutes=11)
SHADOW_ROWS = [
    pytest.param(shadow(), RolloutStage.SHADOW, {"new": (4, 1)},
                 StrategyOutcome.PROGRESSING, Phase.PROGRESSING, id="shadow: pods starting"),
    pytest.param(shadow(), RolloutStage.SHADOW, {}, StrategyOutcome.PROGRESSING,
                 Phase.PROGRESSING, id="shadow: mirroring until the duration ends"),
    pytest.param(shadow(analysis={}), RolloutStage.SHADOW,
                 {"stage_age": OVER, "gates": {"shadow": FAILED}},
                 StrategyOutcome.ROLLED_BACK, Phase.ROLLED_BACK, id="shadow: analysis failed"),
    pytest.param(shadow(then="drop"), RolloutStage.SHADOW, {"stage_age": OVER},
                 StrategyOutcome.DROPPED, Phase.HEALTHY, id="shadow: finished, dropped"),
    pytest.param(shadow(), RolloutStage.SHADOW, {"stage_age": OVER},
                 StrategyOutcome.PROGRESSING, Phase.PAUSED,
                 id="shadow: finished, on to the canary's pause"),
    pytest.param(shadow(), RolloutStage.CANARY, {"stable": (0, 0), "weight": 100, "step": 1},
                 StrategyOutcome.PROMOTED, Phase.PROGRESSING, id="shadow: canary steps done"),
]  # fmt: skip

# Which revision holds each role once the strategy has said what happened.
ROLES = {
    StrategyOutcome.PROGRESSING: ("a", "b"),
    StrategyOutcome.PROMOTED: ("b", None),
    StrategyOutcome.ROLLED_BACK: ("a", None),
    StrategyOutcome.DROPPED: ("a", None),
}


@pytest.mark.parametrize(
    ("strategy", "stage", "situation", "outcome", "phase"),
    [*ROLLING_ROWS, *CANARY_ROWS, *BLUE_GREEN_ROWS, *SHADOW_ROWS],
)
def test_strategy_outcome(
    strategy: dict[str, Any],
    stage: RolloutStage,
    situation: dict[str, Any],
    outcome: StrategyOutcome,
    phase: Phase,
) -> None:
    d = draft(strategy, stage, **situation)
    assert run_strategy(d) is outcome
    assert d.phase is phase
    assert (d.stable, d.canary) == ROLES[outcome]
