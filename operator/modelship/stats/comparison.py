"""One-sided two-sample tests of "the canary is worse than stable", on the binned counts both
revisions export. Pure.

- `mann_whitney_binned`: are the canary's values (latencies) stochastically greater? Values
  in one bin are ties; the variance carries the tie correction, so the p-value equals
  `scipy.stats.mannwhitneyu(canary, stable, alternative="greater", method="asymptotic")` on
  the expanded samples.
- `two_proportions`: is the canary's event rate (errors) greater? The pooled z-test; its
  square is the uncorrected chi-square of the 2x2 table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm


@dataclass(frozen=True)
class OneSidedTest:
    statistic: float
    """z: positive when the canary looks worse."""
    p_value: float
    """Probability of a statistic at least this high if the canary were no worse."""


NO_EVIDENCE = OneSidedTest(0.0, 1.0)


def mann_whitney_binned(canary: Sequence[float], stable: Sequence[float]) -> OneSidedTest:
    """Counts per ordered bin (same bins, lowest first) of the canary and the stable sample."""
    if len(canary) != len(stable):
        raise ValueError(f"{len(canary)} canary bins but {len(stable)} stable bins")
    if any(c < 0 for c in canary) or any(s < 0 for s in stable):
        raise ValueError("counts must be non-negative")
    n1, n2 = float(sum(canary)), float(sum(stable))
    total = n1 + n2
    if n1 <= 0 or n2 <= 0:
        return NO_EVIDENCE
    below, u = 0.0, 0.0
    for c, s in zip(canary, stable, strict=True):
        u += c * (below + s / 2)  # canary values above the stable ones, ties counted half
        below += s
    ties = sum((c + s) ** 3 - (c + s) for c, s in zip(canary, stable, strict=True))
    variance = n1 * n2 / 12 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:
        return NO_EVIDENCE  # every value in one bin: nothing tells the samples apart
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)  # with continuity correction
    return OneSidedTest(z, float(norm.sf(z)))


def two_proportions(
    canary_events: float, canary_total: float, stable_events: float, stable_total: float
) -> OneSidedTest:
    """Events (errors) out of totals (requests) on each side."""
    for events, total in ((canary_events, canary_total), (stable_events, stable_total)):
        if events < 0 or total < 0 or events > total:
            raise ValueError(f"{events} events out of {total} is not a proportion")
    if canary_total <= 0 or stable_total <= 0:
        return NO_EVIDENCE
    pooled = (canary_events + stable_events) / (canary_total + stable_total)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / canary_total + 1 / stable_total))
    if spread == 0:
        return NO_EVIDENCE  # no events at all, or only events: no difference to see
    z = (canary_events / canary_total - stable_events / stable_total) / spread
    return OneSidedTest(z, float(norm.sf(z)))
