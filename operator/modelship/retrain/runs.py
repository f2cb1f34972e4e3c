"""The RetrainPolicy planner: (spec, status, what the triggers and the cluster show, now) ->
the next status, the Job to create or delete, the promotion to write, and Events. Pure.

A run moves Running [-> Evaluating] -> (Failed | Rejected | Succeeded | AwaitingApproval ->
Promoting) and Promoting -> (Promoted | RolledBack). Evaluating is the independent evaluation
Job (validation.job). A run is written to status before each of its Jobs is created, and each
Job's name follows from the run's, so a restart at any point finds the run and never makes a
second Job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from modelship.api.modeldeployment import Model, RolloutOutcome
from modelship.api.retrainpolicy import (
    Concurrency,
    PromotedModel,
    Promotion,
    PromotionTarget,
    RetrainPolicySpec,
    RetrainPolicyStatus,
    RetrainRun,
    RunEvaluation,
    RunOutcome,
    TriggerKind,
)
from modelship.api.types import parse_duration
from modelship.retrain.jobs import (
    JobObserved,
    ServingModel,
    evaluation_job_name,
    evaluation_manifest,
    evaluation_output_uri,
    job_manifest,
    new_version,
    output_uri,
    run_name,
)
from modelship.retrain.promoted import active_promotion
from modelship.retrain.result import ResultError, TrainerResult, parse_evaluation, parse_result
from modelship.retrain.serving import SERVING
from modelship.retrain.triggers import (
    Request,
    manual_request,
    monitor_signals,
    schedule_due,
)

ANNOTATION_APPROVE = "modelship.io/approve"
ANNOTATION_REJECT = "modelship.io/reject"
ANNOTATION_RESET_BREAKER = "modelship.io/reset-breaker"
# A run whose Job is not there this long after the run started lost its Job (deleted, or
# never created): it ends Cancelled instead of waiting forever.
JOB_GRACE_SECONDS = 60.0
# While a Job runs the policy is woken by the Job's changes; this is the fallback look.
RUNNING_RECHECK_SECONDS = 30.0
# The Job controller creates a pod within a second or two; none this long after the run (or
# its evaluation) started means something refuses them (admission, quota): said in status.
NO_POD_SECONDS = 30.0
# Termination messages this long were cut by the kubelet (its limit is 4096 bytes).
TRUNCATED_MESSAGE_BYTES = 4000
RESULT_FILE = "result.json"
ACTIVE = {RunOutcome.RUNNING, RunOutcome.EVALUATING, RunOutcome.AWAITING_APPROVAL,
          RunOutcome.PROMOTING}  # fmt: skip
EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Verdict:
    """What validation said of a candidate."""

    passed: bool
    message: str


Validate = Callable[[RetrainPolicySpec, TrainerResult], Verdict]


@dataclass(frozen=True)
class PromotionWrite:
    """Promote the candidate (promotion auto, or an approval): its profile ConfigMap, and
    its model into the ModelDeployment's spec.model (promotionTarget spec) or into the
    policy's status.promoted, which the plan's status already holds (policyStatus)."""

    run: str
    version: str
    uri: str
    profile_uri: str | None
    profile_config_map: str | None
    into_spec: bool = True
    replaces: PromotedModel | None = None
    """status.promoted before this promotion, restored if its writes are refused."""


@dataclass(frozen=True)
class PolicyInput:
    spec: RetrainPolicySpec
    status: RetrainPolicyStatus
    policy: Mapping[str, Any]
    """The RetrainPolicy object (metadata: name, namespace, uid, annotations, generation)."""
    now: datetime
    monitors: Mapping[str, Mapping[str, Any]]
    """DriftMonitor objects (spec and status) by name."""
    serving: ServingModel | None
    """What the ModelDeployment serves; None when it serves nothing yet."""
    rollouts: Mapping[str, str]
    """Model version -> the outcome of its rollout (Promoted, RolledBack, Aborted, ...), from
    the ModelDeployment's history, plus Serving for the version its stable revision serves."""
    jobs: Mapping[str, JobObserved]
    """Jobs of this policy by name."""
    spec_model: Model | None = None
    """The ModelDeployment's spec.model now (None: it is gone or unreadable)."""
    results: Mapping[str, str | None] = field(default_factory=dict)
    """URI of a result.json -> its text (None: unreadable), for Jobs that left no termination
    message (or one cut at the kubelet's limit)."""
    validate: Validate | None = None


