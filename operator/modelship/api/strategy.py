"""How a new revision replaces the old one: rolling, canary, blue-green or shadow."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from modelship.api.analysis import AnalysisGate
from modelship.api.base import KubeModel, Rule, only_one
from modelship.api.types import Duration, IntOrPercent, ObjectName, ServiceName

Hostname = Annotated[
    str, StringConstraints(pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
]


class RollingStrategy(KubeModel):
    """Replace pods gradually, as a Deployment does, without analysis gates."""

    max_surge: IntOrPercent = "25%"
    """Extra pods allowed above the desired count during the update."""
    max_unavailable: IntOrPercent = 0
    """Pods allowed to be unavailable during the update."""


class Router(StrEnum):
    REPLICAS = "replicas"
    GATEWAY_API = "gatewayAPI"
    ISTIO = "istio"


class ParentRef(KubeModel):
    """The Gateway an HTTPRoute attaches to."""

    name: ObjectName
    """The Gateway's name."""
    namespace: ObjectName | None = None
    """The Gateway's namespace. Defaults to the ModelDeployment's."""
    section_name: Annotated[str, StringConstraints(max_length=253)] | None = None
    """A listener of the Gateway."""


class GatewayAPIRouting(KubeModel):
    """Split traffic with a Gateway API HTTPRoute's backend weights."""

    gateway: ParentRef
    """The Gateway the operator's HTTPRoute attaches to."""
    http_route: ObjectName | None = Field(default=None, alias="httpRoute")
    """The HTTPRoute's name. Defaults to the ModelDeployment's name."""
    hostnames: list[Hostname] | None = Field(default=None, max_length=16)
    """Hostnames the HTTPRoute matches."""


class IstioRouting(KubeModel):
    """Split traffic with an Istio VirtualService."""

    virtual_service: ObjectName | None = None
    """The VirtualService's name. Defaults to the ModelDeployment's name."""
    gateways: list[Annotated[str, StringConstraints(max_length=253)]] | None = Field(
        default=None, max_length=16
    )
    """Istio Gateways the VirtualService binds to (namespace/name)."""
    hosts: list[Hostname] | None = Field(default=None, max_length=16)
    """Hosts the VirtualService serves."""


class TrafficRouting(KubeModel):
    """How traffic is split between revisions."""

    rules = (
        Rule(
            cel="(has(self.router) && self.router == 'gatewayAPI') == has(self.gatewayAPI)",
            message="gatewayAPI is required when router is gatewayAPI, and only then",
            check=lambda t: (t.router == Router.GATEWAY_API) == (t.gateway_api is not None),
        ),
        Rule(
            cel="!has(self.istio) || (has(self.router) && self.router == 'istio')",
            message="istio is allowed only when router is istio",
            check=lambda t: t.istio is None or t.router == Router.ISTIO,
        ),
    )

    router: Router = Router.REPLICAS
    """replicas: no mesh, the weight is approximated by the ratio of ready pods; gatewayAPI: an
    HTTPRoute's backend weights; istio: a VirtualService."""
    gateway_api: GatewayAPIRouting | None = Field(default=None, alias="gatewayAPI")
    """Settings for router gatewayAPI."""
    istio: IstioRouting | None = None
    """Settings for router istio."""


class Pause(KubeModel):
    """Stop here: for `duration`, or until promoted when no duration is given."""

    duration: Duration | None = None
    """How long to pause. Without it, the rollout waits for an explicit promote."""


class CanaryStep(KubeModel):
    """One step of a canary: exactly one of setWeight, pause or analysis."""

    rules = (
        Rule(
            cel="(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0)"
            " + (has(self.analysis) ? 1 : 0) == 1",
            message="each step sets exactly one of setWeight, pause or analysis",
            check=lambda s: only_one(s.set_weight, s.pause, s.analysis),
        ),
    )

    set_weight: int | None = Field(default=None, ge=0, le=100)
    """Percentage of traffic the canary receives from here on (0-100)."""
    pause: Pause | None = None
    """Pause for a duration or until promoted."""
    analysis: AnalysisGate | None = None
    """Gate: spec.analysis must pass now."""


CanarySteps = Annotated[list[CanaryStep], Field(min_length=1, max_length=50)]


class CanaryStrategy(KubeModel):
    """Shift traffic to the new revision step by step, gated by pauses and analysis."""

    traffic: TrafficRouting | None = None
    """How traffic is split. Defaults to router replicas."""
    steps: CanarySteps
    """The steps, in order. After the last one the canary is promoted to stable."""


