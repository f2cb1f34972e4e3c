"""`modelship drift` offline: a data frame counted as the reference server counts it, scored by
the DriftMonitor's own evaluator, reported in the DriftMonitor's status shape. Pure: a data
frame in, a report out (the CLI, `modelship.drift.main`, reads the files).

Each row is treated as one inference request of one row. A row the server would reject
(HTTP 400: a missing or non-finite number, a non-integer value of an integer feature, a value
outside an enforced range, an unseen category of a feature that does not allow unknown ones)
is never counted, exactly as the server never counts it; the report says how many were left
out and why. The rows left are counted with the server's own counters
(`modelship.server.metrics`: `BinnedHistograms`, `CategoryCounts`), turned into the
`LiveCounts` Prometheus would answer, and evaluated with `modelship.drift.evaluate`. The
status fields come from `modelship.drift.plan`, as the operator writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from modelship.api.common import ConditionStatus, RejectReason
from modelship.api.driftmonitor import DriftMonitorSpec
from modelship.drift.evaluate import Evaluation, Verdict, evaluate, unknown
from modelship.drift.observed import Buckets, LiveCounts
from modelship.drift.performance import sklearn_order
from modelship.drift.plan import DEGRADED, assessment, status_fields
from modelship.planners.status import ConditionType
from modelship.profile.build import category_label
from modelship.profile.schema import (
    CategoricalDistribution,
    CategoricalFeature,
    NumericDistribution,
    NumericFeature,
    Profile,
)
from modelship.server.metrics import (
    OTHER,
    SCORE_EDGES,
    BinnedHistograms,
    CategoryCounts,
    category_labels,
    number,
)

# Rows binned per broadcast comparison (rows x features x edges booleans at a time).
CHUNK_ROWS = 20_000

# Why the server would reject a row (HTTP 400), in the order it checks a feature: the
# server's own reasons (`modelship_requests_rejected_total`).
MISSING = RejectReason.MISSING_VALUE.value
NOT_A_NUMBER = RejectReason.NOT_A_NUMBER.value
NOT_INTEGER = RejectReason.NOT_INTEGER.value
OUT_OF_RANGE = RejectReason.OUT_OF_RANGE.value
UNKNOWN_CATEGORY = RejectReason.UNKNOWN_CATEGORY.value

EXIT_NOT_DRIFTED = 0
EXIT_DRIFTED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3


@dataclass(frozen=True)
class Columns:
    """Which columns of the data are the model's predictions and the ground truth."""

    prediction: str | None = None
    """Counted as the prediction distribution (`modelship_prediction_*`)."""
    truth: str | None = None
    """Counted as ground truth sent to /feedback for every row: performance, fairness."""
    stand_in: bool = False
    """The prediction column is the target, standing in for predictions as in the profile."""
    score: str | None = None
    """The positive-class score of a binary classifier (`modelship_prediction_score`):
    estimated performance."""


def default_columns(
    profile: Profile,
    available: Iterable[str],
    prediction: str | None = None,
    truth: str | None = None,
) -> Columns:
    """The prediction and truth columns: those asked for, else the profile's when present.

    Without `prediction`: the profile's prediction column when the profile was built from one
    (`prediction_source: column`); when the profile stands the target in for predictions
    (`prediction_source: target`), the target column, the same stand-in. Without `truth`: the
    target column, unless it is already the prediction column (a model that always matches
    its labels measures nothing).
    """
    names = set(available)
    stand_in = False
    if prediction is None:
        if profile.prediction_source == "column" and profile.prediction.name in names:
            prediction = profile.prediction.name
        elif profile.prediction_source == "target" and profile.target.name in names:
            prediction, stand_in = profile.target.name, True
    if truth is None and profile.target.name in names and profile.target.name != prediction:
        truth = profile.target.name
    return Columns(prediction, truth, stand_in)


@dataclass(frozen=True)
class Rejection:
    feature: str
    reason: str
    rows: int


