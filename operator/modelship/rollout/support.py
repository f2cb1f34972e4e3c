"""Settings the schema accepts that this version of the operator cannot carry out. Pure."""

from __future__ import annotations

from modelship.api.modeldeployment import ModelDeploymentSpec
from modelship.api.strategy import Router
from modelship.api.validation import Problem


def unsupported_setting(spec: ModelDeploymentSpec) -> Problem | None:
    """The first such setting, as a problem to report (Stalled), or None."""
    strategy = spec.strategy
    for path, routing in (
        ("spec.strategy.canary.traffic", strategy.canary.traffic if strategy.canary else None),
        ("spec.strategy.shadow.traffic", strategy.shadow.traffic if strategy.shadow else None),
    ):
        if routing is not None and routing.router is Router.ISTIO:
            return Problem(
                f"{path}.router", "istio is not supported yet: use replicas or gatewayAPI"
            )
    return None
