"""Every cross-field rule, table-tested: a spec that breaks it names the field and the rule."""

from __future__ import annotations

import copy
import importlib
import pkgutil
import re
from typing import Any

import modelship.api
import pytest
from modelship.api import KINDS, KINDS_BY_NAME
from modelship.api.base import KubeModel, Rule
from modelship.api.types import DURATION_PATTERN
from modelship.api.validation import InvalidObjectError, parse_spec

JOB = {"template": {"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "t"}]}}}}}
HOOK = {"secretKeyRef": {"name": "slack-webhook"}}
BASE: dict[str, dict[str, Any]] = {
    "ModelDeployment": {"model": {"name": "m", "version": "1", "uri": "s3://b/m/1/"}},
    "DriftMonitor": {"modelDeploymentRef": "m"},
    "RetrainPolicy": {
        "modelDeploymentRef": "m",
        "job": JOB,
        "output": {"uri": "s3://b/{version}/"},
    },
}
METRIC = {"name": "errors", "builtin": "errorRate", "max": 0.01}
ANALYSIS = {"metrics": [METRIC]}


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def parse(kind: str, spec: dict[str, Any], name: str = "ok") -> KubeModel:
    body = {"metadata": {"name": name}, "spec": merged(BASE[kind], spec)}
    return parse_spec(KINDS_BY_NAME[kind], body)


def canary(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"strategy": {"canary": {"steps": list(steps), **extra}}}


# (kind, spec fragment, field the error names, message)
BROKEN: list[tuple[str, dict[str, Any], str, str]] = [
    ("ModelDeployment", {"serving": {"grpcPort": 8080}}, "spec.serving",
     "serving.grpcPort must differ from serving.port"),
    ("ModelDeployment", {"serving": {"port": 9000, "grpcPort": 9000}}, "spec.serving",
     "serving.grpcPort must differ from serving.port"),
    ("ModelDeployment", {"serving": {"workers": 2, "grpcPort": 8081}}, "spec.serving",
     "serving.workers above 1 serves REST only"),
    ("ModelDeployment", {"strategy": {"rolling": {}, "blueGreen": {}}}, "spec.strategy",
     "set exactly one of rolling, canary, blueGreen or shadow"),
    ("ModelDeployment", {"strategy": {}}, "spec.strategy", "set exactly one of"),
    ("ModelDeployment", canary({"setWeight": 5, "analysis": {}}, ), "spec.strategy.canary.steps[0]",
     "each step sets exactly one of setWeight, pause or analysis"),
    ("ModelDeployment", canary({}), "spec.strategy.canary.steps[0]", "exactly one of setWeight"),
    ("ModelDeployment", canary({"setWeight": 101}), "spec.strategy.canary.steps[0].setWeight",
     "less than or equal to 100"),
    ("ModelDeployment", canary({"setWeight": -1}), "spec.strategy.canary.steps[0].setWeight",
     "greater than or equal to 0"),
    ("ModelDeployment", canary(), "spec.strategy.canary.steps", "at least 1 item"),
    ("ModelDeployment", canary({"analysis": {}}), "spec",
     "each analysis step of strategy.canary needs spec.analysis"),
    ("ModelDeployment", {**canary({"analysis": {"metrics": ["p99"]}}), "analysis": ANALYSIS},
     "spec", "every metric it names must be defined there: p99 is not"),
    ("ModelDeployment", {**canary({"analysis": {"metrics": ["errors"]}}, {"setWeight": 5},
                                  {"analysis": {"metrics": ["errors", "p50", "p99"]}}),
                         "analysis": ANALYSIS},
     "spec", "each analysis step of strategy.canary needs spec.analysis, and every metric it "
             "names must be defined there: p50 is not"),
    ("ModelDeployment", {"strategy": {"blueGreen": {"prePromotionAnalysis": {},
                                                    "postPromotionAnalysis": {"metrics": ["p99"]}}},
                         "analysis": ANALYSIS},
     "spec", "blueGreen prePromotionAnalysis and postPromotionAnalysis needs spec.analysis, and "
             "every metric it names must be defined there: p99 is not"),
    ("ModelDeployment", {"strategy": {"shadow": {"traffic": {"router": "istio", "istio": {}},
                                                 "analysis": {"metrics": ["errors"]},
                                                 "canary": {"steps": [
                                                     {"analysis": {"metrics": ["p99"]}}]}}},
                         "analysis": ANALYSIS},
     "spec", "shadow analysis and the analysis steps of shadow.canary needs spec.analysis, and "
             "every metric it names must be defined there: p99 is not"),
    ("ModelDeployment", {**canary({"analysis": {"metrics": ["errors", "errors"]}}),
                         "analysis": ANALYSIS},
     "spec.strategy.canary.steps[0].analysis", "metrics must not repeat"),
    ("ModelDeployment", canary({"setWeight": 5}, traffic={"router": "gatewayAPI"}),
     "spec.strategy.canary.traffic", "gatewayAPI is required when router is gatewayAPI"),
    ("ModelDeployment",
     canary({"setWeight": 5}, traffic={"gatewayAPI": {"gateway": {"name": "g"}}}),
     "spec.strategy.canary.traffic",
     "gatewayAPI is required when router is gatewayAPI, and only then"),
    ("ModelDeployment", canary({"setWeight": 5}, traffic={"istio": {}}),
     "spec.strategy.canary.traffic", "istio is allowed only when router is istio"),
    ("ModelDeployment", {"strategy": {"blueGreen": {"autoPromotionEnabled": False,
                                                    "autoPromotionSeconds": 5}}},
     "spec.strategy.blueGreen", "autoPromotionSeconds needs autoPromotionEnabled to be true"),
    ("ModelDeployment", {"strategy": {"blueGreen": {"postPromotionAnalysis": {}}}}, "spec",
     "blueGreen prePromotionAnalysis and postPromotionAnalysis needs spec.analysis"),
    ("ModelDeployment", {"strategy": {"shadow": {"traffic": {}, "then": "drop"}}},
     "spec.strategy.shadow", "mirroring needs a proxy"),
    ("ModelDeployment", {"strategy": {"shadow": {"traffic": {"router": "istio", "istio": {}}}}},
     "spec.strategy.shadow", "canary is required when then is canary, and only then"),
    ("ModelDeployment", {"strategy": {"shadow": {"traffic": {"router": "istio", "istio": {}},
                                                 "then": "drop",
                                                 "canary": {"steps": [{"setWeight": 5}]}}}},
     "spec.strategy.shadow", "canary is required when then is canary, and only then"),
    ("ModelDeployment", {"strategy": {"shadow": {"traffic": {"router": "istio", "istio": {}},
                                                 "then": "drop", "analysis": {}}}},
     "spec", "shadow analysis and the analysis steps of shadow.canary needs spec.analysis"),
    ("ModelDeployment", {"analysis": {"metrics": [{"name": "x", "builtin": "errorRate"}]}},
     "spec.analysis.metrics[0]", "set at least one of min, max, maxIncrease or judge"),
    ("ModelDeployment", {"analysis": {"metrics": [{"name": "x", "max": 1}]}},
     "spec.analysis.metrics[0]", "set exactly one of builtin or prometheus"),
    ("ModelDeployment", {"analysis": {"metrics": [{**METRIC, "min": 2, "max": 1}]}},
     "spec.analysis.metrics[0]", "min must not exceed max"),
    ("ModelDeployment", {"analysis": {"metrics": [{**METRIC, "maxIncrease": -0.1}]}},
     "spec.analysis.metrics[0].maxIncrease", "greater than or equal to 0"),
    ("ModelDeployment", {"analysis": {"metrics": [{**METRIC, "method": "psi"}]}},
     "spec.analysis.metrics[0]", "method applies only to builtin predictionDrift"),
    ("ModelDeployment", {"analysis": {"metrics": [METRIC, METRIC]}}, "spec.analysis",
     "metric names must be unique"),
    ("ModelDeployment", {"analysis": {"metrics": []}}, "spec.analysis.metrics", "at least 1 item"),
    ("ModelDeployment", {"analysis": {**ANALYSIS, "interval": "100ms"}}, "spec.analysis",
     "interval must be at least 1s"),
    ("ModelDeployment", {"analysis": {**ANALYSIS, "interval": "1d"}}, "spec.analysis.interval",
     "should match pattern"),
    ("ModelDeployment", {"serving": {"autoscaling": {"minReplicas": 3, "maxReplicas": 2}}},
     "spec.serving.autoscaling", "minReplicas must not exceed maxReplicas"),
    ("ModelDeployment", {"serving": {"resources": {"requests": {"cpu": "lots"}}}},
     "spec.serving.resources.requests.cpu", "invalid quantity"),
    ("ModelDeployment", {"serving": {"replicas": 1001}}, "spec.serving.replicas",
     "less than or equal to 1000"),
    ("ModelDeployment", {"model": {"format": "custom"}}, "spec",
     "model.format custom needs serving.image"),
    ("ModelDeployment", {"strategy": {"shadow": {
        "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "gw"}}},
        "canary": {"traffic": {"router": "replicas"}, "steps": [{"setWeight": 50}]}}}},
     "spec.strategy.shadow", "canary.traffic is not used after a shadow run"),
    ("ModelDeployment", {"analysis": {"metrics": [
        {"name": "drift", "builtin": "predictionDrift", "judge": {}}]}},
     "spec.analysis.metrics[0]", "judge applies only to builtin errorRate"),
    ("ModelDeployment", {"strategy": {"blueGreen": {}}, "analysis": {"metrics": [
        {"name": "errors", "builtin": "errorRate", "judge": {}}]}},
     "spec", "a judge compares live traffic of both revisions"),
    ("ModelDeployment", {"rollback": {"window": {"duration": "5m"}}}, "spec",
     "rollback.window needs strategy canary, blueGreen or shadow"),
    ("ModelDeployment", {"strategy": {"rolling": {}}, "rollback": {"window": {"duration": "5m"}}},
     "spec", "rollback.window needs strategy canary, blueGreen or shadow"),
    ("ModelDeployment", {**canary({"setWeight": 50}), "rollback": {"window": {"duration": "5m"}}},
     "spec", "rollback.window needs an analysis metric without a judge"),
    ("ModelDeployment", {**canary({"setWeight": 50}), "rollback": {"window": {"duration": "5m"}},
                         "analysis": {"metrics": [
                             {"name": "errors", "builtin": "errorRate", "judge": {}}]}},
     "spec", "rollback.window needs an analysis metric without a judge"),
    ("ModelDeployment", {**canary({"setWeight": 50}),
                         "rollback": {"window": {"duration": "5m", "previousReplicas": "x"}}},
     "spec.rollback.window.previousReplicas", "use a count such as 1 or a percentage"),
    ("ModelDeployment", {"model": {"modelClass": "pkg.mod:Model"}}, "spec.model",
     "model.modelClass applies only to format custom"),
    ("ModelDeployment", {"model": {"format": "custom", "modelClass": "not a class"},
                         "serving": {"image": "me/server:1"}}, "spec.model.modelClass",
     "should match pattern"),
    ("ModelDeployment", {"model": {"uri": "pvc://Bad_Claim/x"}}, "spec.model.uri",
     "should match pattern"),
    ("ModelDeployment", {"model": {"version": "v 2"}}, "spec.model.version",
     "should match pattern"),
    ("ModelDeployment", {"security": {"authSecretRef": {"name": "Secret!"}}},
     "spec.security.authSecretRef.name", "should match pattern"),
    ("ModelDeployment", {"rollback": {"revisionHistoryLimit": 101}},
     "spec.rollback.revisionHistoryLimit", "less than or equal to 100"),
    ("ModelDeployment", {"serving": {"replicas": 1, "replica": 2}}, "spec.serving.replica",
     "Extra inputs are not permitted"),
    ("DriftMonitor", {"features": {"default": {"warning": 0.5, "critical": 0.2}}},
     "spec.features.default", "warning must be less severe than critical"),
    ("DriftMonitor", {"features": {"default": {"method": "chi2", "warning": 0.01,
                                               "critical": 0.05}}},
     "spec.features.default", "warning must be less severe than critical"),
    ("DriftMonitor", {"features": {"overrides": [{"name": "a", "method": "kolmogorovSmirnov",
                                                  "critical": 1.5}]}},
     "spec.features.overrides[0]", "p-values and must not exceed 1"),
    ("DriftMonitor", {"features": {"overrides": [{"name": "a", "method": "psi", "critical": 1},
                                                 {"name": "a", "method": "psi", "critical": 2}]}},
     "spec.features", "overrides must name each feature once"),
    ("DriftMonitor", {"features": {"ignore": ["a", "a"]}}, "spec.features",
     "ignore must not repeat"),
    ("DriftMonitor", {"prediction": {"warning": 0.3, "critical": 0.1}}, "spec.prediction",
     "warning must be less severe than critical"),
    ("DriftMonitor", {"interval": "2h"}, "spec", "window must be at least as long as interval"),
    ("DriftMonitor", {"interval": "5s", "window": "1m"}, "spec", "interval must be at least 10s"),
    ("DriftMonitor", {"datasetDrift": {"share": 0}}, "spec.datasetDrift.share", "greater than 0"),
    ("DriftMonitor", {"performance": {"metric": "accuracy"}}, "spec.performance",
     "set at least one of min or max"),
    ("DriftMonitor", {"performance": {"metric": "mae", "min": 3, "max": 1}}, "spec.performance",
     "min must not exceed max"),
    ("DriftMonitor", {"fairness": [{"attribute": "g", "privileged": ["M"], "favourable": ["y"],
                                    "metric": "disparateImpact", "range": {}}]},
     "spec.fairness[0].range", "set at least one of min or max"),
    ("DriftMonitor", {"fairness": [{"attribute": "g", "privileged": ["M"], "favourable": ["y"],
                                    "metric": "disparateImpact",
                                    "range": {"min": 1.2, "max": 0.8}}]},
     "spec.fairness[0].range", "min must not exceed max"),
    ("DriftMonitor", {"fairness": [{"attribute": "g", "privileged": ["M", "M"],
                                    "favourable": ["y"], "metric": "disparateImpact",
                                    "range": {"min": 0.8}}]},
     "spec.fairness[0]", "privileged and favourable must not repeat values"),
    ("DriftMonitor", {"actions": {"onDrift": ["event", "event"]}}, "spec.actions",
     "onDrift must not repeat"),
    ("DriftMonitor", {"dataQuality": {"overrides": [{"name": "a"}, {"name": "a", "unseen": 0}]}},
     "spec.dataQuality", "overrides must name each feature once"),
    ("DriftMonitor", {"dataQuality": {"rejected": {"reasons": [
        {"reason": "wrongType", "max": 0.1}, {"reason": "wrongType", "max": 0.2}]}}},
     "spec.dataQuality.rejected", "reasons must name each reason once"),
    ("DriftMonitor", {"dataQuality": {"rejected": {"reasons": [{"reason": "teapot", "max": 0}]}}},
     "spec.dataQuality.rejected.reasons[0].reason", "Input should be 'invalidJson'"),
    ("DriftMonitor", {"window": "2h", "reference": {"window": "168h", "offset": "1h"}}, "spec",
     "reference.offset must be at least window"),
    ("DriftMonitor", {"reference": {"window": "168h", "offset": "0s"}}, "spec.reference",
     "offset must be at least 1s"),
    ("DriftMonitor", {"reference": {"window": "7d", "offset": "168h"}}, "spec.reference.window",
     "should match pattern"),
    ("DriftMonitor", {"dataQuality": {"default": {"missing": 1.5}}},
     "spec.dataQuality.default.missing", "less than or equal to 1"),
    ("DriftMonitor", {"modelDeploymentRef": "Fraud"}, "spec.modelDeploymentRef",
     "should match pattern"),
    ("RetrainPolicy", {"output": {"uri": "s3://b/latest/"}}, "spec.output",
     "uri must contain {version}"),
    ("RetrainPolicy", {"triggers": {"schedule": "0 24 * * *"}}, "spec.triggers.schedule",
     "hour 24 is outside 0-23"),
    ("RetrainPolicy", {"triggers": {"schedule": "0 3 * *"}}, "spec.triggers.schedule",
     "should match pattern"),
    ("RetrainPolicy", {"cooldown": "6 hours"}, "spec.cooldown", "should match pattern"),
    ("RetrainPolicy", {"concurrency": "Allow"}, "spec.concurrency", "'Forbid' or 'Replace'"),
    ("RetrainPolicy", {"historyLimit": 0}, "spec.historyLimit", "greater than or equal to 1"),
    ("RetrainPolicy", {"triggers": {"drift": {"driftMonitorRef": "d", "severity": "low"}}},
     "spec.triggers.drift.severity", "'warning' or 'critical'"),
    # notifications: only the kind's own events; URLs only from Secrets; names unique
    ("ModelDeployment", {"notifications": [{"name": "a", "urlFrom": HOOK,
                                            "events": ["drift.raised"]}]},
     "spec", "a ModelDeployment's notifications.events lists rollout.* events only"),
    ("DriftMonitor", {"notifications": [{"name": "a", "urlFrom": HOOK,
                                         "events": ["rollout.promoted"]}]},
     "spec", "a DriftMonitor's notifications.events lists drift.* events only"),
    ("RetrainPolicy", {"notifications": [{"name": "a", "urlFrom": HOOK,
                                          "events": ["drift.cleared"]}]},
     "spec", "a RetrainPolicy's notifications.events lists retrain.* events only"),
    ("ModelDeployment", {"notifications": [{"name": "a", "urlFrom": HOOK},
                                           {"name": "a", "urlFrom": HOOK}]},
     "spec", "notifications names must be unique"),
    ("ModelDeployment", {"notifications": [{"name": "a", "url": "https://hooks.example/x",
                                            "urlFrom": HOOK}]},
     "spec.notifications[0].url", "Extra inputs are not permitted"),
    ("ModelDeployment", {"notifications": [{"name": "a", "urlFrom": HOOK,
                                            "events": ["rollout.finished"]}]},
     "spec.notifications[0].events[0]", "'rollout.started'"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "field", "message"), BROKEN)
def test_rule_rejects_with_field_and_message(
    kind: str, spec: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidObjectError) as error:
        parse(kind, spec)
    assert any(p.path == field and message in p.message for p in error.value.problems), str(
        error.value
    )


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("ModelDeployment", {}),
    ("ModelDeployment", {"notifications": [
        {"name": "slack", "type": "slack", "urlFrom": HOOK,
         "events": ["rollout.promoted", "rollout.rolledBack"]},
        {"name": "hook", "urlFrom": {"secretKeyRef": {"name": "h", "key": "endpoint"}}}]}),
    ("DriftMonitor", {"notifications": [{"name": "a", "urlFrom": HOOK,
                                         "events": ["drift.raised"]}]}),
    ("RetrainPolicy", {"notifications": [{"name": "a", "urlFrom": HOOK}]}),
    ("ModelDeployment", canary({"setWeight": 0}, {"pause": {}}, {"setWeight": 100})),
    ("ModelDeployment", {**canary({"analysis": {"metrics": ["errors"], "count": 3}}),
                         "analysis": ANALYSIS}),
    ("ModelDeployment", {"strategy": {"blueGreen": {"autoPromotionSeconds": 0}}}),
    ("ModelDeployment", {**canary({"setWeight": 50}), "analysis": ANALYSIS,
                         "rollback": {"window": {"duration": "10m", "previousReplicas": "25%"}}}),
    ("ModelDeployment", {"strategy": {"shadow": {"traffic": {"router": "istio", "istio": {}},
                                                 "then": "drop"}}}),
    ("ModelDeployment", {"model": {"format": "custom"}, "serving": {"image": "me/server:1"}}),
    ("ModelDeployment", {"model": {"format": "custom", "modelClass": "pkg.models:Fraud"},
                         "serving": {"image": "me/server:1"}}),
    ("ModelDeployment", {"model": {"uri": "pvc://models/fraud/7"}}),
    ("ModelDeployment", {"serving": {"grpcPort": 8081}}),
    ("ModelDeployment", {"serving": {"port": 8081, "grpcPort": 8080}}),
    ("ModelDeployment", {"serving": {"resources": {"requests": {"cpu": 2, "memory": "1.5Gi"}},
                                     "autoscaling": {"maxReplicas": 1}}}),
    ("ModelDeployment", {"analysis": {**ANALYSIS, "interval": "1h30m"}}),
    ("DriftMonitor", {"features": {"default": {"method": "chi2", "warning": 0.05,
                                               "critical": 0.01}}}),
    ("DriftMonitor", {"interval": "1h", "window": "1h"}),
    ("DriftMonitor", {"performance": {"metric": "rmse", "max": 3}}),
    ("RetrainPolicy", {"triggers": {"schedule": "*/15 0-6,22-23 ? JAN-MAR MON-FRI"}}),
    ("RetrainPolicy", {"triggers": {"schedule": "@daily"}}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec"), ACCEPTED)
def test_valid_variation_is_accepted(kind: str, spec: dict[str, Any]) -> None:
    parse(kind, spec)


def test_a_gate_without_spec_analysis_says_so_without_naming_metrics() -> None:
    with pytest.raises(InvalidObjectError) as error:
        parse("ModelDeployment", canary({"analysis": {"metrics": ["p99"]}}))
    assert [p.message for p in error.value.problems] == [
        "each analysis step of strategy.canary needs spec.analysis, and every metric it names "
        "must be defined there"
    ]


def _cel_calls(cel: str, function: str) -> list[str]:
    """The arguments of every call of `function` in a CEL expression."""
    args = []
    for start in (m.end() for m in re.finditer(rf"\b{function}\(", cel)):
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(cel[end], 0)
            end += 1
        args.append(cel[start : end - 1])
    return args


def _all_rules() -> list[Rule]:
    rules = [rule for cls in _all_models() for rule in cls.__dict__.get("rules", ())]
    return [rule for rule in rules if rule.cel is not None]


def test_every_cel_duration_is_guarded_by_the_duration_pattern() -> None:
    """The API server runs CEL on values that failed their pattern; `duration('10x')` would add
    a "type conversion error" to the pattern's message."""
    checked = 0
    for rule in _all_rules():
        for arg in _cel_calls(rule.cel or "", "duration"):
            if arg.startswith("'"):
                continue  # a literal
            assert f"!{arg}.matches('{DURATION_PATTERN}')" in (rule.cel or ""), rule.cel
            checked += 1
    assert checked >= 4


def test_name_must_be_a_dns_1035_label_for_model_deployments() -> None:
    with pytest.raises(InvalidObjectError, match=r"metadata\.name must be a DNS-1035 label"):
        parse("ModelDeployment", {}, name="9lives")
    with pytest.raises(InvalidObjectError, match="at most 52 characters"):
        parse("ModelDeployment", {}, name="a" * 53)
    parse("ModelDeployment", {}, name="a" * 52)
    parse("DriftMonitor", {}, name="9lives")  # only ModelDeployment names a Service


def test_missing_spec_is_reported() -> None:
    with pytest.raises(InvalidObjectError, match="spec: Required value"):
        parse_spec(KINDS_BY_NAME["DriftMonitor"], {"metadata": {"name": "x"}})


def _all_models() -> list[type[KubeModel]]:
    for module in pkgutil.iter_modules(modelship.api.__path__):
        importlib.import_module(f"modelship.api.{module.name}")
    found: list[type[KubeModel]] = []
    pending = list(KubeModel.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_rule_is_covered_by_this_table() -> None:
    messages = {rule.message for cls in _all_models() for rule in cls.__dict__.get("rules", ())}
    messages |= {rule.message for kind in KINDS for rule in kind.object_rules}
    covered = {message for *_, message in BROKEN} | {"metadata.name must be a DNS-1035 label"}
    uncovered = {m for m in messages if not any(c in m for c in covered)}
    assert not uncovered


def test_defaults_are_applied() -> None:
    spec = parse("ModelDeployment", {})
    assert spec.to_kube()["strategy"] == {"rolling": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert spec.to_kube()["serving"]["replicas"] == 1
    assert spec.to_kube()["model"]["format"] == "sklearn"
    monitor = parse("DriftMonitor", {}).to_kube()
    assert monitor["features"]["default"] == {"method": "psi", "warning": 0.1, "critical": 0.2}
    assert (monitor["interval"], monitor["window"]) == ("5m", "1h")
    policy = parse("RetrainPolicy", {}).to_kube()
    assert (policy["promotion"], policy["concurrency"], policy["cooldown"]) == (
        "manual",
        "Forbid",
        "6h",
    )