@dataclass
class PolicyPlan:
    status: RetrainPolicyStatus
    create_job: dict[str, Any] | None = None
    delete_jobs: list[str] = field(default_factory=list)
    promote: PromotionWrite | None = None
    events: list[tuple[EventType, str, str]] = field(default_factory=list)
    requeue_after: float | None = None
    read_results: list[str] = field(default_factory=list)
    """URIs of result.json files to read before the Jobs that wrote them can be judged."""

    def look_again_in(self, seconds: float) -> None:
        """Ask for another pass after `seconds`, or sooner if something else asked."""
        self.requeue_after = min(self.requeue_after or seconds, seconds)


def _seconds(duration: str) -> float:
    return parse_duration(duration).total_seconds()


def _replace_run(status: RetrainPolicyStatus, run: RetrainRun) -> RetrainPolicyStatus:
    runs = [run if r.name == run.name else r for r in status.runs or []]
    return status.model_copy(update={"runs": runs})


def _active(status: RetrainPolicyStatus) -> RetrainRun | None:
    if not status.active_run:
        return None
    return next(
        (r for r in status.runs or [] if r.name == status.active_run and r.outcome in ACTIVE),
        None,
    )


def _finish(plan: PolicyPlan, run: RetrainRun, outcome: RunOutcome, message: str,
            now: datetime, **fields: Any) -> RetrainRun:  # fmt: skip
    """End (or advance) a run; keeps the breaker's count of rejections in a row."""
    done = run.model_copy(update={"outcome": outcome, "message": message[:1024], **fields})
    if outcome not in ACTIVE:
        done = done.model_copy(update={"finished_at": now})
    status = _replace_run(plan.status, done)
    update: dict[str, Any] = {}
    if outcome not in ACTIVE:
        update["active_run"] = None
    if outcome in (RunOutcome.REJECTED, RunOutcome.FAILED):
        update["rejections_in_a_row"] = status.rejections_in_a_row + 1
    elif outcome in (RunOutcome.SUCCEEDED, RunOutcome.AWAITING_APPROVAL, RunOutcome.PROMOTING):
        update["rejections_in_a_row"] = 0
    plan.status = status.model_copy(update=update)
    kind: EventType = "Warning" if outcome in (RunOutcome.FAILED, RunOutcome.REJECTED,
                                               RunOutcome.ROLLED_BACK) else "Normal"  # fmt: skip
    plan.events.append((kind, f"Run{outcome}", f"run {run.name}: {message}"[:1024]))
    return done


def _reported(inp: PolicyInput, plan: PolicyPlan, job: JobObserved, uri: str
              ) -> tuple[bool, str | None]:  # fmt: skip
    """(whether it is known yet, the text) of what a finished Job reported: its termination
    message, or result.json at `uri` when it left none, or one the kubelet cut at its
    4096-byte limit (result.json holds it whole)."""
    text = job.termination_message
    truncated = bool(text) and len(text or "") >= TRUNCATED_MESSAGE_BYTES
    if text and text.strip() and not truncated:
        return True, text
    if uri not in inp.results:
        plan.read_results.append(uri)
        return False, None
    return True, inp.results[uri] or (text if truncated else None)