@dataclass
class Counted:
    """The data as the server would have counted it."""

    live: LiveCounts
    rows: int
    """Rows in the data."""
    accepted: int
    """Rows the server would serve and count (each row one request)."""
    rejections: tuple[Rejection, ...] = ()
    """Rejected rows by the first feature and reason the server would name."""
    columns: Columns = field(default_factory=Columns)
    labelled: int = 0
    """Served rows with both a prediction and a ground truth: the `/feedback` matched rows."""
    missing_features: tuple[str, ...] = ()
    """Features of the profile the data has no column for: the server rejects every row."""
    notes: tuple[str, ...] = ()


# -- what the server would reject ------------------------------------------------------------


def _numbers(column: pd.Series) -> NDArray[np.float64]:
    if pd.api.types.is_bool_dtype(column):
        return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    coerced = pd.to_numeric(column, errors="coerce")
    return np.asarray(coerced, dtype=np.float64)


def _numeric_problems(
    feature: NumericFeature, missing: NDArray[np.bool_], values: NDArray[np.float64]
) -> list[tuple[str, NDArray[np.bool_]]]:
    """(reason, rows) in the server's order of checks (`server/schema.py: _numbers`, then
    `_check_numeric_column`)."""
    finite = np.isfinite(values)
    problems = [(MISSING, missing), (NOT_A_NUMBER, ~missing & ~finite)]
    safe = np.where(finite, values, 0.0)
    if feature.dtype == "integer":
        problems.append((NOT_INTEGER, finite & (safe != np.floor(safe))))
    if feature.enforce_range is not None:
        low, high = feature.enforce_range.min, feature.enforce_range.max
        problems.append((OUT_OF_RANGE, finite & ((safe < low) | (safe > high))))
    return problems


def _labels(column: pd.Series) -> tuple[NDArray[np.bool_], list[str]]:
    """Category strings as a client sends them (BYTES), as the profile wrote them; and which
    rows have no value at all."""
    missing = column.isna().to_numpy(dtype=bool)
    labels = ["" if m else category_label(v) for v, m in zip(column.tolist(), missing, strict=True)]
    return missing, labels


@dataclass
class _Decoded:
    """The data's columns decoded once, as the server decodes a request."""

    numeric: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    rejected: NDArray[np.bool_] | None = None
    rejections: list[Rejection] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)
    """feature -> rows without a value (the server counts them in rejected requests)."""


def _decode(profile: Profile, frame: pd.DataFrame) -> _Decoded:
    decoded = _Decoded()
    rejected = np.zeros(len(frame), dtype=bool)
    tally: dict[tuple[str, str], int] = {}
    for feature in profile.features:
        column = frame[feature.name]
        missing = column.isna().to_numpy(dtype=bool)
        decoded.missing[feature.name] = int(missing.sum())
        if isinstance(feature, CategoricalFeature):
            missing, labels = _labels(column)
            decoded.categorical[feature.name] = labels
            problems = [(MISSING, missing)]
            if not feature.allow_unknown:
                known = set(feature.distribution.categories)
                unseen = np.fromiter((lbl not in known for lbl in labels), bool, len(labels))
                problems.append((UNKNOWN_CATEGORY, ~missing & unseen))
        else:
            values = _numbers(column)
            decoded.numeric[feature.name] = values
            problems = _numeric_problems(feature, missing, values)
        for reason, rows in problems:
            first = rows & ~rejected  # the server names the first problem of a request
            if first.any():
                tally[(feature.name, reason)] = int(first.sum())
                rejected |= first
    decoded.rejected = rejected
    decoded.rejections = [Rejection(f, r, n) for (f, r), n in tally.items()]
    return decoded


# -- counting, with the server's counters ----------------------------------------------------


def _buckets(histograms: BinnedHistograms, column: int) -> Buckets:
    """A histogram's (le, cumulative count) pairs, as `BinnedHistograms.render` exports them."""
    cumulative = np.cumsum(histograms.bin_counts(column)).tolist()
    les = [*(number(e) for e in histograms.edges[column]), "+Inf"]
    return [(le, float(c)) for le, c in zip(les, cumulative, strict=True)]


