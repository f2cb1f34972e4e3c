"""The trainer's result: the JSON a Job reports (docs/trainer.md). Pure."""

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


def parse_result(text: str | None) -> TrainerResult:
    """The result document; ResultError naming what is wrong otherwise."""
    if text is None or not text.strip():
        raise ResultError(
            "the Job reported no result: write the result JSON to the termination log "
            "($MODELSHIP_TERMINATION_LOG) or to result.json at the output URI"
        )
    try:
        document = json.loads(text)
    except ValueError as err:
        raise ResultError(f"the result is not JSON ({err}): {text[:120]!r}") from None
    if not isinstance(document, Mapping):
        raise ResultError("the result must be a JSON object")
    if "metrics" not in document:
        raise ResultError("the result has no metrics")
    metrics = _metrics(document["metrics"], "metrics")
    baseline = document.get("baselineMetrics")
    artifact = _uri(document.get("artifactURI"), "artifactURI", required=True)
    assert artifact is not None
    profile = _uri(document.get("profileURI"), "profileURI", required=False)
    return TrainerResult(
        metrics=metrics,
        baseline_metrics=_metrics(baseline, "baselineMetrics") if baseline is not None else None,
        artifact_uri=artifact,
        profile_uri=profile,
        version=str(document.get("version") or ""),
        data=dict(document.get("data") or {}),
        baseline_error=str(document.get("baselineError") or ""),
        slices=_slices(document.get("slices"), "slices"),
        baseline_slices=_slices(document.get("baselineSlices"), "baselineSlices"),
    )