def _judge(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun, job: JobObserved) -> None:
    """A finished training Job: read its result, then evaluate or validate it."""
    known, text = _reported(inp, plan, job, output_uri(inp.spec, run.new_version) + RESULT_FILE)
    if not known:
        return
    try:
        result = parse_result(text)
    except ResultError as err:
        _finish(plan, run, RunOutcome.FAILED, str(err), inp.now)
        return
    data = result.data
    lineage = f"{data.get('uri', '')} ({data['rows']} rows)" if "rows" in data else ""
    run = run.model_copy(update={
        "metrics": result.metrics,
        "baseline_metrics": result.baseline_metrics,
        "artifact_uri": result.artifact_uri,
        "profile_uri": result.profile_uri,
        "data": lineage[:1024],
    })  # fmt: skip
    if inp.spec.validation is not None and inp.spec.validation.job is not None:
        _evaluate(inp, plan, run, result)
    else:
        _decide(inp, plan, run, result)


def _evaluate(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun, result: TrainerResult) -> None:
    """Start the independent evaluation (validation.job): the trainer's own metrics are kept
    as its claim, never judged."""
    assert inp.spec.validation is not None and inp.spec.validation.job is not None
    held_out = inp.spec.validation.job.held_out_uri or result.held_out_uri
    if not held_out:
        _finish(plan, run, RunOutcome.FAILED, "validation.job has no data to evaluate on: set "
                "validation.job.heldOutURI, or have the trainer report data.heldOutURI",
                inp.now)  # fmt: skip
        return
    evaluation = RunEvaluation(job_name=evaluation_job_name(run.name), started_at=inp.now,
                               held_out_uri=held_out, trainer_metrics=result.metrics)  # fmt: skip
    run = run.model_copy(update={"evaluation": evaluation, "metrics": None,
                                 "baseline_metrics": None})  # fmt: skip
    _finish(plan, run, RunOutcome.EVALUATING, _evaluating(evaluation), inp.now)
    plan.create_job = evaluation_manifest(inp.policy, inp.spec, run, inp.serving)


def _judge_evaluation(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun,
                      job: JobObserved) -> None:  # fmt: skip
    """A finished evaluation Job: its metrics, not the trainer's, are validated."""
    uri = evaluation_output_uri(inp.spec, run.new_version) + RESULT_FILE
    known, text = _reported(inp, plan, job, uri)
    if not known:
        return
    try:
        measured = parse_evaluation(text)
    except ResultError as err:
        _finish(plan, run, RunOutcome.FAILED, f"the evaluation Job's result: {err}", inp.now)
        return
    run = run.model_copy(update={"metrics": measured.metrics,
                                 "baseline_metrics": measured.baseline_metrics})  # fmt: skip
    result = TrainerResult(
        metrics=measured.metrics, baseline_metrics=measured.baseline_metrics,
        artifact_uri=run.artifact_uri or "", profile_uri=run.profile_uri,
        baseline_error=measured.baseline_error, slices=measured.slices,
        baseline_slices=measured.baseline_slices,
    )  # fmt: skip
    _decide(inp, plan, run, result)


def _decide(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun, result: TrainerResult) -> None:
    """Validate the metrics, then reject, record, wait for approval or promote."""
    verdict = inp.validate(inp.spec, result) if inp.validate else Verdict(True, "no validation")
    if not verdict.passed:
        reason = verdict.message.removeprefix("rejected: ")
        _finish(plan, run, RunOutcome.REJECTED, f"rejected: {reason}", inp.now,
                validation=verdict.message[:1024])  # fmt: skip
        return
    run = run.model_copy(update={"validation": verdict.message[:1024]})
    promotion = inp.spec.promotion
    if promotion is Promotion.NONE:
        _finish(plan, run, RunOutcome.SUCCEEDED, f"validated ({verdict.message}); promotion "
                "none: recorded only", inp.now)  # fmt: skip
    elif promotion is Promotion.MANUAL:
        _finish(plan, run, RunOutcome.AWAITING_APPROVAL, f"validated ({verdict.message}); "
                f"approve with {ANNOTATION_APPROVE}={run.name}", inp.now)  # fmt: skip
    else:
        _promote(inp, plan, run, f"validated ({verdict.message})")


