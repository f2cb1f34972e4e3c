"""Threshold semantics: distances drift at or above a threshold, p-values at or below."""

from __future__ import annotations

import pytest
from modelship.api.common import DEFAULT_THRESHOLDS, P_VALUE_METHODS, DriftMethod
from modelship.api.common import Severity as ApiSeverity
from modelship.stats import (
    METHODS,
    BinnedInput,
    Direction,
    MultipleTesting,
    ScoreRequest,
    Severity,
    chi_square,
    classify,
    score,
    score_many,
)
from modelship.stats import drift as stats_drift


@pytest.mark.parametrize(
    ("direction", "value", "warning", "critical", "expected"),
    [
        (Direction.HIGHER_IS_DRIFT, 0.05, 0.1, 0.25, Severity.NONE),
        (Direction.HIGHER_IS_DRIFT, 0.1, 0.1, 0.25, Severity.WARNING),
        (Direction.HIGHER_IS_DRIFT, 0.25, 0.1, 0.25, Severity.CRITICAL),
        (Direction.HIGHER_IS_DRIFT, 0.3, None, 0.25, Severity.CRITICAL),
        (Direction.HIGHER_IS_DRIFT, 0.3, 0.1, None, Severity.WARNING),
        (Direction.HIGHER_IS_DRIFT, 9.0, None, None, Severity.NONE),
        (Direction.LOWER_IS_DRIFT, 0.5, 0.05, 0.01, Severity.NONE),
        (Direction.LOWER_IS_DRIFT, 0.05, 0.05, 0.01, Severity.WARNING),
        (Direction.LOWER_IS_DRIFT, 0.01, 0.05, 0.01, Severity.CRITICAL),
        (Direction.LOWER_IS_DRIFT, 0.0500001, 0.05, 0.01, Severity.NONE),
        (Direction.LOWER_IS_DRIFT, 0.02, 0.05, 0.01, Severity.WARNING),
        (Direction.LOWER_IS_DRIFT, 0.001, 0.05, 0.01, Severity.CRITICAL),
    ],
)
def test_classify(
    direction: Direction,
    value: float,
    warning: float | None,
    critical: float | None,
    expected: Severity,
) -> None:
    assert classify(direction, value, warning, critical) is expected


def test_every_method_scores_a_shift() -> None:
    data = BinnedInput(
        reference_counts=[250, 250, 250, 250],
        current_counts=[100, 150, 300, 450],
        centres=[-1.5, -0.5, 0.5, 1.5],
        reference_std=1.0,
    )
    for name in METHODS:
        result = score(name, data)
        assert result.severity is Severity.CRITICAL, (name, result)


def test_methods_without_thresholds_use_their_defaults() -> None:
    same = BinnedInput([10, 10], [10, 10], centres=[0, 1])
    assert all(score(name, same).severity is Severity.NONE for name in METHODS)


def test_wasserstein_needs_centres() -> None:
    with pytest.raises(ValueError, match="centres"):
        score("wasserstein", BinnedInput([1, 2], [2, 1]))


def test_method_names_are_the_drift_monitor_api_names() -> None:
    assert set(METHODS) == {m.value for m in DriftMethod}
    assert all(isinstance(key, DriftMethod) for key in METHODS)
    assert METHODS["psi"] is METHODS[DriftMethod.PSI]


def test_severity_and_defaults_are_defined_once_in_the_api() -> None:
    assert Severity is ApiSeverity
    assert stats_drift.Severity is ApiSeverity
    assert not hasattr(stats_drift, "DriftMethod") or stats_drift.DriftMethod is DriftMethod
    for method, spec in METHODS.items():
        assert spec.defaults is DEFAULT_THRESHOLDS[method]
        assert spec.is_p_value == (method in P_VALUE_METHODS)
        assert (spec.direction is Direction.LOWER_IS_DRIFT) == spec.is_p_value


