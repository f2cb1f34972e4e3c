"""The results Jobs report: the trainer's and the evaluation Job's JSON (docs/trainer.md).
Pure."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelship.api.types import MODEL_URI_PATTERN

# What a RetrainPolicy's status can hold (its CRD schema), and what a model URI may be.
MAX_METRICS = 64
MAX_URI = 1024
MAX_NAME = 253
_MODEL_URI = re.compile(MODEL_URI_PATTERN)


class ResultError(ValueError):
    """The result is missing or malformed: the run fails, and its model is never promoted."""


@dataclass(frozen=True)
class TrainerResult:
    metrics: dict[str, float]
    baseline_metrics: dict[str, float] | None
    artifact_uri: str
    profile_uri: str | None = None
    version: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    baseline_error: str = ""
    slices: dict[str, dict[str, float]] | None = None
    """Per-slice candidate metrics (e.g. per fairness group), for per-slice validation."""
    baseline_slices: dict[str, dict[str, float]] | None = None
    held_out_uri: str | None = None
    """data.heldOutURI: the held-out rows, for an evaluation Job (validation.job)."""


@dataclass(frozen=True)
class EvaluationResult:
    """What an evaluation Job measured: the candidate and the serving model on held-out data."""

    metrics: dict[str, float]
    baseline_metrics: dict[str, float] | None
    baseline_error: str = ""
    slices: dict[str, dict[str, float]] | None = None
    baseline_slices: dict[str, dict[str, float]] | None = None


def _metrics(value: Any, what: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ResultError(f"{what} must be an object of metric name to number")
    if len(value) > MAX_METRICS:
        raise ResultError(f"{what} has {len(value)} metrics; at most {MAX_METRICS}")
    out = {}
    for name, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ResultError(f"{what}.{name} is not a number: {number!r}")
        if not math.isfinite(number):
            raise ResultError(f"{what}.{name} is not finite: {number!r}")
        if len(str(name)) > MAX_NAME:
            raise ResultError(f"{what}: a metric name longer than {MAX_NAME} characters")
        out[str(name)] = float(number)
    return out


def _uri(value: Any, what: str, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ResultError(f"the result has no {what}")
        return None
    if not isinstance(value, str) or len(value) > MAX_URI or not _MODEL_URI.match(value):
        raise ResultError(
            f"{what} {str(value)[:120]!r} is not a model URI (file://, http(s)://, s3://, gs:// "
            f"or pvc://, at most {MAX_URI} characters)"
        )
    return value


def _slices(value: Any, what: str) -> dict[str, dict[str, float]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ResultError(f"{what} must be an object of slice name to metrics")
    return {str(name): _metrics(metrics, f"{what}.{name}") for name, metrics in value.items()}


def _document(text: str | None, job: str) -> Mapping[str, Any]:
    """The JSON object `job` reported, with its metrics checked to be there."""
    if text is None or not text.strip():
        raise ResultError(
            f"the {job} reported no result: write the result JSON to the termination log "
            "($MODELSHIP_TERMINATION_LOG) or to result.json at its output URI"
        )
    try:
        document = json.loads(text)
    except ValueError as err:
        raise ResultError(f"the result is not JSON ({err}): {text[:120]!r}") from None
    if not isinstance(document, Mapping):
        raise ResultError("the result must be a JSON object")
    if "metrics" not in document:
        raise ResultError("the result has no metrics")
    return document


def _measured(document: Mapping[str, Any]) -> EvaluationResult:
    baseline = document.get("baselineMetrics")
    return EvaluationResult(
        metrics=_metrics(document["metrics"], "metrics"),
        baseline_metrics=_metrics(baseline, "baselineMetrics") if baseline is not None else None,
        baseline_error=str(document.get("baselineError") or ""),
        slices=_slices(document.get("slices"), "slices"),
        baseline_slices=_slices(document.get("baselineSlices"), "baselineSlices"),
    )


def parse_result(text: str | None) -> TrainerResult:
    """The trainer's result document; ResultError naming what is wrong otherwise."""
    document = _document(text, "Job")
    measured = _measured(document)
    artifact = _uri(document.get("artifactURI"), "artifactURI", required=True)
    assert artifact is not None
    profile = _uri(document.get("profileURI"), "profileURI", required=False)
    data = document.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    return TrainerResult(
        metrics=measured.metrics,
        baseline_metrics=measured.baseline_metrics,
        artifact_uri=artifact,
        profile_uri=profile,
        version=str(document.get("version") or ""),
        data=data,
        baseline_error=measured.baseline_error,
        slices=measured.slices,
        baseline_slices=measured.baseline_slices,
        held_out_uri=_uri(data.get("heldOutURI"), "data.heldOutURI", required=False),
    )


def parse_evaluation(text: str | None) -> EvaluationResult:
    """The evaluation Job's result document (metrics, baselineMetrics, slices); ResultError
    naming what is wrong otherwise."""
    return _measured(_document(text, "evaluation Job"))