def _promote(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun, why: str) -> None:
    md = inp.spec.model_deployment_ref
    config_map = f"{md}-{run.new_version}-profile"[:253] if run.profile_uri else None
    into_spec = inp.spec.promotion_target is PromotionTarget.SPEC
    if not into_spec and inp.spec_model is None:
        _finish(plan, run, RunOutcome.FAILED, f"{why}; not promoted: ModelDeployment {md} is "
                "gone", inp.now)  # fmt: skip
        return
    plan.promote = PromotionWrite(run.name, run.new_version, run.artifact_uri or "",
                                  run.profile_uri, config_map, into_spec,
                                  plan.status.promoted)  # fmt: skip
    where = f"written to ModelDeployment {md}"
    if not into_spec:
        assert inp.spec_model is not None
        promoted = PromotedModel(run=run.name, version=run.new_version,
                                 uri=run.artifact_uri or "", profile_config_map=config_map,
                                 based_on=inp.spec_model, promoted_at=inp.now)  # fmt: skip
        plan.status = plan.status.model_copy(update={"promoted": promoted})
        where = (f"recorded in status.promoted: ModelDeployment {md} serves it over its "
                 f"spec.model (version {inp.spec_model.version}), which is not edited")  # fmt: skip
    _finish(plan, run, RunOutcome.PROMOTING, f"{why}; version {run.new_version} {where}: its "
            "gated rollout decides", inp.now, promoted=True,
            profile_config_map=config_map)  # fmt: skip


def _desired_version(inp: PolicyInput, status: RetrainPolicyStatus) -> str | None:
    """The version the ModelDeployment is asked to serve: its spec.model's, or this policy's
    promotion over it (promotionTarget policyStatus)."""
    if inp.spec_model is None:
        return None
    promoted = None
    if inp.spec.promotion_target is PromotionTarget.POLICY_STATUS:
        promoted = active_promotion(status.promoted, inp.spec_model)
    return promoted.version if promoted is not None else inp.spec_model.version


def _end_promotion(inp: PolicyInput, plan: PolicyPlan) -> None:
    """A promotion in status serves only over the spec.model it was based on: once that
    changes (a person, Git) it ends for good, so changing spec.model back never revives it.
    A policy that promotes into the spec keeps no promotion in its status."""
    promoted = plan.status.promoted
    if promoted is None:
        return
    if inp.spec.promotion_target is PromotionTarget.SPEC:
        plan.status = plan.status.model_copy(update={"promoted": None})
        return
    spec_model = inp.spec_model
    if promoted.ended or spec_model is None or promoted.based_on == spec_model:
        return
    ended = (f"spec.model changed to version {spec_model.version} at {inp.now.isoformat()}: "
             "it serves instead")  # fmt: skip
    plan.status = plan.status.model_copy(
        update={"promoted": promoted.model_copy(update={"ended": ended})}
    )
    plan.events.append(("Normal", "PromotionEnded", f"version {promoted.version} of run "
                        f"{promoted.run}: {ended}"))  # fmt: skip


def _follow(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun) -> None:
    """A run in its rollout: Promoted once the version serves, RolledBack if it was."""
    outcome = inp.rollouts.get(run.new_version)
    if outcome in (SERVING, RolloutOutcome.PROMOTED):
        _finish(plan, run, RunOutcome.PROMOTED, f"version {run.new_version} serves", inp.now)
    elif outcome is not None:  # RolledBack, Aborted, Superseded, Dropped
        _finish(plan, run, RunOutcome.ROLLED_BACK,
                f"the rollout of version {run.new_version} ended {outcome}", inp.now)  # fmt: skip
    elif (desired := _desired_version(inp, plan.status)) is not None and (
        desired != run.new_version
    ):
        # Reverted (a GitOps sync) or replaced by hand before it rolled out.
        _finish(plan, run, RunOutcome.ROLLED_BACK, f"superseded before it served: spec.model."
                f"version is now {desired}", inp.now)  # fmt: skip


