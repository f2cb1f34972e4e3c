"""The rollout planner: (spec, status, observed revisions, controls, analysis verdicts, now)
-> the replicas, traffic, status and events a ModelDeployment should have. No I/O.

The shape follows Argo Rollouts: this module decides which revision is stable and which is
rolling out; the strategy modules decide how the rollout moves.
"""

from __future__ import annotations

from datetime import timedelta

from modelship.api.modeldeployment import RolloutOutcome
from modelship.api.rolloutstate import RollbackTarget, RolloutStage
from modelship.api.strategy import RollingStrategy
from modelship.rollout.bluegreen import plan_blue_green
from modelship.rollout.canary import plan_canary
from modelship.rollout.draft import Draft, Phase
from modelship.rollout.finish import finish_plan
from modelship.rollout.moves import (
    StrategyOutcome,
    abort,
    record,
    start,
    supersede,
    wait_for_pods,
)
from modelship.rollout.rolling import plan_rolling
from modelship.rollout.shadow import plan_shadow
from modelship.rollout.types import RolloutInput, RolloutPlan
from modelship.rollout.window import (
    describe_window,
    end_stale_window,
    hold_service,
    run_window,
)

# A stable revision at full size waits this long for pods that are still starting (after an
# abort, a scale-up) before it is Degraded: the Deployment's default progressDeadlineSeconds.
STABLE_PODS_DEADLINE_SECONDS = 600.0


def plan_rollout(inp: RolloutInput) -> RolloutPlan:
    d = Draft(inp)
    d.events.extend(inp.control.notices)
    target = _target_revision(d)
    retried = _handle_retry_and_holds(d, target)
    end_stale_window(d, target)

    if d.stable is None or (d.stable not in inp.revisions and d.stable == target):
        _first_revision(d, target)
        return _finish(d)
    if d.stable not in inp.revisions:
        # The stable Deployment was deleted from under us and its pod template is gone with
        # it: the spec's revision takes over directly.
        d.event(
            "StableMissing",
            f"the Deployment of stable revision {d.stable} is gone; "
            f"serving revision {target} directly",
            "Warning",
        )
        supersede(d, "the stable revision's Deployment was deleted")
        d.stable = None
        _first_revision(d, target)
        return _finish(d)

    if target == d.stable:
        if d.canary is not None:
            supersede(d, "the spec returned to the stable revision")
        if not run_window(d):  # a window's rollback (or its manual hold) decided the pass
            _steady(d)
        return _finish(d)
    if d.state.held_revision == target:
        _steady(d)
        return _finish(d)

    if d.canary != target:
        if d.canary is not None:
            supersede(d, f"superseded by revision {target}")
        start(d, target, _stage_for(d), _start_reason(d, retried))
    elif inp.control.abort:
        abort(d, RolloutOutcome.ABORTED, "aborted by the modelship.io/abort annotation")
        _steady(d)
        return _finish(d)

    # The rollout ended with stable serving everything: report it as steady. A rollback
    # has already said why it stopped.
    if run_strategy(d) in (StrategyOutcome.PROMOTED, StrategyOutcome.DROPPED):
        _steady(d)
    return _finish(d)


def _finish(d: Draft) -> RolloutPlan:
    hold_service(d)
    describe_window(d)
    return finish_plan(d)


def _target_revision(d: Draft) -> str:
    """The spec's revision, unless a rollback to a revision from history is in force."""
    inp = d.inp
    rollback = d.state.rollback
    if rollback is not None and rollback.spec_revision != inp.spec_revision:
        rollback = None  # a new spec ends a rollback
        d.update_state(rollback=None)
    elif rollback is not None and rollback.revision not in inp.revisions:
        d.event(
            "RollbackEnded",
            f"the Deployment of revision {rollback.revision} is gone; "
            f"serving the spec's revision {inp.spec_revision}",
            "Warning",
        )
        rollback = None
        d.update_state(rollback=None)
    wanted = inp.control.rollback_to
    current = rollback.revision if rollback is not None else inp.spec_revision
    if wanted is not None and wanted != current:
        if wanted == inp.spec_revision:
            rollback = None
            d.update_state(rollback=None)
            d.event("RollbackEnded", f"returning to the spec's revision {wanted}")
        elif wanted not in inp.revisions:
            d.event(
                "RollbackFailed",
                f"revision {wanted} is not in history (kept revisions: "
                f"{', '.join(sorted(inp.revisions)) or 'none'})",
                "Warning",
            )
        else:
            rollback = RollbackTarget(revision=wanted, spec_revision=inp.spec_revision)
            d.update_state(rollback=rollback, held_revision=None, held_reason="")
            d.event("RollbackRequested", f"rolling back to revision {wanted}")
    return rollback.revision if rollback is not None else inp.spec_revision


