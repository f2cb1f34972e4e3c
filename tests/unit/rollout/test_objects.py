"""Child manifests of a ModelDeployment."""

from __future__ import annotations

from typing import Any

from modelship.rollout.objects import ANNOTATION_HASH, LABEL_MD, LABEL_REVISION, ChildBuilder
from modelship.rollout.types import Traffic
from modelship_testing.rollout_sim import spec

MD = {
    "apiVersion": "modelship.io/v1alpha1",
    "kind": "ModelDeployment",
    "metadata": {"name": "fraud", "namespace": "ml", "uid": "u-1"},
}
GATEWAY = {
    "canary": {
        "traffic": {"router": "gatewayAPI", "gatewayAPI": {"gateway": {"name": "web"}}},
        "steps": [{"setWeight": 10}],
    }
}


def builder(**fields: Any) -> ChildBuilder:
    return ChildBuilder(MD, spec(**fields), default_image="modelship/server:1")


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    spec_: dict[str, Any] = manifest["spec"]["template"]["spec"]["containers"][0]
    return spec_


def test_deployment_carries_the_metrics_contract_labels_and_runs_locked_down() -> None:
    manifest = builder().deployment("abc123", replicas=4)
    assert manifest["metadata"]["name"] == "fraud-abc123"
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert manifest["spec"]["replicas"] == 4
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    assert labels[LABEL_MD] == "fraud"
    assert labels[LABEL_REVISION] == "abc123"
    assert (labels["model"], labels["version"]) == ("fraud", "1")
    env = {e["name"]: e.get("value") for e in container(manifest)["env"]}
    assert env["MODELSHIP_REVISION"] == "abc123"
    assert env["MODELSHIP_MODEL_URI"] == "s3://models/fraud/1/"
    security = container(manifest)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert container(manifest)["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_autoscaled_deployment_leaves_replicas_out() -> None:
    assert "replicas" not in builder().deployment("abc", replicas=None)["spec"]


def test_pvc_uri_mounts_the_claim_read_only() -> None:
    md = builder(model={"name": "fraud", "version": "1", "uri": "pvc://models/fraud/1"})
    manifest = md.deployment("abc", 1)
    volumes = {v["name"]: v for v in manifest["spec"]["template"]["spec"]["volumes"]}
    assert volumes["model-pvc"]["persistentVolumeClaim"] == {
        "claimName": "models",
        "readOnly": True,
    }
    env = {e["name"]: e.get("value") for e in container(manifest)["env"]}
    assert env["MODELSHIP_MODEL_URI"] == "file:///mnt/models/fraud/1"


def test_pod_template_overrides_merge_by_name() -> None:
    template = {
        "spec": {
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "containers": [
                {
                    "name": "server",
                    "resources": {"limits": {"nvidia.com/gpu": 1}},
                    "env": [{"name": "EXTRA", "value": "1"}],
                }
            ],
        }
    }
    manifest = builder(serving={"replicas": 1, "template": template}).deployment("abc", 1)
    pod = manifest["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert len(pod["containers"]) == 1
    assert container(manifest)["resources"]["limits"] == {"nvidia.com/gpu": 1}
    names = [e["name"] for e in container(manifest)["env"]]
    assert "EXTRA" in names
    assert "MODELSHIP_REVISION" in names


def test_hash_changes_with_content_only() -> None:
    md = builder()
    one, same, other = md.deployment("a", 1), md.deployment("a", 1), md.deployment("a", 2)
    assert (
        one["metadata"]["annotations"][ANNOTATION_HASH]
        == same["metadata"]["annotations"][ANNOTATION_HASH]
    )
    assert (
        one["metadata"]["annotations"][ANNOTATION_HASH]
        != other["metadata"]["annotations"][ANNOTATION_HASH]
    )


def test_services_per_strategy() -> None:
    traffic = Traffic(service_revision=None, stable_revision="s", canary_revision="c")
    canary = builder(strategy={"canary": {"steps": [{"setWeight": 10}]}}).services(traffic)
    selectors = {s["metadata"]["name"]: s["spec"]["selector"] for s in canary}
    assert selectors["fraud"] == {LABEL_MD: "fraud"}  # every revision: replicas router
    assert selectors["fraud-canary"][LABEL_REVISION] == "c"
    assert selectors["fraud-stable"][LABEL_REVISION] == "s"

    bg = builder(strategy={"blueGreen": {}}).services(
        Traffic(service_revision="s", stable_revision="s", canary_revision="c", preview=True)
    )
    selectors = {s["metadata"]["name"]: s["spec"]["selector"] for s in bg}
    assert selectors["fraud"][LABEL_REVISION] == "s"
    assert selectors["fraud-preview"][LABEL_REVISION] == "c"


def test_http_route_weights_and_mirror() -> None:
    md = builder(strategy=GATEWAY)
    route = md.http_route(
        Traffic(service_revision="s", stable_revision="s", canary_revision="c", canary_weight=30)
    )
    assert route is not None
    backends = route["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["weight"]) for b in backends] == [
        ("fraud-stable", 70),
        ("fraud-canary", 30),
    ]
    assert route["spec"]["parentRefs"] == [{"name": "web", "namespace": "ml"}]
    mirrored = md.http_route(
        Traffic(service_revision="s", stable_revision="s", canary_revision="c", mirror_percent=25)
    )
    assert mirrored is not None
    mirror = mirrored["spec"]["rules"][0]["filters"][0]
    assert mirror["requestMirror"]["percent"] == 25
    assert builder().http_route(Traffic(service_revision=None, stable_revision="s")) is None


def test_hpa_targets_the_stable_revision() -> None:
    md = builder(serving={"replicas": 2, "autoscaling": {"minReplicas": 2, "maxReplicas": 8}})
    hpa = md.hpa("s1")
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"]["name"] == "fraud-s1"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    assert builder().hpa("s1") is None


def test_network_policy_admits_listed_peers_and_own_pods() -> None:
    security = {
        "networkPolicy": {
            "allowFrom": [{"namespaceSelector": {"matchLabels": {"team": "checkout"}}}]
        }
    }
    policy = builder(security=security).network_policy()
    assert policy is not None
    peers = policy["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"team": "checkout"}}} in peers
    assert {"podSelector": {"matchLabels": {LABEL_MD: "fraud"}}} in peers
    assert len(peers) == 2
    assert builder().network_policy() is None


def test_network_policy_admits_the_prometheus_that_scrapes_the_metrics() -> None:
    prometheus = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    security = {"networkPolicy": {"metricsFrom": [prometheus]}}
    policy = builder(security=security).network_policy()
    assert policy is not None
    (rule,) = policy["spec"]["ingress"]
    assert prometheus in rule["from"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_auth_secret_is_mounted_as_a_refreshable_file_not_an_env_var() -> None:
    security = {"authSecretRef": {"name": "fraud-api-token", "key": "api-token"}}
    manifest = builder(security=security).deployment("abc", 1)
    pod = manifest["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["auth-token"] == {
        "name": "auth-token",
        "secret": {
            "secretName": "fraud-api-token",
            "items": [{"key": "api-token", "path": "token"}],
            "defaultMode": 0o440,
        },
    }
    server = container(manifest)
    mounts = [m for m in server["volumeMounts"] if m["name"] == "auth-token"]
    # A whole-volume mount (no subPath): the kubelet refreshes it when the Secret rotates.
    assert mounts == [{"name": "auth-token", "mountPath": "/etc/modelship/auth", "readOnly": True}]
    env = {e["name"]: e for e in server["env"]}
    assert env["MODELSHIP_AUTH_TOKEN_FILE"] == {
        "name": "MODELSHIP_AUTH_TOKEN_FILE",
        "value": "/etc/modelship/auth/token",
    }
    assert "MODELSHIP_AUTH_TOKEN" not in env
    assert not [e for e in server["env"] if "valueFrom" in e]  # no Secret in the environment
    # Still locked down: the token file is readable by the pod's group (fsGroup), non-root.
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]
    # The default key is `token`.
    default = builder(security={"authSecretRef": {"name": "t"}}).deployment("abc", 1)
    items = {v["name"]: v for v in default["spec"]["template"]["spec"]["volumes"]}
    assert items["auth-token"]["secret"]["items"] == [{"key": "token", "path": "token"}]


def test_without_an_auth_secret_there_is_no_token_file() -> None:
    manifest = builder().deployment("abc", 1)
    assert "auth-token" not in {v["name"] for v in manifest["spec"]["template"]["spec"]["volumes"]}
    assert not [e for e in container(manifest)["env"] if e["name"].startswith("MODELSHIP_AUTH")]


def test_the_revision_follows_the_secret_reference_not_its_content() -> None:
    from modelship.rollout.revision import revision_of

    def revision(security: dict[str, Any] | None) -> str:
        fields = {"security": security} if security is not None else {}
        return revision_of(spec(**fields), "modelship/server:1", "fraud")

    ref = {"authSecretRef": {"name": "fraud-api-token"}}
    assert revision(ref) == revision(ref)
    assert revision(ref) != revision(None)
    assert revision(ref) != revision({"authSecretRef": {"name": "other-token"}})
    assert revision(ref) != revision({"authSecretRef": {"name": "fraud-api-token", "key": "k"}})
    # Only the reference is hashed: the Secret's content is nowhere in the spec, so rotating
    # it keeps the revision and the pod template (no rollout); the server re-reads the file.
    one = builder(security=ref).deployment(revision(ref), 1)
    two = builder(security=ref).deployment(revision(ref), 1)
    assert (
        one["metadata"]["annotations"][ANNOTATION_HASH]
        == (two["metadata"]["annotations"][ANNOTATION_HASH])
    )


def test_a_custom_models_class_reaches_the_server_as_its_environment() -> None:
    md = builder(
        model={
            "name": "fraud",
            "version": "1",
            "uri": "s3://models/fraud/1/",
            "format": "custom",
            "modelClass": "fraud.models:FraudModel",
        },
        serving={"image": "me/fraud-server:1"},
    )
    (container,) = md.deployment("abc", 1)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELSHIP_MODEL_FORMAT"] == "custom"
    assert env["MODELSHIP_MODEL_CLASS"] == "fraud.models:FraudModel"
    (plain,) = builder().deployment("abc", 1)["spec"]["template"]["spec"]["containers"]
    assert "MODELSHIP_MODEL_CLASS" not in {e["name"] for e in plain["env"]}


def test_istio_router_splits_and_mirrors_with_a_virtual_service() -> None:
    from modelship.rollout.types import Traffic

    routing = {"router": "istio", "istio": {"virtualService": "fraud-vs", "hosts": ["fraud.ml"]}}
    md = builder(strategy={"canary": {"traffic": routing, "steps": [{"setWeight": 10}]}})
    traffic = Traffic(service_revision="s1", stable_revision="s1", canary_weight=10)
    service = md.virtual_service(traffic)
    assert service is not None
    assert service["metadata"]["name"] == "fraud-vs"
    assert service["spec"]["hosts"] == ["fraud.ml"]
    assert "gateways" not in service["spec"]
    (route,) = service["spec"]["http"]
    assert [(r["destination"]["host"], r["weight"]) for r in route["route"]] == [
        ("fraud-stable", 90),
        ("fraud-canary", 10),
    ]
    assert "mirror" not in route
    assert md.http_route(traffic) is None
    steps = {"steps": [{"setWeight": 5}]}
    shadow = builder(strategy={"shadow": {"traffic": {"router": "istio"}, "canary": steps}})
    mirrored = shadow.virtual_service(
        Traffic(service_revision="s1", stable_revision="s1", mirror_percent=30)
    )
    assert mirrored is not None
    assert mirrored["spec"]["hosts"] == ["fraud"]
    (route,) = mirrored["spec"]["http"]
    assert route["mirror"] == {"host": "fraud-canary", "port": {"number": 80}}
    assert route["mirrorPercentage"] == {"value": 30.0}
    assert builder().virtual_service(traffic) is None


def test_a_grpc_port_reaches_the_server_the_pods_the_services_and_the_policy() -> None:
    md = builder(
        serving={"grpcPort": 8081},
        security={"networkPolicy": {"allowFrom": [{"namespaceSelector": {}}]}},
    )
    (server,) = md.deployment("abc", 1)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["MODELSHIP_GRPC_PORT"] == "8081"
    assert {"name": "grpc", "containerPort": 8081, "protocol": "TCP"} in server["ports"]
    for service in md.services(Traffic(service_revision="abc", stable_revision="abc")):
        grpc = [p for p in service["spec"]["ports"] if p["name"] == "grpc"]
        assert grpc == [{"name": "grpc", "port": 8081, "targetPort": "grpc", "protocol": "TCP",
                         "appProtocol": "kubernetes.io/h2c"}]  # fmt: skip
    policy = md.network_policy()
    assert policy is not None
    assert policy["spec"]["ingress"][0]["ports"] == [
        {"port": 8080, "protocol": "TCP"}, {"port": 8081, "protocol": "TCP"}
    ]  # fmt: skip
    (plain,) = builder().deployment("abc", 1)["spec"]["template"]["spec"]["containers"]
    assert "MODELSHIP_GRPC_PORT" not in {e["name"] for e in plain["env"]}
    assert [p["name"] for p in plain["ports"]] == ["http"]


def test_the_grpc_port_must_differ_from_the_http_port() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"serving\.grpcPort must differ from serving\.port"):
        spec(serving={"grpcPort": 8080})


def test_the_grpc_port_is_part_of_the_revision() -> None:
    from modelship.rollout.revision import revision_of

    plain = revision_of(spec(), "img", "fraud")
    assert revision_of(spec(serving={"replicas": 4, "grpcPort": 8081}), "img", "fraud") != plain
    assert revision_of(spec(serving={"replicas": 4}), "img", "fraud") == plain


def test_workers_reach_the_server_and_the_revision_only_when_more_than_one() -> None:
    from modelship.rollout.revision import revision_of

    (server,) = builder(serving={"workers": 3}).deployment("abc", 1)["spec"]["template"]["spec"][
        "containers"
    ]
    assert {"name": "MODELSHIP_WORKERS", "value": "3"} in server["env"]
    (plain,) = builder().deployment("abc", 1)["spec"]["template"]["spec"]["containers"]
    assert "MODELSHIP_WORKERS" not in {e["name"] for e in plain["env"]}
    plain_revision = revision_of(spec(), "img", "fraud")
    assert revision_of(spec(serving={"workers": 1}), "img", "fraud") == plain_revision
    assert revision_of(spec(serving={"workers": 2}), "img", "fraud") != plain_revision


def test_istio_routes_grpc_on_its_own_port_by_the_same_weights() -> None:
    from modelship.rollout.types import Traffic

    md = builder(
        strategy={"canary": {"traffic": {"router": "istio"}, "steps": [{"setWeight": 10}]}},
        serving={"grpcPort": 8081},
    )
    service = md.virtual_service(Traffic(service_revision="s1", stable_revision="s1",
                                         canary_weight=10))  # fmt: skip
    assert service is not None
    rest, grpc = service["spec"]["http"]
    assert rest["match"] == [{"port": 80}]
    assert grpc["match"] == [{"port": 8081}]
    assert [(r["destination"]["host"], r["destination"]["port"], r["weight"])
            for r in grpc["route"]] == [
        ("fraud-stable", {"number": 8081}, 90), ("fraud-canary", {"number": 8081}, 10),
    ]  # fmt: skip
    assert {r["destination"]["port"]["number"] for r in rest["route"]} == {80}
