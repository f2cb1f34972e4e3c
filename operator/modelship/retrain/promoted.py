"""Which model a ModelDeployment serves: its spec.model, or the promotion a RetrainPolicy
recorded in its own status (promotionTarget policyStatus, the GitOps-safe mode). Pure.

A promotion in a policy's status serves while the ModelDeployment's spec.model is the one it
was based on: a person (or Git) who changes spec.model wins, and that promotion never serves
again. The same reading links a model to the run that produced it (lineage).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelship.api.modeldeployment import Model, ModelSource, ProfileRef, ServedModel
from modelship.api.retrainpolicy import PromotedModel, RetrainRun
from modelship.planners.status import Transition

MODEL_FROM_POLICY = "ModelFromRetrainPolicy"
MODEL_FROM_SPEC = "ModelFromSpec"


@dataclass(frozen=True)
class PolicyPromotion:
    """What a ModelDeployment reads of a RetrainPolicy that targets it."""

    name: str
    created: str = ""
    """Its creationTimestamp: of two policies promoting into their status, the older wins."""
    into_status: bool = False
    """Its spec is valid and promotes into its status (promotionTarget policyStatus)."""
    promoted: PromotedModel | None = None
    """Its status.promoted."""
    runs: Sequence[RetrainRun] = ()
    """Its runs, newest first."""


def promotion_owner(candidates: Iterable[tuple[str, str]]) -> str | None:
    """Of the (creationTimestamp, name) of the policies promoting into their status for one
    ModelDeployment, the one it follows: the oldest, then the first by name. The others are
    rejected at validation."""
    ordered = sorted(candidates)
    return ordered[0][1] if ordered else None


def active_promotion(promoted: PromotedModel | None, spec_model: Model) -> PromotedModel | None:
    """The promotion that serves over `spec_model`: one not ended, based on this spec.model."""
    if promoted is None or promoted.ended or promoted.based_on != spec_model:
        return None
    return promoted


def producing_run(spec_model: Model, policies: Sequence[PolicyPromotion]) -> str | None:
    """<policy>/<run> of the run whose model spec.model names (same version and artifact):
    written there by a promotion, or committed to Git by a person after one."""
    for policy in sorted(policies, key=lambda p: p.name):
        for run in policy.runs:
            if run.new_version == spec_model.version and run.artifact_uri == spec_model.uri:
                return f"{policy.name}/{run.name}"
    return None


@dataclass(frozen=True)
class ModelDecision:
    model: Model
    """The model to serve: spec.model, or the promotion over it."""
    served: ServedModel
    """status.model."""
    events: tuple[Transition, ...] = ()


def _promoted_model(spec_model: Model, promoted: PromotedModel) -> Model:
    profile = (
        ProfileRef(config_map=promoted.profile_config_map)
        if promoted.profile_config_map
        else spec_model.profile_ref
    )
    return spec_model.model_copy(
        update={"version": promoted.version, "uri": promoted.uri, "profile_ref": profile}
    )


def _ended(previous: ServedModel, policy: PolicyPromotion | None, spec_model: Model) -> str:
    """Why the promotion that served before no longer does."""
    was = f"version {previous.version} promoted by RetrainPolicy run {previous.run}"
    if policy is None:
        return (
            f"the RetrainPolicy of {was} no longer promotes into its status (deleted, or "
            f"promotionTarget changed): serving spec.model version {spec_model.version}"
        )
    return f"spec.model changed (version {spec_model.version}): it replaces {was}"


def decide_model(
    spec_model: Model, policies: Sequence[PolicyPromotion], previous: ServedModel | None
) -> ModelDecision:
    """The model to serve, status.model, and an Event when the source changes."""
    owners = [(p.created, p.name) for p in policies if p.into_status]
    owner_name = promotion_owner(owners)
    owner = next((p for p in policies if p.name == owner_name), None)
    promoted = active_promotion(owner.promoted if owner else None, spec_model)
    if owner is not None and promoted is not None:
        run = f"{owner.name}/{promoted.run}"
        served = ServedModel(
            version=promoted.version, uri=promoted.uri, source=ModelSource.RETRAIN_POLICY,
            run=run,
            message=f"version {promoted.version} promoted by RetrainPolicy {owner.name} run "
            f"{promoted.run} over spec.model version {spec_model.version}; a change of "
            "spec.model ends it",
        )  # fmt: skip
        events: tuple[Transition, ...] = ()
        if previous is None or previous.source != served.source or previous.run != run:
            events = (Transition("Normal", MODEL_FROM_POLICY, f"serving {served.message}"),)
        return ModelDecision(_promoted_model(spec_model, promoted), served, events)
    produced_by = producing_run(spec_model, policies)
    message = "spec.model"
    if produced_by:
        message += f", produced by RetrainPolicy run {produced_by}"
    stale = owner.promoted if owner is not None else None
    if stale is not None:
        message += (f"; the promotion of version {stale.version} (run {stale.run}) ended: "
                    "spec.model changed since")  # fmt: skip
    served = ServedModel(version=spec_model.version, uri=spec_model.uri,
                         source=ModelSource.SPEC, run=produced_by,
                         message=message[:1024])  # fmt: skip
    events = ()
    if previous is not None and previous.source is ModelSource.RETRAIN_POLICY:
        events = (Transition("Normal", MODEL_FROM_SPEC, _ended(previous, owner, spec_model)),)
    return ModelDecision(spec_model, served, events)