def _advance(inp: PolicyInput, plan: PolicyPlan) -> None:
    """Move the active run on from what its Job and the rollout show."""
    run = _active(plan.status)
    if run is None:
        return
    if run.outcome is RunOutcome.PROMOTING:
        _follow(inp, plan, run)
        return
    if run.outcome is RunOutcome.AWAITING_APPROVAL:
        annotations = inp.policy["metadata"].get("annotations") or {}
        if annotations.get(ANNOTATION_REJECT) == run.name:
            _finish(plan, run, RunOutcome.CANCELLED, f"rejected with {ANNOTATION_REJECT}", inp.now)
        elif annotations.get(ANNOTATION_APPROVE) == run.name:
            _promote(inp, plan, run, f"approved with {ANNOTATION_APPROVE}")
        return
    if run.outcome is RunOutcome.EVALUATING:
        assert run.evaluation is not None
        evaluation = run.evaluation
        _watch_job(inp, plan, run, evaluation.job_name, evaluation.started_at, "evaluation Job",
                   lambda: evaluation_manifest(inp.policy, inp.spec, run, inp.serving),
                   _judge_evaluation)  # fmt: skip
        return
    training = (lambda: _manifest(inp, run)) if inp.serving is not None else None
    _watch_job(inp, plan, run, run.job_name or run.name, run.started_at, "Job", training, _judge)


Judge = Callable[[PolicyInput, PolicyPlan, RetrainRun, JobObserved], None]


def _watch_job(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun, name: str,
               since: datetime, what: str, manifest: Callable[[], dict[str, Any]] | None,
               judge: Judge) -> None:  # fmt: skip
    """One of the run's Jobs: (re)create it while it is missing (the status that names it was
    written, its creation may not have been), judge it when it succeeds, fail the run when it
    fails, cancel the run when it is gone for good (someone deleted it)."""
    job = inp.jobs.get(name)
    if job is None:
        age = (inp.now - since).total_seconds()
        if age < JOB_GRACE_SECONDS and manifest is not None:
            plan.create_job = manifest()
        else:
            _finish(plan, run, RunOutcome.CANCELLED, f"its {what} was deleted", inp.now)
        return
    if job.failed:
        detail = job.termination_message or job.message or job.reason
        code = f" (exit code {job.exit_code})" if job.exit_code is not None else ""
        _finish(plan, run, RunOutcome.FAILED, f"the {what} failed{code}: {detail}", inp.now)
    elif job.succeeded:
        judge(inp, plan, run, job)
    elif job.pods == 0:
        _no_pod(inp, plan, run, name, job.created_at or since, what)
    elif run.message.startswith(_no_pod_prefix(what, name)):  # its pods came after all
        message = _evaluating(run.evaluation) if what != "Job" and run.evaluation else "training"
        plan.status = _replace_run(plan.status, run.model_copy(update={"message": message}))


def _evaluating(evaluation: RunEvaluation) -> str:
    return (
        f"trained; evaluation Job {evaluation.job_name} measures the candidate and the serving "
        f"model on {evaluation.held_out_uri}"
    )


def _no_pod_prefix(what: str, name: str) -> str:
    return f"its {what} {name} has no pod"


def _no_pod(inp: PolicyInput, plan: PolicyPlan, run: RetrainRun, name: str, since: datetime,
            what: str) -> None:  # fmt: skip
    """Say so when a run's Job has no pod long after it was created (`since`); the run goes
    on (the cause may be fixed) until the Job's own deadline fails it."""
    wait = NO_POD_SECONDS - (inp.now - since).total_seconds()
    if wait > 0:
        plan.look_again_in(wait)
        return
    message = (
        f"{_no_pod_prefix(what, name)} {NO_POD_SECONDS:.0f} s after it was created: something "
        f"refuses them (admission, a quota); `kubectl describe job {name}` shows why "
        "(FailedCreate events)"
    )
    if run.message != message:
        plan.status = _replace_run(plan.status, run.model_copy(update={"message": message}))
        plan.events.append(("Warning", "JobHasNoPod", f"run {run.name}: {message}"))