class BlueGreenStrategy(KubeModel):
    """Run the new revision beside the old behind a preview Service, then switch all at once."""

    rules = (
        Rule(
            cel="!has(self.autoPromotionSeconds) || !has(self.autoPromotionEnabled)"
            " || self.autoPromotionEnabled",
            message="autoPromotionSeconds needs autoPromotionEnabled to be true",
            check=lambda b: b.auto_promotion_seconds is None or b.auto_promotion_enabled,
        ),
    )

    preview_service: ServiceName | None = None
    """The Service that reaches the new revision before promotion. Defaults to <name>-preview."""
    preview_replicas: int | None = Field(default=None, ge=1, le=1000)
    """Pods of the new revision before promotion. Defaults to serving.replicas."""
    auto_promotion_enabled: bool = True
    """Promote without a person once the preview is ready and prePromotionAnalysis passed."""
    auto_promotion_seconds: int | None = Field(default=None, ge=0, le=604800)
    """Wait this long after the preview is ready before promoting automatically."""
    scale_down_delay_seconds: int = Field(default=30, ge=0, le=86400)
    """Keep the old revision's pods this long after promotion, for instant rollback."""
    pre_promotion_analysis: AnalysisGate | None = None
    """Gate before the stable Service switches to the new revision."""
    post_promotion_analysis: AnalysisGate | None = None
    """Gate after the switch; failing it switches back while the old pods are still up."""


class ShadowStrategy(KubeModel):
    """Mirror a share of live traffic to the new revision and discard its answers; analyse it
    (including its prediction drift against stable), then continue as a canary or drop it."""

    rules = (
        Rule(
            cel="has(self.traffic.router) && self.traffic.router != 'replicas'",
            message="mirroring needs a proxy: traffic.router must be gatewayAPI or istio",
            check=lambda s: s.traffic.router != Router.REPLICAS,
        ),
        Rule(
            cel="(!has(self.then) || self.then == 'canary') == has(self.canary)",
            message="canary is required when then is canary, and only then",
            check=lambda s: (s.then == "canary") == (s.canary is not None),
        ),
        Rule(
            cel="!has(self.canary) || !has(self.canary.traffic)",
            message="canary.traffic is not used after a shadow run: the canary splits traffic "
            "with the shadow's traffic router; remove it",
            field_path=".canary.traffic",
            check=lambda s: s.canary is None or s.canary.traffic is None,
        ),
    )

    traffic: TrafficRouting
    """The router that mirrors traffic (gatewayAPI or istio)."""
    mirror_percentage: int = Field(default=100, ge=1, le=100)
    """Percentage of live requests copied to the shadow revision."""
    duration: Duration = "30m"
    """How long the shadow runs before `analysis` decides."""
    analysis: AnalysisGate | None = None
    """Gate at the end of the shadow run."""
    then: Literal["canary", "drop"] = "canary"
    """After a passing shadow run: canary (continue with `canary`) or drop (remove the shadow
    and record the result, for evaluation only)."""
    canary: CanaryStrategy | None = None
    """The canary that follows a passing shadow run; it splits traffic with `traffic` (its own
    `traffic` is refused)."""


class Strategy(KubeModel):
    """How a new revision replaces the old: exactly one of rolling, canary, blueGreen, shadow."""

    rules = (
        Rule(
            cel="(has(self.rolling) ? 1 : 0) + (has(self.canary) ? 1 : 0)"
            " + (has(self.blueGreen) ? 1 : 0) + (has(self.shadow) ? 1 : 0) == 1",
            message="set exactly one of rolling, canary, blueGreen or shadow",
            check=lambda s: only_one(s.rolling, s.canary, s.blue_green, s.shadow),
        ),
    )

    rolling: RollingStrategy | None = None
    """Replace pods gradually, without gates."""
    canary: CanaryStrategy | None = None
    """Shift traffic in steps, gated by pauses and analysis."""
    blue_green: BlueGreenStrategy | None = Field(default=None, alias="blueGreen")
    """Switch all traffic at once after a preview."""
    shadow: ShadowStrategy | None = None
    """Mirror traffic to the new revision first."""

    @property
    def traffic(self) -> TrafficRouting | None:
        """The router the strategy splits (and mirrors) traffic with: a canary's, or a shadow's
        (which its canary phase uses too); None for rolling and blueGreen."""
        if self.shadow is not None:
            return self.shadow.traffic
        return self.canary.traffic if self.canary is not None else None

    @property
    def kind(self) -> str:
        """The chosen strategy's field name: rolling, canary, blueGreen or shadow."""
        for name in ("rolling", "canary", "blue_green", "shadow"):
            if getattr(self, name) is not None:
                return "blueGreen" if name == "blue_green" else name
        return "rolling"