def _observe(histograms: BinnedHistograms, matrix: NDArray[np.float64]) -> None:
    for start in range(0, matrix.shape[0], CHUNK_ROWS):
        histograms.observe(matrix[start : start + CHUNK_ROWS])


def _categories(categories: Sequence[str], values: Sequence[str]) -> dict[str, float]:
    counts = CategoryCounts(categories)
    counts.observe(values)
    return {c: float(n) for c, n in zip(counts.categories, counts.counts, strict=True)}


def _group_labels(
    profile: Profile, frame: pd.DataFrame, decoded: _Decoded, served: NDArray[np.bool_]
) -> tuple[dict[str, list[str | None]], list[str]]:
    """attribute -> group per served row (None: the client sent none), as the server reads
    them (`server/app.py: fairness_groups`); and notes on attributes the data lacks."""
    groups: dict[str, list[str | None]] = {}
    notes = []
    for attribute in profile.fairness:
        name = attribute.name
        if name in decoded.categorical:
            labels = decoded.categorical[name]
            groups[name] = [lbl for lbl, s in zip(labels, served, strict=True) if s]
        elif name in decoded.numeric:
            groups[name] = list(category_labels(decoded.numeric[name][served]))
        elif name in frame.columns:
            missing, labels = _labels(frame[name])
            groups[name] = [
                None if m else lbl for lbl, m, s in zip(labels, missing, served, strict=True) if s
            ]
        else:
            notes.append(f"no column {name!r}: fairness attribute {name} not counted")
    return groups, notes


def _member(group: str, known: set[str]) -> str:
    return group if group in known else OTHER


def _count_fairness(
    live: LiveCounts,
    profile: Profile,
    groups: Mapping[str, Sequence[str | None]],
    predicted: Sequence[str | None],
    truth: Sequence[str | None] | None,
) -> None:
    classes = set(_categories_of(profile.prediction.distribution))
    targets = set(_categories_of(profile.target.distribution))
    for attribute in profile.fairness:
        members = groups.get(attribute.name)
        if members is None:
            continue
        known = set(attribute.groups)
        for i, (group, label) in enumerate(zip(members, predicted, strict=True)):
            if group is None or label is None:
                continue
            member = _member(group, known)
            key = (attribute.name, member, label if label in classes else OTHER)
            live.fairness[key] = live.fairness.get(key, 0.0) + 1.0
            actual = truth[i] if truth is not None else None
            if actual is not None:
                fb = (*key, actual if actual in targets else OTHER)
                live.fairness_feedback[fb] = live.fairness_feedback.get(fb, 0.0) + 1.0


