"""A correction to kopf 1.45 the operator needs to keep its promises.

kopf stops watching a namespace as soon as it is marked for deletion and its status
conditions show nothing remaining, which the namespace controller reports for a moment,
before it has counted the content. The objects in it are then never seen deleted: kopf's
finalizer stays on them and the namespace stays Terminating (kopf issue #1088; only an
operator given `--namespace` is affected, a cluster-wide one observes no namespaces). A
namespace is watched here until it is really gone, its DELETED event: kopf then sees the
objects' deletion, stops their workers and removes its finalizer.
"""

from __future__ import annotations

import importlib
from typing import Any

import structlog


def _gone(raw_event: Any) -> bool:
    return bool(raw_event["type"] == "DELETED")


def watch_namespaces_until_gone() -> bool:
    """Apply the correction; False (and a warning, not a crash) when kopf's internals it
    corrects are not where kopf 1.45 has them."""
    observation: Any
    try:
        observation = importlib.import_module("kopf._core.reactor.observation")
    except ImportError:
        observation = None
    if observation is None or not callable(getattr(observation, "is_deleted", None)):
        structlog.get_logger("modelship.operator").warning(
            "kopf changed: a deleted namespace may stay Terminating for a namespaced operator "
            "(docs/troubleshooting.md#a-modeldeployment-or-its-namespace-is-stuck-terminating)"
        )
        return False
    observation.is_deleted = _gone
    return True
