"""The chart's values: values.schema.json refuses a bad value by name, README documents them
all, and the `helm test` hook renders as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship.adapters.notifications import load_config
from modelship.controller.settings import parse
from modelship_testing.chart import CHART, render, run_helm

SCHEMA_REFUSALS = [
    (["--set", "replicaCount=two"], "at '/replicaCount': got string, want integer"),
    (["--set", "metrics.port=abc"], "at '/metrics/port': got string, want integer"),
    (["--set", "healthPort=70000"], "at '/healthPort': maximum: got 70,000, want 65,535"),
    (["--set", "log.level=loud"], "at '/log/level': value must be one of 'debug', 'info'"),
    (["--set", "log.format=xml"], "at '/log/format': value must be one of 'json', 'console'"),
    (["--set", "watchNamespaces=ml"], "at '/watchNamespaces': got string, want array"),
    (["--set", "watchNamespaces={ML}"], "at '/watchNamespaces/0'"),
    (["--set", "replicacount=2"], "additional properties 'replicacount' not allowed"),
    (["--set", "prometheus.url=prometheus:9090"], "at '/prometheus/url'"),
    (["--set", "prometheus.bearerTokenFile=token"], "at '/prometheus/bearerTokenFile'"),
    (["--set", "prometheus.caSecret=ca"], "at '/prometheus/caSecret': got string, want object"),
    (["--set", "prometheus.caSecret.key="], "at '/prometheus/caSecret/key'"),
    (["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
    (["--set", "podMonitor.enabled=yes please"], "at '/podMonitor/enabled'"),
    (["--set", "podMonitor.interval=15"], "at '/podMonitor/interval'"),
    (["--set", "notifications.receivers[0].name=a",
      "--set", "notifications.receivers[0].type=teams",
      "--set", "notifications.receivers[0].secret.name=s"], "at '/notifications/receivers/0/type'"),
    (["--set", "notifications.receivers[0].name=a",
      "--set", "notifications.receivers[0].url=https://hooks.example/x"],
     "at '/notifications/receivers/0'"),
    (["--set", "notifications.maxAttempts=0"], "at '/notifications/maxAttempts'"),
    (["--set", "sharding.shards=0"], "at '/sharding/shards': minimum: got 0, want 1"),
    (["--set", "sharding.key=pod"], "at '/sharding/key'"),
    (["--set", f"notifications.receivers[0].name={'a' * 57}",
      "--set", "notifications.receivers[0].secret.name=s"], "at '/notifications/receivers/0/name'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"), SCHEMA_REFUSALS, ids=[v[1] for v, _ in SCHEMA_REFUSALS]
)
def test_a_bad_value_fails_helm_template_naming_it(values: list[str], message: str) -> None:
    refused = run_helm("template", "ms", str(CHART), *values)
    assert refused.returncode != 0, f"{values} rendered"
    assert "values don't meet the specifications of the schema" in refused.stderr
    assert message in refused.stderr, refused.stderr


@pytest.mark.parametrize(
    "values",
    [
        ["--set", "replicaCount=3", "--set", "log.level=DEBUG", "--set", "log.format=console"],
        ["--set", "watchNamespaces={ml,team-b}", "--set", "metrics.port=9090"],
        ["--set", "prometheus.url=", "--set", "prometheus.caSecret.name=prom-ca"],
        ["--set", "prometheus.bearerTokenFile=/var/run/secrets/kubernetes.io/serviceaccount/token"],
        ["--set", "podMonitor.enabled=true", "--set", "podMonitor.interval=1m30s"],
        ["--set", "resources.requests.cpu=1", "--set", "imagePullSecrets[0].name=regcred"],
    ],
)
def test_good_values_render(values: list[str]) -> None:
    assert render("ms", "modelship", *values)


def _leaves(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted paths of values.yaml's settings; a map that is itself a setting (resources,
    labels, a security context) is one leaf."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if (
            isinstance(value, dict)
            and value
            and key not in {"resources"}
            and not key.endswith(("Context", "Selector"))
        ):
            out.update(_leaves(value, f"{path}."))
        else:
            out[path] = value
    return out


def test_readme_documents_every_value_with_its_default() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]*) \|", (CHART / "README.md").read_text(), re.M)
    documented = dict(rows)
    assert set(documented) == set(_leaves(values)), (
        "README.md's values table and values.yaml differ"
    )
    for path, default in _leaves(values).items():
        if isinstance(default, (str, int, bool)) or default in ([], {}):
            shown = yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("\n...")
            shown = {"''": '""'}.get(shown, shown)
            assert documented[path].strip() == f"`{shown}`", (path, documented[path], shown)


def _only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, [doc["kind"] for doc in docs]
    return found[0]


def test_test_hook_is_a_pod_helm_runs_on_helm_test() -> None:
    docs = render("ms", "modelship", "--set", "healthPort=9001", "--set", "metrics.port=9000")
    hooks = [doc for doc in docs if (doc["metadata"].get("annotations") or {}).get("helm.sh/hook")]
    assert [(h["kind"], h["metadata"]["annotations"]["helm.sh/hook"]) for h in hooks] == [
        ("Pod", "test")
    ]
    pod, service = hooks[0], _only(docs, "Service")
    assert pod["spec"]["restartPolicy"] == "Never"
    script = pod["spec"]["containers"][0]["args"][0]
    base = f"http://{service['metadata']['name']}.modelship.svc"
    assert f"{base}:9001/healthz" in script
    assert f"{base}:9000/metrics" in script
    assert {p["port"] for p in service["spec"]["ports"]} == {9000, 9001}
    # The Service must not route to the test Pod itself.
    assert not service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["containers"][0]["image"] == "ghcr.io/modelship/modelship:0.1.0"


def test_notification_receivers_render_a_file_the_operator_loads_naming_no_url(
    tmp_path: Path,
) -> None:
    receiver = "notifications.receivers[0]"
    docs = render("ms", "modelship", "--set", f"{receiver}.name=team", "--set",
                  f"{receiver}.type=slack", "--set", f"{receiver}.secret.name=slack-hook",
                  "--set", f"{receiver}.events={{rollout.promoted,drift.raised}}",
                  "--set", "notifications.maxAttempts=3")  # fmt: skip
    config_map = next(d for d in docs if d["kind"] == "ConfigMap"
                      and d["metadata"]["name"] == "ms-modelship-notifications")  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    config = load_config(str(path))  # what the operator reads at start-up
    assert config.max_attempts == 3
    [team] = config.receivers
    assert (team.name, team.type) == ("team", "slack")
    assert team.events == ["rollout.promoted", "drift.raised"]
    pod = _only(docs, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELSHIP_NOTIFICATIONS_CONFIG"] == "/etc/modelship/notifications/config.yaml"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert team.url_file == f"{mounts['notify-team']}/url"
    secret = next(v for v in pod["volumes"] if v["name"] == "notify-team")["secret"]
    assert secret == {"secretName": "slack-hook", "items": [{"key": "url", "path": "url"}]}
    # Without receivers, nothing of it renders.
    plain = render("ms", "modelship")
    assert not [d for d in plain if d["metadata"]["name"].endswith("-notifications")]


def test_shards_render_one_deployment_each_that_split_the_objects_between_them() -> None:
    docs = render("ms", "modelship", "--set", "sharding.shards=3", "--set", "replicaCount=2",
                  "--set", "sharding.key=label:team")  # fmt: skip
    deployments = [doc for doc in docs if doc["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == [
        "ms-modelship-shard-0", "ms-modelship-shard-1", "ms-modelship-shard-2"
    ]  # fmt: skip
    selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in deployments]
    assert len(set(selectors)) == 3  # no Deployment adopts another shard's pods
    for d in deployments:
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
    configs = []
    for d in deployments:
        (container,) = d["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        configs.append(parse(container["args"][1:], env))  # what each operator starts with
    assert [c.sharding.index for c in configs] == [0, 1, 2]
    assert {(c.sharding.shards, c.sharding.key) for c in configs} == {(3, "label:team")}
    peerings = {c.peering for c in configs}
    assert len(peerings) == 3  # each shard's standby replicas under its own name
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterKopfPeering"} == peerings
    # Every object has exactly one owner.
    for team in ("fraud", "churn", "ads", "search", "risk"):
        owners = [c.sharding.index for c in configs if c.sharding.owns("ml", {"team": team})]
        assert len(owners) == 1, (team, owners)
    single = [doc for doc in render("ms", "modelship") if doc["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in single] == ["ms-modelship"]
    assert "modelship.io/shard" not in single[0]["spec"]["selector"]["matchLabels"]


def test_the_cluster_wide_finalizer_rule_can_be_turned_off() -> None:
    def cluster_patch(*values: str) -> bool:
        docs = render("ms", "modelship", "--set", "watchNamespaces={ml}", *values)
        return any(
            rule.get("verbs") == ["patch"] and "modeldeployments" in rule.get("resources", [])
            for doc in docs if doc["kind"] == "ClusterRole"
            for rule in doc.get("rules") or []
        )  # fmt: skip

    assert cluster_patch()
    assert not cluster_patch("--set", "rbac.finalizersClusterWide=false")