def _confusion(profile: Profile, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """(predicted, actual) counts as the server's modelship_feedback_confusion_total: every
    pair of the profile's classes and __other__, zeros included."""
    classes = [*_categories_of(profile.prediction.distribution), OTHER]
    targets = [*_categories_of(profile.target.distribution), OTHER]
    counts = {(p, a): 0.0 for p in classes for a in targets}
    known, known_targets = set(classes), set(targets)
    for p, a in pairs:
        key = (p if p in known else OTHER, a if a in known_targets else OTHER)
        counts[key] += 1.0
    return counts


def _count_scores(
    live: LiveCounts, profile: Profile, column: pd.Series, served: NDArray[np.bool_]
) -> list[str]:
    """The score histogram the server exports for a binary classifier: its positive class is
    scikit-learn's classes_[1], the second of the profile's two classes in sorted order."""
    classes = _categories_of(profile.prediction.distribution)
    if len(classes) != 2:
        return ["scores need a binary classifier: not counted"]
    values = _numbers(column)[served]
    finite = np.isfinite(values)
    histogram = BinnedHistograms(["score"], [list(SCORE_EDGES)])
    _observe(histogram, values[finite].reshape(-1, 1))
    positive = sorted(classes, key=sklearn_order)[1]
    live.scores = {positive: _buckets(histogram, 0)}
    missing = int((~finite).sum())
    return [f"{missing} served rows have no score: not counted"] if missing else []


def _categories_of(dist: NumericDistribution | CategoricalDistribution) -> list[str]:
    return dist.categories if isinstance(dist, CategoricalDistribution) else []


def _optional_labels(column: pd.Series, served: NDArray[np.bool_]) -> list[str | None]:
    missing, labels = _labels(column)
    return [None if m else lbl for lbl, m, s in zip(labels, missing, served, strict=True) if s]


def count(profile: Profile, frame: pd.DataFrame, columns: Columns | None = None) -> Counted:
    """What the reference server would have exported after serving `frame`, one request per
    row, with ground truth for every row that has one (`columns.truth`)."""
    columns = columns or default_columns(profile, frame.columns)
    rows = len(frame)
    missing_features = tuple(f.name for f in profile.features if f.name not in frame.columns)
    if missing_features:
        return Counted(LiveCounts(), rows, 0, columns=columns, missing_features=missing_features)
    decoded = _decode(profile, frame)
    assert decoded.rejected is not None
    served = ~decoded.rejected
    accepted = int(served.sum())
    live = LiveCounts(rows=float(accepted), rejected_rows=float(rows - accepted))
    live.requests = {
        "success": float(accepted), "client_error": float(rows - accepted), "server_error": 0.0
    }  # fmt: skip
    live.missing = {name: float(n) for name, n in decoded.missing.items()}
    for r in decoded.rejections:
        live.rejected[r.reason] = live.rejected.get(r.reason, 0.0) + r.rows
    notes: list[str] = []

    numeric = [f for f in profile.features if isinstance(f, NumericFeature)]
    histograms = BinnedHistograms(
        [f.name for f in numeric], [f.distribution.edges for f in numeric]
    )
    if numeric:
        matrix = np.column_stack([decoded.numeric[f.name][served] for f in numeric])
        _observe(histograms, matrix)
        live.numeric = {f.name: _buckets(histograms, i) for i, f in enumerate(numeric)}
        low = np.array([f.distribution.min for f in numeric])
        high = np.array([f.distribution.max for f in numeric])
        outside = ((matrix < low) | (matrix > high)).sum(axis=0).tolist()
        live.out_of_range = {f.name: float(n) for f, n in zip(numeric, outside, strict=True)}
    live.categorical = {
        f.name: _categories(
            f.distribution.categories,
            [v for v, s in zip(decoded.categorical[f.name], served, strict=True) if s],
        )
        for f in profile.features
        if isinstance(f, CategoricalFeature)
    }

    dist = profile.prediction.distribution
    classifier = isinstance(dist, CategoricalDistribution)
    labelled = 0
    predicted_labels: list[str | None] = []
    if columns.prediction is not None:
        column = frame[columns.prediction]
        truth_column = frame[columns.truth] if columns.truth is not None else None
        if isinstance(dist, CategoricalDistribution):
            predicted_labels = _optional_labels(column, served)
            present = [p for p in predicted_labels if p is not None]
            live.prediction_classes = _categories(dist.categories, present)
            truth_labels = (
                _optional_labels(truth_column, served) if truth_column is not None else None
            )
            if truth_labels is not None:
                pairs = [
                    (p, t)
                    for p, t in zip(predicted_labels, truth_labels, strict=True)
                    if p is not None and t is not None
                ]
                labelled = len(pairs)
                live.correct = float(sum(p == t for p, t in pairs))
                live.confusion = _confusion(profile, pairs)
            if len(present) < accepted:
                notes.append(
                    f"{accepted - len(present)} served rows have no {columns.prediction!r}: "
                    "not counted as predictions"
                )
            groups, fairness_notes = _group_labels(profile, frame, decoded, served)
            notes += fairness_notes
            _count_fairness(live, profile, groups, predicted_labels, truth_labels)
        else:
            values = _numbers(column)[served]
            finite = np.isfinite(values)
            prediction = BinnedHistograms(["prediction"], [dist.edges])
            _observe(prediction, values[finite].reshape(-1, 1))
            live.prediction_buckets = _buckets(prediction, 0)
            if int(finite.sum()) < accepted:
                notes.append(
                    f"{accepted - int(finite.sum())} served rows have no numeric "
                    f"{columns.prediction!r}: not counted as predictions"
                )
            if truth_column is not None:
                truth = _numbers(truth_column)[served]
                both = finite & np.isfinite(truth)
                error = values[both] - truth[both]
                labelled = int(both.sum())
                live.abs_error = float(np.abs(error).sum())
                live.squared_error = float((error**2).sum())
    else:
        notes.append("no prediction column: the prediction distribution is not counted")
    if profile.fairness and (columns.prediction is None or not classifier):
        notes.append("fairness needs a classifier's predictions: not counted")
    if columns.score is not None:
        notes += _count_scores(live, profile, frame[columns.score], served)
    live.feedback = {"matched": float(labelled), "unmatched": 0.0}
    return Counted(
        live,
        rows,
        accepted,
        tuple(decoded.rejections),
        columns,
        labelled,
        notes=tuple(notes),
    )


# -- the evaluation and its report -----------------------------------------------------------


def evaluation_of(spec: DriftMonitorSpec, profile: Profile, counted: Counted) -> Evaluation:
    """The DriftMonitor's evaluation of the counts; Unknown when the data lacks features."""
    if counted.missing_features:
        listed = ", ".join(counted.missing_features[:10])
        more = len(counted.missing_features) - 10
        return unknown(
            "ProfileMismatch",
            f"the data has no column for feature{'s' if len(counted.missing_features) > 1 else ''}"
            f" {listed}{f' (and {more} more)' if more > 0 else ''}: the server would reject "
            "every row",
        )
    return evaluate(spec, profile, counted.live)


def _conditions(spec: DriftMonitorSpec, e: Evaluation, fields: Mapping[str, Any]) -> list[Any]:
    wanted = {ConditionType.DRIFTED.value, DEGRADED}
    return [
        {"type": str(c.type), "status": c.status.value, "reason": c.reason, "message": c.message}
        for c in assessment(spec, e, fields).conditions
        if str(c.type) in wanted
    ]


def report(
    spec: DriftMonitorSpec, profile: Profile, counted: Counted, e: Evaluation | None = None
) -> dict[str, Any]:
    """The DriftMonitor status this data would produce (the fields the operator writes for an
    evaluation, without the in-cluster `reference` and times), plus an `offline` block."""
    e = e or evaluation_of(spec, profile, counted)
    fields = status_fields(e, None)
    status: dict[str, Any] = {
        "phase": str(assessment(spec, e, fields).phase),
        "message": e.message,
    }
    status.update({k: v for k, v in fields.items() if v is not None})
    status["conditions"] = _conditions(spec, e, fields)
    status["offline"] = {
        "rows": counted.rows,
        "accepted": counted.accepted,
        "rejected": [
            {"feature": r.feature, "reason": r.reason, "rows": r.rows} for r in counted.rejections
        ],
        "predictionColumn": counted.columns.prediction,
        "predictionIsTarget": counted.columns.stand_in,
        "truthColumn": counted.columns.truth,
        "labelled": counted.labelled,
        "missingFeatures": list(counted.missing_features),
        "notes": [*counted.notes, *(
            ["spec.reference: a file has no earlier window, so the profile is the reference"]
            if spec.reference is not None else []
        )],
    }  # fmt: skip
    return status


def condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in status.get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return None


def exit_code(e: Evaluation, fail_on_degraded: bool = False) -> int:
    """0 not drifted, 1 drifted (or degraded, when asked), 3 no verdict."""
    if fail_on_degraded and e.degraded:
        return EXIT_DRIFTED
    return {
        Verdict.NOT_DRIFTED: EXIT_NOT_DRIFTED,
        Verdict.DRIFTED: EXIT_DRIFTED,
        Verdict.UNKNOWN: EXIT_UNKNOWN,
    }[e.verdict]


# -- the table -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _column(name: str | None) -> str:
    return "none" if name is None else repr(name)


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]


