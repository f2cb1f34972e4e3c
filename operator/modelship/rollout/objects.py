"""The child objects of a ModelDeployment, built as plain manifests from the spec and a plan.

Pure: the adapter compares each manifest's `modelship.io/desired-hash` annotation with the
live object's and writes only what differs, so a converged ModelDeployment costs no writes.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from modelship.api.modeldeployment import ModelDeploymentSpec, NetworkPolicySpec
from modelship.api.resources import GROUP
from modelship.api.strategy import IstioRouting, Router
from modelship.rollout.types import RolloutPlan, Traffic

LABEL_MD = f"{GROUP}/model-deployment"
LABEL_REVISION = f"{GROUP}/revision"
LABEL_ROLE = f"{GROUP}/role"
ANNOTATION_HASH = f"{GROUP}/desired-hash"
ANNOTATION_VERSION = f"{GROUP}/model-version"
ANNOTATION_URI = f"{GROUP}/model-uri"
ANNOTATION_IMAGE = f"{GROUP}/image"
SERVICE_PORT = 80
PROFILE_MOUNT = "/etc/modelship/profile"
PROFILE_VOLUME = "profile"
PROFILE_PATH_ENV = "MODELSHIP_PROFILE_PATH"
PVC_MOUNT = "/mnt/models"
# The authSecretRef key as a file in a whole-volume mount (a subPath mount would not be
# refreshed when the Secret changes); readable by owner and group (the pod's fsGroup).
AUTH_MOUNT = "/etc/modelship/auth"
AUTH_TOKEN_FILE = "token"
AUTH_TOKEN_MODE = 0o440
RUN_AS = 65532

Manifest = dict[str, Any]


def content_hash(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k not in ("metadata", "status")}
    body["labels"] = manifest.get("metadata", {}).get("labels")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _finish(manifest: Manifest) -> Manifest:
    manifest["metadata"].setdefault("annotations", {})[ANNOTATION_HASH] = content_hash(manifest)
    return manifest


class ChildBuilder:
    """Manifests for one ModelDeployment."""

    def __init__(
        self, md: Mapping[str, Any], spec: ModelDeploymentSpec, default_image: str
    ) -> None:
        meta = md["metadata"]
        self.name: str = meta["name"]
        self.namespace: str = meta["namespace"]
        self.spec = spec
        self.image = spec.serving.image or default_image
        self.owner = {
            "apiVersion": md.get("apiVersion", f"{GROUP}/v1alpha1"),
            "kind": md.get("kind", "ModelDeployment"),
            "name": self.name,
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    # --- names --------------------------------------------------------------------------
    def deployment_name(self, revision: str) -> str:
        return f"{self.name}-{revision}"

    @property
    def preview_service(self) -> str:
        bg = self.spec.strategy.blue_green
        return (bg.preview_service if bg else None) or f"{self.name}-preview"

    def inference_url(self) -> str:
        host = f"{self.name}.{self.namespace}.svc.cluster.local"
        return f"http://{host}/v2/models/{self.spec.model.name}/infer"

    def _meta(self, name: str, labels: Mapping[str, str] | None = None) -> Manifest:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": {
                "app.kubernetes.io/name": "modelship-server",
                "app.kubernetes.io/instance": self.name,
                "app.kubernetes.io/managed-by": "modelship",
                LABEL_MD: self.name,
                **(labels or {}),
            },
            "ownerReferences": [dict(self.owner)],
        }

    # --- Deployments --------------------------------------------------------------------
    def deployment(self, revision: str, replicas: int | None) -> Manifest:
        """The Deployment of the spec's revision (`replicas` None: left to the HPA)."""
        model = self.spec.model
        selector = {LABEL_MD: self.name, LABEL_REVISION: revision}
        pod_labels = {
            **selector,
            "app.kubernetes.io/name": "modelship-server",
            "model": model.name,
            "version": model.version,
        }
        spec: Manifest = {
            "revisionHistoryLimit": 1,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(self.spec.serving.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": self._pod_spec(revision),
            },
        }
        if replicas is not None:
            spec["replicas"] = replicas
        template = self.spec.serving.template
        if template:
            spec["template"] = merge_pod_template(spec["template"], template)
        meta = self._meta(self.deployment_name(revision), {LABEL_REVISION: revision})
        meta["annotations"] = {
            ANNOTATION_VERSION: model.version,
            ANNOTATION_URI: model.uri,
            ANNOTATION_IMAGE: self.image,
        }
        return _finish(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
        )

    def _pod_spec(self, revision: str) -> Manifest:
        model, serving = self.spec.model, self.spec.serving
        uri = model.uri
        volumes: list[Manifest] = [
            {"name": "tmp", "emptyDir": {}},
            {"name": "model-cache", "emptyDir": {}},
        ]
        mounts: list[Manifest] = [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "model-cache", "mountPath": "/var/cache/modelship"},
        ]
        if uri.startswith("pvc://"):
            claim, _, path = uri[len("pvc://") :].partition("/")
            volumes.append(
                {
                    "name": "model-pvc",
                    "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
                }
            )
            mounts.append({"name": "model-pvc", "mountPath": PVC_MOUNT, "readOnly": True})
            uri = f"file://{PVC_MOUNT}/{path}"
        env: list[Manifest] = [
            {"name": "MODELSHIP_MODEL_NAME", "value": model.name},
            {"name": "MODELSHIP_MODEL_VERSION", "value": model.version},
            {"name": "MODELSHIP_MODEL_URI", "value": uri},
            {"name": "MODELSHIP_MODEL_FORMAT", "value": model.format.value},
            {"name": "MODELSHIP_REVISION", "value": revision},
            {"name": "MODELSHIP_PORT", "value": str(serving.port)},
            {"name": "MODELSHIP_HOST", "value": "0.0.0.0"},
            {"name": "MODELSHIP_CACHE_DIR", "value": "/var/cache/modelship"},
        ]
        ports: list[Manifest] = [{"name": "http", "containerPort": serving.port, "protocol": "TCP"}]
        if serving.grpc_port is not None:
            env.append({"name": "MODELSHIP_GRPC_PORT", "value": str(serving.grpc_port)})
            ports.append({"name": "grpc", "containerPort": serving.grpc_port, "protocol": "TCP"})
        if serving.workers > 1:
            env.append({"name": "MODELSHIP_WORKERS", "value": str(serving.workers)})
        if model.model_class is not None:
            env.append({"name": "MODELSHIP_MODEL_CLASS", "value": model.model_class})
        if model.profile_ref is not None:
            config_map = {"name": model.profile_ref.config_map}
            volumes.append({"name": PROFILE_VOLUME, "configMap": config_map})
            mounts.append({"name": PROFILE_VOLUME, "mountPath": PROFILE_MOUNT, "readOnly": True})
            env.append(
                {"name": PROFILE_PATH_ENV, "value": f"{PROFILE_MOUNT}/{model.profile_ref.key}"}
            )
        security = self.spec.security
        if security is not None and security.auth_secret_ref is not None:
            # A mounted file, not an env var: the kubelet refreshes it in place when the
            # Secret rotates and the server re-reads it, so rotation needs no rollout.
            ref = security.auth_secret_ref
            volumes.append(
                {
                    "name": "auth-token",
                    "secret": {
                        "secretName": ref.name,
                        "items": [{"key": ref.key, "path": AUTH_TOKEN_FILE}],
                        "defaultMode": AUTH_TOKEN_MODE,
                    },
                }
            )
            mounts.append({"name": "auth-token", "mountPath": AUTH_MOUNT, "readOnly": True})
            env.append(
                {"name": "MODELSHIP_AUTH_TOKEN_FILE", "value": f"{AUTH_MOUNT}/{AUTH_TOKEN_FILE}"}
            )
        probe = {"httpGet": {"path": "/v2/health/ready", "port": "http"}, "periodSeconds": 5}
        container: Manifest = {
            "name": "server",
            "image": self.image,
            "args": ["serve"],
            "env": env,
            "ports": ports,
            "readinessProbe": probe,
            "startupProbe": {**probe, "failureThreshold": 60},
            "livenessProbe": {
                "httpGet": {"path": "/v2/health/live", "port": "http"},
                "periodSeconds": 10,
            },
            "volumeMounts": mounts,
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
        if serving.resources is not None:
            container["resources"] = serving.resources.to_kube()
        return {
            "containers": [container],
            "volumes": volumes,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        }

    # --- Services and routes ------------------------------------------------------------
    def _service(self, name: str, revision: str | None, role: str) -> Manifest:
        selector = {LABEL_MD: self.name}
        if revision is not None:
            selector[LABEL_REVISION] = revision
        return _finish(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self._meta(name, {LABEL_ROLE: role}),
                "spec": {
                    "selector": selector,
                    "ports": self._service_ports(),
                },
            }
        )

    def _service_ports(self) -> list[Manifest]:
        ports: list[Manifest] = [
            {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
        ]
        grpc_port = self.spec.serving.grpc_port
        if grpc_port is not None:  # h2c: meshes and gateways then treat it as gRPC
            ports.append({"name": "grpc", "port": grpc_port, "targetPort": "grpc",
                          "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"})  # fmt: skip
        return ports

    def services(self, traffic: Traffic) -> list[Manifest]:
        """The main Service, plus stable/canary Services for routed or shadowed traffic and
        the preview Service for blue-green. Idle ones select the stable revision."""
        stable = traffic.stable_revision
        out = [self._service(self.name, traffic.service_revision, "main")]
        kind = self.spec.strategy.kind
        if kind in ("canary", "shadow"):
            out.append(self._service(f"{self.name}-stable", stable, "stable"))
            out.append(
                self._service(f"{self.name}-canary", traffic.canary_revision or stable, "canary")
            )
        if kind == "blueGreen":
            preview = traffic.canary_revision if traffic.preview else None
            out.append(self._service(self.preview_service, preview or stable, "preview"))
        return out

    def http_route(self, traffic: Traffic) -> Manifest | None:
        routing = self.spec.strategy.traffic
        if routing is None or routing.router is not Router.GATEWAY_API or not routing.gateway_api:
            return None
        gw = routing.gateway_api
        parent: Manifest = {
            "name": gw.gateway.name,
            "namespace": gw.gateway.namespace or self.namespace,
        }
        if gw.gateway.section_name:
            parent["sectionName"] = gw.gateway.section_name
        weight = traffic.canary_weight
        rule: Manifest = {
            "backendRefs": [
                {"name": f"{self.name}-stable", "port": SERVICE_PORT, "weight": 100 - weight},
                {"name": f"{self.name}-canary", "port": SERVICE_PORT, "weight": weight},
            ]
        }
        if traffic.mirror_percent:
            rule["filters"] = [
                {
                    "type": "RequestMirror",
                    "requestMirror": {
                        "backendRef": {"name": f"{self.name}-canary", "port": SERVICE_PORT},
                        "percent": traffic.mirror_percent,
                    },
                }
            ]
        spec: Manifest = {"parentRefs": [parent], "rules": [rule]}
        if gw.hostnames:
            spec["hostnames"] = list(gw.hostnames)
        return _finish(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": self._meta(gw.http_route or self.name),
                "spec": spec,
            }
        )

    def virtual_service(self, traffic: Traffic) -> Manifest | None:
        """Istio: the mesh (or the listed gateways) sends calls for the model's host to the
        stable and canary Services by weight, and mirrors a share to the canary."""
        routing = self.spec.strategy.traffic
        if routing is None or routing.router is not Router.ISTIO:
            return None
        istio = routing.istio or IstioRouting()
        weight = traffic.canary_weight

        def routed(port: int) -> Manifest:
            def destination(service: str) -> Manifest:
                return {"host": f"{self.name}-{service}", "port": {"number": port}}

            route: Manifest = {
                "route": [
                    {"destination": destination("stable"), "weight": 100 - weight},
                    {"destination": destination("canary"), "weight": weight},
                ]
            }
            if traffic.mirror_percent:
                route["mirror"] = destination("canary")
                route["mirrorPercentage"] = {"value": float(traffic.mirror_percent)}
            return route

        http = [routed(SERVICE_PORT)]
        grpc_port = self.spec.serving.grpc_port
        if grpc_port is not None:
            # Istio applies http routes to every HTTP/2 and gRPC port of the host: match each
            # route to its port, or gRPC would be sent on to the REST port.
            http = [{"match": [{"port": SERVICE_PORT}], **http[0]},
                    {"match": [{"port": grpc_port}], **routed(grpc_port)}]  # fmt: skip
        spec: Manifest = {"hosts": list(istio.hosts or [self.name]), "http": http}
        if istio.gateways:
            spec["gateways"] = list(istio.gateways)
        return _finish(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": self._meta(istio.virtual_service or self.name),
                "spec": spec,
            }
        )

    # --- scaling, disruption, network -----------------------------------------------------
    def hpa(self, stable_revision: str) -> Manifest | None:
        autoscaling = self.spec.serving.autoscaling
        if autoscaling is None:
            return None
        cpu_target = autoscaling.target_cpu_utilization_percentage
        return _finish(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": self._meta(self.name),
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": self.deployment_name(stable_revision),
                    },
                    "minReplicas": autoscaling.min_replicas,
                    "maxReplicas": autoscaling.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": cpu_target,
                                },
                            },
                        }
                    ],
                },
            }
        )

    def pdb(self) -> Manifest:
        return _finish(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": self._meta(self.name),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {LABEL_MD: self.name}}},
            }
        )

    def network_policy(self) -> Manifest | None:
        security = self.spec.security
        if security is None or security.network_policy is None:
            return None
        policy: NetworkPolicySpec = security.network_policy
        serving = self.spec.serving
        peers: list[Manifest] = [
            peer.to_kube() for peer in [*policy.allow_from, *policy.metrics_from]
        ]
        peers.append({"podSelector": {"matchLabels": {LABEL_MD: self.name}}})
        return _finish(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": self._meta(self.name),
                "spec": {
                    "podSelector": {"matchLabels": {LABEL_MD: self.name}},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": peers,
                            "ports": [
                                {"port": port, "protocol": "TCP"}
                                for port in (serving.port, serving.grpc_port)
                                if port is not None
                            ],
                        }
                    ],
                },
            }
        )

    def children(self, plan: RolloutPlan, spec_revision: str) -> list[Manifest]:
        """Every desired child except the Deployments (the adapter scales those)."""
        out = self.services(plan.traffic)
        for optional in (
            self.http_route(plan.traffic),
            self.virtual_service(plan.traffic),
            self.hpa(plan.status.stable_revision or spec_revision),
            self.network_policy(),
        ):
            if optional is not None:
                out.append(optional)
        out.append(self.pdb())
        return out


def merge_pod_template(base: Manifest, override: Mapping[str, Any]) -> Manifest:
    """Merge a user's partial pod template over the generated one: maps merge recursively,
    containers and volumes merge by name, other lists are replaced."""
    merged = copy.deepcopy(base)
    _merge_into(merged, override)
    return merged


def _merge_into(target: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge_into(current, value)
        elif (
            key in ("containers", "initContainers", "volumes", "env", "volumeMounts")
            and isinstance(value, list)
            and isinstance(current, list)
        ):
            by_name = {item.get("name"): item for item in current if isinstance(item, dict)}
            for item in value:
                name = item.get("name") if isinstance(item, Mapping) else None
                if name in by_name:
                    _merge_into(by_name[name], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)
