"""Multiple-testing corrections for the p-values of one evaluation.

One DriftMonitor evaluation runs one test per feature. With 20 features tested at 0.01 and no
drift at all, some feature is flagged in about 1 - 0.99**20 = 18% of evaluations; a correction
adjusts the p-values so that a threshold keeps its meaning for the evaluation as a whole.
Adjusted p-values are compared with the same thresholds as raw ones (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelship.api.common import MultipleTesting


def _method(method: MultipleTesting | str) -> MultipleTesting:
    try:
        return MultipleTesting(method)
    except ValueError:
        known = ", ".join(m.value for m in MultipleTesting)
        raise ValueError(
            f"unknown multiple-testing method {method!r}; use one of {known}"
        ) from None


def multiple_testing(
    p_values: Sequence[float], method: MultipleTesting | str = MultipleTesting.NONE
) -> list[float]:
    """Adjusted p-values, in the order given.

    - none: unchanged;
    - bonferroni: min(1, m * p) for m p-values (controls the family-wise error rate);
    - benjaminiHochberg: the step-up adjustment p_(i) * m / i, made monotone from the largest
      down and capped at 1 (controls the false discovery rate; equal to
      `scipy.stats.false_discovery_control(p, method="bh")`).
    """
    chosen = _method(method)
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("p_values: expected a flat sequence")
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must lie in [0, 1]")
    m = p.size
    if m == 0 or chosen is MultipleTesting.NONE:
        return [float(v) for v in p]
    if chosen is MultipleTesting.BONFERRONI:
        return [float(v) for v in np.minimum(p * m, 1.0)]
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]  # step-up: adj_(i) = min_{j>=i} ...
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in adjusted]