def job_names(run: RetrainRun) -> list[str]:
    """Every Job a run made: its training Job, and its evaluation Job."""
    names = [run.job_name or run.name]
    return [*names, run.evaluation.job_name] if run.evaluation is not None else names


def _manifest(inp: PolicyInput, run: RetrainRun) -> dict[str, Any]:
    assert inp.serving is not None
    return job_manifest(inp.policy, inp.spec, run.name, str(run.trigger), run.reason,
                        inp.serving, run.new_version)  # fmt: skip


def _requests(inp: PolicyInput, plan: PolicyPlan) -> list[Request]:
    spec, status, now = inp.spec, plan.status, inp.now
    annotations = inp.policy["metadata"].get("annotations") or {}
    requests: list[Request] = []
    handled = dict(status.handled or {})
    manual = manual_request(annotations, handled.get("retrain"))
    if manual is not None:
        handled["retrain"] = manual.key
        requests.append(manual)
    signals = monitor_signals(spec.triggers, inp.monitors, status.signals or [])
    requests.extend(signals.requests)
    held = list(signals.held)
    created = datetime.fromisoformat(inp.policy["metadata"].get("creationTimestamp") or
                                     now.isoformat())  # fmt: skip
    due, upcoming = schedule_due(spec.triggers.schedule, status.last_schedule_time, created, now)
    update: dict[str, Any] = {"signals": list(signals.signals) or None, "handled": handled,
                              "next_schedule_time": upcoming}  # fmt: skip
    if due is not None:
        update["last_schedule_time"] = due
        requests.append(Request(TriggerKind.SCHEDULE, f"schedule {spec.triggers.schedule} at "
                                f"{due.isoformat()}", key=due.isoformat()))  # fmt: skip
    plan.status = status.model_copy(update=update)
    for request, why in held:
        _suppress(plan, request, why)
    if upcoming is not None:
        wait = (upcoming - now).total_seconds()
        plan.look_again_in(wait)
    return requests


def _suppress(plan: PolicyPlan, request: Request, why: str) -> None:
    """Record a trigger that did not start a run; an Event only when the reason is new."""
    message = f"{request.kind} trigger did not start a run: {why}"[:1024]
    if message != plan.status.last_suppressed:
        plan.events.append(("Normal", "TriggerSuppressed", message))
    plan.status = plan.status.model_copy(update={"last_suppressed": message})


def _start(inp: PolicyInput, plan: PolicyPlan, request: Request) -> None:
    assert inp.serving is not None
    status = plan.status
    number = status.run_count + 1
    name = run_name(inp.policy["metadata"]["name"], number)
    run = RetrainRun(
        name=name, trigger=request.kind, reason=request.reason[:1024], job_name=name,
        base_version=inp.serving.version, new_version=new_version(inp.serving.version, number),
        started_at=inp.now, evidence=request.evidence[:1024],
        trigger_scores=list(request.scores) or None, message="training",
    )  # fmt: skip
    runs = [run, *(status.runs or [])]
    kept, dropped = runs[: inp.spec.history_limit], runs[inp.spec.history_limit :]
    plan.delete_jobs.extend(name for r in dropped for name in job_names(r))
    plan.status = status.model_copy(update={
        "runs": kept, "active_run": name, "run_count": number, "last_run_time": inp.now,
    })  # fmt: skip
    plan.create_job = _manifest(inp, run)
    # The evidence says why (features, scores against thresholds, window), so the Event and
    # the notifications that follow Events carry it whole.
    because = f" ({request.evidence})" if request.evidence else ""
    message = f"run {name} ({request.kind}): {request.reason}{because}"
    plan.events.append(("Normal", "RunStarted", message[:1024]))
    signals = [s.model_copy(update={"fired": True}) if s.trigger is request.kind else s
               for s in plan.status.signals or []]  # fmt: skip
    plan.status = plan.status.model_copy(update={"signals": signals or None})