def _handle_retry_and_holds(d: Draft, target: str) -> bool:
    """Release a held revision when the target moved on or a retry asks; True on a retry."""
    held = d.state.held_revision
    if held is None:
        return False
    if held != target:
        d.update_state(held_revision=None, held_reason="", held_dropped=False)
    elif d.inp.control.retry:
        d.update_state(held_revision=None, held_reason="", held_dropped=False)
        d.event("RetryRequested", f"retrying the rollout of revision {held}")
        return True
    return False


def _stage_for(d: Draft) -> RolloutStage:
    if d.state.rollback is not None:
        return RolloutStage.ROLLBACK
    kind = d.spec.strategy.kind
    return {
        "canary": RolloutStage.CANARY,
        "blueGreen": RolloutStage.PREVIEW,
        "shadow": RolloutStage.SHADOW,
    }.get(kind, RolloutStage.ROLLING)


def _start_reason(d: Draft, retried: bool) -> str:
    if d.state.rollback is not None:
        return "rollback requested"
    if retried:
        return "retry requested"
    return "spec changed"


def run_strategy(d: Draft) -> StrategyOutcome:
    """One pass of the strategy that moves the rollout in progress (a rollback from history
    rolls with full surge, whatever the spec's strategy)."""
    strategy = d.spec.strategy
    stage = d.state.stage
    if stage is RolloutStage.ROLLBACK:
        return plan_rolling(d, RollingStrategy(max_surge="100%"), reason="rollback")
    if strategy.canary is not None:
        return plan_canary(d, strategy.canary)
    if strategy.blue_green is not None:
        return plan_blue_green(d, strategy.blue_green)
    if strategy.shadow is not None:
        return plan_shadow(d, strategy.shadow)
    return plan_rolling(d, strategy.rolling or RollingStrategy())


def _first_revision(d: Draft, target: str) -> None:
    """Nothing serves yet: the first revision goes straight to all traffic (no canary of
    nothing), like the first rollout of an Argo Rollout."""
    if d.stable is None:
        d.stable = target
        d.update_state(started_at=d.now)
        d.event("Deploying", f"first revision {target} (model version {d.version_of(target)})")
    _steady(d)


def _steady(d: Draft) -> None:
    """The stable revision serves everything; report how healthy it is."""
    assert d.stable is not None
    stable = d.observed(d.stable)
    total = d.total
    keep_to_hpa = d.spec.serving.autoscaling is not None and stable.replicas > 0
    d.replicas[d.stable] = None if keep_to_hpa else total
    if d.canary is None:
        d.traffic = d.stable_traffic()
    if (
        d.phase in (Phase.ROLLED_BACK, Phase.DEGRADED)
        and d.canary is None
        and d.inp.status.phase is not d.phase
    ):
        return  # decided by this very plan (a failed gate)
    held = d.state.held_revision
    first = d.canary is None and d.state.started_at is not None
    was_steady = d.inp.status.phase in (Phase.HEALTHY, Phase.ROLLED_BACK, Phase.DEGRADED)
    full_size = stable.current and stable.replicas == total
    if stable.available >= total or not full_size:
        d.update_state(stable_short_since=None)
    elif d.state.stable_short_since is None:
        d.update_state(stable_short_since=d.now)
    short_for = (d.now - (d.state.stable_short_since or d.now)).total_seconds()
    if stable.available >= total and stable.current:
        if held is not None and not d.state.held_dropped:
            d.set_phase(
                Phase.ROLLED_BACK,
                f"revision {held} stopped: {d.state.held_reason}; "
                "stable serves all traffic (change the spec or retry)",
            )
        else:
            if d.phase is not Phase.HEALTHY and d.inp.status.phase is not Phase.HEALTHY:
                d.event("Healthy", f"revision {d.stable} serves with {total} ready pods")
            d.set_phase(
                Phase.HEALTHY,
                f"revision {d.stable} (model version {d.version_of(d.stable)}) serves all traffic",
            )
        if d.state.started_at is not None and d.canary is None and first:
            record(d, d.stable, RolloutOutcome.PROMOTED, "first revision")
            d.update_state(started_at=None)
    elif first or not full_size or (not was_steady and short_for < STABLE_PODS_DEADLINE_SECONDS):
        # Pods still starting (a stable scaled back up after an abort, say) are waited for,
        # for a while; pods lost from a stable that had them all make it Degraded at once.
        wait_for_pods(
            d, d.stable, f"revision {d.stable}: {stable.available}/{total} pods available"
        )
        if full_size and d.state.stable_short_since is not None:
            d.requeue_at(
                d.state.stable_short_since + timedelta(seconds=STABLE_PODS_DEADLINE_SECONDS)
            )
    else:
        late = "" if was_steady else f" after {STABLE_PODS_DEADLINE_SECONDS:.0f} s"
        d.set_phase(
            Phase.DEGRADED,
            f"revision {d.stable}: only {stable.available}/{total} pods available{late}",
        )