@pytest.mark.parametrize("method", list(DriftMethod))
def test_default_thresholds_are_ordered_by_severity(method: DriftMethod) -> None:
    warning, critical = DEFAULT_THRESHOLDS[method]
    if method in P_VALUE_METHODS:
        assert 0 < critical <= 1
        assert warning is None or critical < warning <= 1
    else:
        assert critical > 0
        assert warning is None or warning < critical


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ([1000, 1000], Severity.NONE),  # psi 0
        ([1300, 700], Severity.NONE),  # psi 0.073 < 0.1
        ([1400, 600], Severity.WARNING),  # psi 0.17: warning 0.1, critical 0.2
        ([1500, 500], Severity.CRITICAL),  # psi 0.27
    ],
)
def test_default_psi_thresholds_give_warning_then_critical(
    current: list[int], expected: Severity
) -> None:
    assert score("psi", BinnedInput([1000, 1000], current)).severity is expected


def test_unknown_method() -> None:
    with pytest.raises(KeyError):
        score("nope", BinnedInput([1], [1]))


CHI2_SAME = BinnedInput([500, 500], [500, 500])  # p = 1
CHI2_SHIFT = BinnedInput([5000, 5000], [440, 560])  # p ~ 0.0002
CHI2_MILD = BinnedInput([5000, 5000], [470, 530])  # p ~ 0.076


def test_score_many_adjusts_the_p_values_of_one_evaluation() -> None:
    requests = [
        ScoreRequest("chi2", CHI2_SHIFT, warning=0.05, critical=0.01),
        ScoreRequest("chi2", CHI2_MILD, warning=0.1, critical=0.01),
        ScoreRequest("psi", BinnedInput([1, 1], [3, 1]), warning=0.1, critical=0.2),
        ScoreRequest("chi2", CHI2_SAME, warning=0.05, critical=0.01),
    ]
    raw = [score(r.method, r.data).raw_value for r in requests]
    none = score_many(requests, MultipleTesting.NONE)
    bonferroni = score_many(requests, "bonferroni")
    bh = score_many(requests, MultipleTesting.BENJAMINI_HOCHBERG)
    assert [s.raw_value for s in none] == raw == [s.raw_value for s in bh]
    assert [s.value for s in none] == raw
    # three p-values in the family; psi is not part of it
    p0, p1 = (
        chi_square(d.reference_counts, d.current_counts).p_value for d in (CHI2_SHIFT, CHI2_MILD)
    )
    assert raw[3] == pytest.approx(1.0)
    assert [s.value for s in bonferroni] == pytest.approx([3 * p0, min(3 * p1, 1), raw[2], 1.0])
    assert [s.value for s in bh] == pytest.approx([3 * p0, 1.5 * p1, raw[2], 1.0])
    assert bh[2].value == none[2].value  # distances are never adjusted
    assert [s.severity for s in none] == [
        Severity.CRITICAL,
        Severity.WARNING,
        Severity.CRITICAL,
        Severity.NONE,
    ]
    # adjusted, the mild shift (1.5 * 0.076 = 0.11) no longer reaches its 0.1 warning
    assert [s.severity for s in bh] == [
        Severity.CRITICAL,
        Severity.NONE,
        Severity.CRITICAL,
        Severity.NONE,
    ]


def test_score_many_reports_unscorable_requests_instead_of_raising() -> None:
    result = score_many(
        [
            ScoreRequest("chi2", BinnedInput([10, 10], [0, 0])),
            ScoreRequest("wasserstein", BinnedInput([1, 2], [2, 1])),
            ScoreRequest("chi2", CHI2_SHIFT, critical=0.01),
        ]
    )
    assert [s.value for s in result[:2]] == [None, None]
    assert [s.severity for s in result[:2]] == [Severity.NONE, Severity.NONE]
    assert "empty" in result[0].reason
    assert "centres" in result[1].reason
    # the unscorable ones are not part of the family: the one p-value is not adjusted
    assert result[2].value == result[2].raw_value
    assert result[2].severity is Severity.CRITICAL


def test_score_many_rejects_unknown_methods_and_corrections() -> None:
    with pytest.raises(KeyError):
        score_many([ScoreRequest("nope", CHI2_SAME)])
    with pytest.raises(ValueError, match="benjaminiHochberg"):
        score_many([ScoreRequest("chi2", CHI2_SAME)], "holm")


def test_the_api_default_feature_thresholds_are_the_table() -> None:
    from modelship.api.driftmonitor import Features

    default = Features().default
    assert (default.warning, default.critical) == DEFAULT_THRESHOLDS[default.method]
