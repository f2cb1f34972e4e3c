"""`modelship lineage md/NAME`: where each model version of a ModelDeployment came from.

Reads the live objects (the ModelDeployment and the RetrainPolicies its history names) through
the Kubernetes adapter, with kubectl's configuration, and prints the chain that
`modelship.retrain.lineage` builds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import config
from kubernetes.client.exceptions import ApiException

from modelship.adapters.kubernetes import KubernetesAdapter, NoClusterError, api_client
from modelship.api.resources import MODEL_DEPLOYMENT, RETRAIN_POLICY
from modelship.retrain.lineage import lineage, policies_of, table

KIND_PREFIXES = ("md/", "mdep/", "modeldeployment/", "modeldeployments/",
                 "modeldeployment.modelship.io/")  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelship lineage",
        description="For the version of a ModelDeployment in rollout, the one serving and those "
        "before it: run, trigger (and the drift it saw), data, metrics (candidate and "
        "baseline), validation and rollout outcome.",
    )
    parser.add_argument("target", help="md/NAME (or NAME)")
    parser.add_argument("-n", "--namespace", help="default: the kubeconfig context's")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    return parser


def _name(target: str) -> str:
    for prefix in KIND_PREFIXES:
        if target.startswith(prefix):
            return target[len(prefix) :]
    if "/" in target:
        raise ValueError(f"{target}: only ModelDeployments have a lineage (md/NAME)")
    return target


def _context_namespace() -> str:
    try:
        _, current = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    except (config.ConfigException, FileNotFoundError):
        return "default"
    return str((current or {}).get("context", {}).get("namespace") or "default")


def _read(adapter: KubernetesAdapter, namespace: str, name: str) -> tuple[
    dict[str, Any], dict[str, Mapping[str, Any] | None]]:  # fmt: skip
    md = adapter.read(MODEL_DEPLOYMENT, namespace, name)

    def policy(name: str) -> Mapping[str, Any] | None:
        try:
            return adapter.read(RETRAIN_POLICY, namespace, name)
        except ApiException as err:
            if err.status != 404:
                raise
            return None

    return md, policies_of(md, policy)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        name = _name(args.target)
        namespace = args.namespace or _context_namespace()
        adapter = KubernetesAdapter(api_client(1))
        md, policies = _read(adapter, namespace, name)
    except ValueError as err:
        print(f"modelship lineage: {err}", file=sys.stderr)
        return 2
    except NoClusterError as err:
        print(f"modelship lineage: {err}", file=sys.stderr)
        return 1
    except ApiException as err:
        what = f'ModelDeployment "{name}" not found in namespace {namespace}'
        print(f"modelship lineage: {what if err.status == 404 else err.reason}", file=sys.stderr)
        return 1
    entries = lineage(md, policies)
    if args.output == "json":
        print(json.dumps([e.to_json() for e in entries], indent=2))
    elif entries:
        print(table(entries))
    else:
        print(f"ModelDeployment {namespace}/{name} has no rollout history yet")
    return 0