def _quality_lines(quality: Mapping[str, Any] | None) -> list[str]:
    if quality is None:
        return ["data quality:  not monitored (spec.dataQuality)"]
    failed = [
        f"{f['name']} {check} {_text(f.get(check))}"
        for f in quality.get("features") or []
        for check in f.get("failed") or []
    ] + [f"rejected {r['reason']} {_text(r['share'])}" for r in quality.get("rejected") or []
         if r.get("failed")]  # fmt: skip
    verdict = f"failing: {', '.join(failed)}" if failed else "every check passes"
    lines = [f"data quality:  {verdict} ({quality['rows']} rows)"]
    if quality.get("reason"):
        lines.append(f"data quality:  {quality['reason']}")
    return lines


def table(status: Mapping[str, Any], spec: DriftMonitorSpec) -> str:
    """The report as plain text: one line per feature, then the dataset, prediction,
    performance, fairness and the verdict."""
    off = status["offline"]
    lines = [
        f"rows: {off['rows']}, served: {off['accepted']}, rejected: {off['rows'] - off['accepted']}"
        + "".join(f"; {r['feature']} {r['reason']}: {r['rows']}" for r in off["rejected"]),
        f"predictions: {_column(off['predictionColumn'])}"
        + (" (the target, standing in as in the profile)" if off["predictionIsTarget"] else "")
        + f"; ground truth: {_column(off['truthColumn'])}"
        + (f" ({off['labelled']} labelled rows)" if off["truthColumn"] else ""),
    ]
    features = status.get("features") or []
    if features:
        lines.append("")
        lines += _grid(
            ["FEATURE", "METHOD", "SCORE", "P-VALUE", "SEVERITY", "SAMPLES", "REASON"],
            [
                [
                    f["name"], f["method"], _text(f.get("score")), _text(f.get("pValue")),
                    f["severity"], _text(f.get("samples")), f.get("reason", ""),
                ]
                for f in features
            ],
        )  # fmt: skip
    lines.append("")
    dataset = status.get("datasetDrift")
    if dataset is not None:
        lines.append(
            f"dataset drift: {'yes' if dataset['drifted'] else 'no'}, "
            f"{dataset['driftedFeatures']} of {dataset['features']} features at "
            f"{spec.dataset_drift.severity} (share {_text(dataset['share'])}, "
            f"spec.datasetDrift.share {_text(spec.dataset_drift.share)})"
        )
    else:
        lines.append("dataset drift: -")
    prediction = status.get("prediction")
    if prediction is not None:
        detail = prediction.get("reason") or prediction["severity"]
        lines.append(
            f"prediction:    {prediction['method']} {_text(prediction.get('score'))} ({detail})"
        )
    else:
        lines.append("prediction:    not monitored (spec.prediction)")
    performance = status.get("performance")
    if performance is not None:
        verdict = "degraded" if performance["degraded"] else "in range"
        if performance.get("value") is None:
            verdict = performance.get("reason", "no value")
        lines.append(
            f"performance:   {performance['metric']} {_text(performance.get('value'))} over "
            f"{performance['samples']} labelled rows ({verdict})"
        )
    else:
        lines.append("performance:   not monitored (spec.performance)")
    for check in status.get("fairness") or []:
        within = check.get("withinRange")
        verdict = check.get("reason") or ("within range" if within else "out of range")
        lines.append(
            f"fairness:      {check['attribute']} {check['metric']} "
            f"{_text(check.get('value'))} ({verdict})"
        )
    if not status.get("fairness"):
        lines.append("fairness:      not monitored (spec.fairness)")
    lines += _quality_lines(status.get("dataQuality"))
    lines += [f"note:          {n}" for n in off["notes"]]
    lines.append("")
    drifted = condition(status, ConditionType.DRIFTED.value) or {}
    degraded = condition(status, DEGRADED) or {}
    lines.append(f"Drifted={drifted.get('status')} ({drifted.get('reason')}): {status['message']}")
    if degraded.get("status") == ConditionStatus.TRUE.value:
        lines.append(f"Degraded=True ({degraded.get('reason')}): {degraded.get('message')}")
    return "\n".join(lines) + "\n"
