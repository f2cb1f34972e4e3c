"""Multiple-testing corrections: hand-checked tables and scipy's false_discovery_control."""

from __future__ import annotations

import numpy as np
import pytest
from modelship.stats import MultipleTesting, multiple_testing
from scipy.stats import false_discovery_control

P = [0.01, 0.04, 0.03, 0.005, 0.5]


@pytest.mark.parametrize(
    ("method", "p_values", "expected"),
    [
        ("none", P, P),
        ("bonferroni", P, [0.05, 0.2, 0.15, 0.025, 1.0]),
        # BH by hand: sorted 0.005, 0.01, 0.03, 0.04, 0.5 times 5/i = 0.025, 0.025, 0.05, 0.05,
        # 0.5; already monotone; back in the given order
        ("benjaminiHochberg", P, [0.025, 0.05, 0.05, 0.025, 0.5]),
        # step-up monotonicity: 0.02 * 3/1 = 0.06 would exceed 0.03 * 3/2 = 0.045, so it is
        # lowered to the minimum of the adjusted values above it
        ("benjaminiHochberg", [0.02, 0.03, 0.9], [0.045, 0.045, 0.9]),
        ("benjaminiHochberg", [0.04, 0.04, 0.04], [0.04, 0.04, 0.04]),  # ties
        ("benjaminiHochberg", [0.6, 0.9], [0.9, 0.9]),
        ("bonferroni", [0.3, 0.6], [0.6, 1.0]),  # capped at 1
        ("benjaminiHochberg", [0.01], [0.01]),  # one test: nothing to correct
        ("bonferroni", [], []),
        ("benjaminiHochberg", [0.0, 1.0], [0.0, 1.0]),
    ],
)
def test_adjusted_p_values(method: str, p_values: list[float], expected: list[float]) -> None:
    assert multiple_testing(p_values, method) == pytest.approx(expected, rel=1e-12)


def test_methods_are_the_api_enum() -> None:
    assert {m.value for m in MultipleTesting} == {"none", "bonferroni", "benjaminiHochberg"}
    assert multiple_testing(P, MultipleTesting.BENJAMINI_HOCHBERG) == multiple_testing(
        P, "benjaminiHochberg"
    )
    assert multiple_testing(P) == P  # no correction unless asked


@pytest.mark.parametrize("size", [1, 2, 5, 20, 200])
def test_benjamini_hochberg_equals_scipy(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(20):
        p = rng.uniform(size=size) ** rng.uniform(0.5, 4)  # a mix of small and large p-values
        expected = false_discovery_control(p, method="bh")
        assert multiple_testing(p.tolist(), "benjaminiHochberg") == pytest.approx(
            expected.tolist(), rel=1e-12, abs=1e-15
        )


def test_adjusted_p_values_keep_the_order_and_never_shrink() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(size=50).tolist()
    for method in MultipleTesting:
        adjusted = multiple_testing(p, method)
        assert all(a >= raw for a, raw in zip(adjusted, p, strict=True))
        assert all(a <= 1 for a in adjusted)
        order = np.argsort(p)
        assert np.all(np.diff(np.asarray(adjusted)[order]) >= 0)
    bh, bonferroni = multiple_testing(p, "benjaminiHochberg"), multiple_testing(p, "bonferroni")
    assert all(a <= b for a, b in zip(bh, bonferroni, strict=True))


@pytest.mark.parametrize(
    ("p_values", "method", "message"),
    [
        ([0.1], "holm", "unknown multiple-testing method 'holm'"),
        ([1.5], "none", r"\[0, 1\]"),
        ([-0.1], "bonferroni", r"\[0, 1\]"),
        ([float("nan")], "benjaminiHochberg", r"\[0, 1\]"),
    ],
)
def test_invalid_input(p_values: list[float], method: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        multiple_testing(p_values, method)
