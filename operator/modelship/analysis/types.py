"""What analysis answers for one gate. Rollouts read it; so can any other consumer of
analysis (a drift evaluator, a retrain validation) without importing rollouts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modelship.api.analysis import Measurement


class Verdict(StrEnum):
    """The analysis component's answer for one gate."""

    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    """No usable data (no traffic, too few samples, Prometheus unreachable) past the limit:
    the rollout pauses; it never rolls back on an inconclusive result."""


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    message: str = ""
    measurements: tuple[Measurement, ...] = ()