def _breaker(inp: PolicyInput, plan: PolicyPlan) -> None:
    """Open after maxRejections in a row; a person (annotation) or a spec change closes it."""
    status = plan.status
    annotations = inp.policy["metadata"].get("annotations") or {}
    handled = dict(status.handled or {})
    reset = annotations.get(ANNOTATION_RESET_BREAKER)
    generation = int(inp.policy["metadata"].get("generation") or 0)
    edited = status.observed_generation is not None and status.observed_generation != generation
    if status.breaker_open and ((reset and reset != handled.get("resetBreaker")) or edited):
        if reset:
            handled["resetBreaker"] = reset
        plan.status = status.model_copy(update={"breaker_open": False, "rejections_in_a_row": 0,
                                                "handled": handled})  # fmt: skip
        plan.events.append(("Normal", "CircuitBreakerClosed", "triggering again"))
    elif reset and reset != handled.get("resetBreaker"):
        handled["resetBreaker"] = reset
        plan.status = status.model_copy(update={"handled": handled})
    limit = inp.spec.circuit_breaker.max_rejections
    if not plan.status.breaker_open and plan.status.rejections_in_a_row >= limit:
        # Its Warning Event is the phase's transition (retrain.status.policy_assessment).
        plan.status = plan.status.model_copy(update={"breaker_open": True})


def fail_active(plan: PolicyPlan, message: str, now: datetime) -> None:
    """A write the plan needed was refused (its Job, its promotion): the run fails, visibly,
    and nothing more is promoted from it."""
    run = _active(plan.status)
    if plan.promote is not None and not plan.promote.into_spec:
        plan.status = plan.status.model_copy(update={"promoted": plan.promote.replaces})
    plan.promote = None
    plan.create_job = None
    if run is not None:
        _finish(plan, run, RunOutcome.FAILED, message, now, promoted=False,
                profile_config_map=None)  # fmt: skip


def plan_policy(inp: PolicyInput) -> PolicyPlan:
    plan = PolicyPlan(status=inp.status)
    _advance(inp, plan)
    _end_promotion(inp, plan)
    requests = _requests(inp, plan)
    _breaker(inp, plan)
    spec, now = inp.spec, inp.now
    cooldown_ends = (
        plan.status.last_run_time + timedelta(seconds=_seconds(spec.cooldown))
        if plan.status.last_run_time
        else None
    )
    order = [TriggerKind.MANUAL, TriggerKind.DRIFT, TriggerKind.PERFORMANCE, TriggerKind.SCHEDULE]
    started = False
    for request in sorted(requests, key=lambda r: order.index(r.kind)):
        manual = request.kind is TriggerKind.MANUAL
        active = _active(plan.status)
        if started:
            _suppress(plan, request, "another trigger started a run in the same pass")
        elif inp.serving is None:
            _suppress(plan, request, f"ModelDeployment {spec.model_deployment_ref} serves "
                      "nothing yet")  # fmt: skip
        elif plan.status.breaker_open and not manual:
            _suppress(plan, request, "the circuit breaker is open")
        elif cooldown_ends and now < cooldown_ends and not manual:
            _suppress(plan, request, f"cooling down until {cooldown_ends.isoformat()}")
        elif active is not None and spec.concurrency is Concurrency.FORBID:
            _suppress(plan, request, f"run {active.name} is {active.outcome} (concurrency "
                      "Forbid); it may run once that run ends")  # fmt: skip
        elif active is not None and active.outcome is RunOutcome.PROMOTING:
            _suppress(plan, request, f"run {active.name} is promoting its model; it may run "
                      "once that rollout ends")  # fmt: skip
        else:
            if active is not None:  # Replace
                plan.delete_jobs.extend(job_names(active))
                _finish(plan, active, RunOutcome.CANCELLED, f"replaced by a {request.kind} "
                        "trigger (concurrency Replace)", now)  # fmt: skip
            _start(inp, plan, request)
            started = True
    if _active(plan.status) is not None:
        recheck = RUNNING_RECHECK_SECONDS
        plan.look_again_in(recheck)
    elif cooldown_ends and now < cooldown_ends:
        wait = (cooldown_ends - now).total_seconds()
        plan.look_again_in(wait)
    return plan
