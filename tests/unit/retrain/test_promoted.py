"""Which model a ModelDeployment serves, from its spec.model and the RetrainPolicies that
target it: the GitOps-safe promotion (in a policy's status) and the run a model came from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from modelship.api.modeldeployment import Model, ModelSource, ProfileRef, ServedModel
from modelship.api.retrainpolicy import PromotedModel, RetrainRun, TriggerKind
from modelship.retrain.promoted import (
    MODEL_FROM_POLICY,
    MODEL_FROM_SPEC,
    PolicyPromotion,
    decide_model,
    promotion_owner,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SPEC_7 = Model(name="fraud", version="7", uri="s3://m/7/", profile_ref=ProfileRef(config_map="p7"))
SPEC_8 = SPEC_7.model_copy(update={"version": "8", "uri": "s3://m/8/"})


def promoted(version: str = "7-r3", based_on: Model = SPEC_7, ended: str = "",
             profile: str | None = "fraud-7-r3-profile") -> PromotedModel:  # fmt: skip
    return PromotedModel(run="rp-3", version=version, uri=f"s3://m/{version}/",
                         profile_config_map=profile, based_on=based_on, promoted_at=T0,
                         ended=ended)  # fmt: skip


def run(name: str, version: str, uri: str) -> RetrainRun:
    return RetrainRun(name=name, trigger=TriggerKind.MANUAL, new_version=version,
                      artifact_uri=uri, started_at=T0)  # fmt: skip


GITOPS = PolicyPromotion("rp", "2026-12-01T00:00:00Z", into_status=True, promoted=promoted())
FROM_POLICY = ServedModel(version="7-r3", uri="s3://m/7-r3/", source=ModelSource.RETRAIN_POLICY,
                          run="rp/rp-3")  # fmt: skip
FROM_SPEC = ServedModel(version="7", uri="s3://m/7/", source=ModelSource.SPEC)


@pytest.mark.parametrize(
    ("case", "spec_model", "policies", "previous", "serves", "source", "run", "event"),
    [
        ("no policy: spec.model", SPEC_7, [], None, "7", "Spec", None, None),
        ("a promotion over the spec.model it was based on serves", SPEC_7, [GITOPS], FROM_SPEC,
         "7-r3", "RetrainPolicy", "rp/rp-3", MODEL_FROM_POLICY),
        ("already serving it: no second Event", SPEC_7, [GITOPS], FROM_POLICY,
         "7-r3", "RetrainPolicy", "rp/rp-3", None),
        ("a person changed spec.model: the person wins", SPEC_8, [GITOPS], FROM_POLICY,
         "8", "Spec", None, MODEL_FROM_SPEC),
        ("an ended promotion never serves again, even over its own base", SPEC_7,
         [PolicyPromotion("rp", "t", True, promoted(ended="spec.model changed"))], FROM_SPEC,
         "7", "Spec", None, None),
        ("the policy promotes into the spec now: its old promotion does not serve", SPEC_7,
         [PolicyPromotion("rp", "t", False, promoted())], FROM_POLICY, "7", "Spec", None,
         MODEL_FROM_SPEC),
        ("the policy was deleted: spec.model", SPEC_7, [], FROM_POLICY, "7", "Spec", None,
         MODEL_FROM_SPEC),
        ("spec.model names a run's model (promoted into the spec): linked to the run", SPEC_8,
         [PolicyPromotion("rp", runs=[run("rp-1", "7-r1", "s3://x/"), run("rp-2", "8", "s3://m/8/")])],
         None, "8", "Spec", "rp/rp-2", None),
        ("the same version from another artifact is not that run's", SPEC_8,
         [PolicyPromotion("rp", runs=[run("rp-2", "8", "s3://elsewhere/")])], None, "8", "Spec",
         None, None),
        ("of two promoting policies the older serves", SPEC_7,
         [PolicyPromotion("young", "2026-12-02T00:00:00Z", True, promoted("7-r9")), GITOPS],
         FROM_SPEC, "7-r3", "RetrainPolicy", "rp/rp-3", MODEL_FROM_POLICY),
    ],
)  # fmt: skip
def test_the_model_served(case: str, spec_model: Model, policies: list[PolicyPromotion],
                          previous: ServedModel | None, serves: str, source: str,
                          run: str | None, event: str | None) -> None:  # fmt: skip
    decision = decide_model(spec_model, policies, previous)
    assert decision.model.version == serves, case
    assert decision.served.version == serves
    assert (decision.served.source, decision.served.run) == (source, run), case
    assert [e.reason for e in decision.events] == ([event] if event else []), case


def test_a_promoted_model_keeps_the_spec_name_and_format_and_brings_its_profile() -> None:
    model = decide_model(SPEC_7, [GITOPS], None).model
    assert (model.name, model.format, model.uri) == ("fraud", SPEC_7.format, "s3://m/7-r3/")
    assert model.profile_ref == ProfileRef(config_map="fraud-7-r3-profile")
    without_profile = PolicyPromotion("rp", "t", True, promoted(profile=None))
    assert decide_model(SPEC_7, [without_profile], None).model.profile_ref == SPEC_7.profile_ref


def test_the_status_and_event_say_why_the_spec_won() -> None:
    decision = decide_model(SPEC_8, [GITOPS], FROM_POLICY)
    assert "the promotion of version 7-r3 (run rp-3) ended" in decision.served.message
    assert "spec.model changed (version 8): it replaces version 7-r3" in decision.events[0].message
    gone = decide_model(SPEC_7, [], FROM_POLICY).events[0].message
    assert "no longer promotes into its status" in gone


def test_a_promotion_based_on_another_spec_model_field_ends_too() -> None:
    """Any change of spec.model is a person's decision, not only its version."""
    other_profile = SPEC_7.model_copy(update={"profile_ref": ProfileRef(config_map="fixed")})
    assert decide_model(other_profile, [GITOPS], FROM_POLICY).served.source == "Spec"


@pytest.mark.parametrize(
    ("candidates", "owner"),
    [
        ([], None),
        ([("2026-12-02T00:00:00Z", "a")], "a"),
        ([("2026-12-02T00:00:00Z", "a"), ("2026-12-01T00:00:00Z", "b")], "b"),
        ([("2026-12-01T00:00:00Z", "b"), ("2026-12-01T00:00:00Z", "a")], "a"),
    ],
)
def test_the_oldest_policy_promoting_into_its_status_owns_the_target(
    candidates: list[tuple[str, str]], owner: str | None
) -> None:
    assert promotion_owner(candidates) == owner
