"""Replica arithmetic for routers that split traffic by pod count.

With the `replicas` router there is no mesh: the ModelDeployment's Service load-balances
evenly over every ready pod of every serving revision, so a revision's share of traffic is its
share of ready pods. These functions turn a weight into pod counts and keep capacity while
the counts move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicaSplit:
    stable: int
    canary: int

    @property
    def canary_share(self) -> float:
        """The canary's real share of traffic, in percent, once every pod is ready."""
        total = self.stable + self.canary
        return 100.0 * self.canary / total if total else 0.0


def split_for_weight(total: int, weight: int) -> ReplicaSplit:
    """Pods per revision approximating `weight` percent of traffic for the canary.

    Both counts round up, so a revision that should receive any traffic always has at least
    one pod: with 1 replica and weight 10 both revisions run one pod and the canary's real
    share is 50%. The sum can exceed `total` by one pod (a surge) and never falls below it.
    Weight 0 and 100 give one revision all pods.
    """
    if total < 0:
        raise ValueError("total replicas must not be negative")
    weight = max(0, min(100, weight))
    if weight == 0:
        return ReplicaSplit(stable=total, canary=0)
    if weight == 100:
        return ReplicaSplit(stable=0, canary=total)
    canary = math.ceil(total * weight / 100)
    stable = math.ceil(total * (100 - weight) / 100)
    return ReplicaSplit(stable=stable, canary=canary)


def guarded_scale_down(target: int, current: int, total: int, other_ready: int) -> int:
    """How far a revision may shrink now without losing serving capacity.

    A revision on its way down from `current` to `target` pods keeps enough pods that, with
    the `other_ready` ready pods of the revision replacing it, at least `total` pods serve.
    Scaling up is never held back.
    """
    if target >= current:
        return target
    keep = max(total - other_ready, 0)
    return max(target, min(current, keep))


def initial_replicas(planned: int | None, autoscaling_min: int | None) -> int:
    """The replicas a new revision Deployment is created with: the planned count, or, when
    the count is left to an autoscaler, the autoscaler's minimum (one without autoscaling)."""
    if planned is not None:
        return planned
    return autoscaling_min if autoscaling_min is not None else 1


def resolve_int_or_percent(value: int | str, total: int, round_up: bool) -> int:
    """`25%` of `total` (rounded up for surge, down for unavailable, as Deployments do)."""
    if isinstance(value, int):
        return value
    if value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)
