"""Data quality of one window: per feature the share of missing values, of values outside the
profile's range and of unseen categories, and the share of requests rejected per reason, each
against its threshold. Pure.

A share fails its check when it is *above* the threshold (0 tolerates none). Denominators:
missing values over the rows received (served and rejected: the server rejects every request
with a missing value); values out of range and unseen categories over the values served;
rejected requests over all inference requests. Too few rows or requests: the shares are not
judged, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelship.api.driftmonitor import DataQuality, DriftMonitorSpec, QualityOverride
from modelship.drift.observed import LiveCounts
from modelship.profile.schema import CategoricalFeature, Profile

OTHER = "__other__"
MISSING, OUT_OF_RANGE, UNSEEN = "missing", "outOfRange", "unseen"


@dataclass(frozen=True)
class FeatureQuality:
    name: str
    missing: float | None
    out_of_range: float | None = None
    """Numeric features only."""
    unseen: float | None = None
    """Categorical features only."""
    failed: tuple[tuple[str, float, float], ...] = ()
    """(check, share, threshold) of the checks above their threshold: missing, outOfRange,
    unseen."""

    @property
    def failed_checks(self) -> list[str]:
        return [check for check, _, _ in self.failed]

    @property
    def worst(self) -> float:
        return max(s or 0.0 for s in (self.missing, self.out_of_range, self.unseen))


@dataclass(frozen=True)
class RejectedQuality:
    reason: str
    share: float
    requests: float
    limit: float

    @property
    def failed(self) -> bool:
        return self.share > self.limit


@dataclass(frozen=True)
class QualityResult:
    rows: float
    """Rows received: served and rejected."""
    requests: float
    features: tuple[FeatureQuality, ...] = ()
    """Every monitored feature when judged, failed checks first, then by the worst share."""
    rejected: tuple[RejectedQuality, ...] = ()
    """Reasons with rejected requests, failed first, then by share."""
    reason: str = ""
    """What was not judged, and why."""

    def failed(self) -> list[tuple[str, str]]:
        """(key, phrase) of each failed check: `feature/check` or `rejected/reason`, and the
        words for the Degraded condition and Events."""
        out = [
            (f"{f.name}/{check}", f"{f.name} {check} {share:.4g} above {limit:g}")
            for f in self.features
            for check, share, limit in f.failed
        ]
        out += [(f"rejected/{r.reason}", f"rejected {r.reason} {r.share:.4g} above {r.limit:g}")
                for r in self.rejected if r.failed]  # fmt: skip
        return out

    @property
    def failures(self) -> list[str]:
        return [phrase for _, phrase in self.failed()]

    @property
    def degraded(self) -> bool:
        return bool(self.failed())


def _ratio(part: float | None, whole: float) -> float | None:
    if part is None or whole <= 0:
        return None
    return min(max(part / whole, 0.0), 1.0)


def _limit(dq: DataQuality, override: QualityOverride | None, check: str) -> float:
    field = {MISSING: "missing", OUT_OF_RANGE: "out_of_range", UNSEEN: "unseen"}[check]
    value = getattr(override, field) if override is not None else None
    return float(value if value is not None else getattr(dq.default, field))


def _feature(dq: DataQuality, profile: Profile, live: LiveCounts, name: str) -> FeatureQuality:
    override = next((o for o in dq.overrides or [] if o.name == name), None)
    missing = _ratio(live.missing.get(name), live.received_rows)
    out_of_range = unseen = None
    if isinstance(profile.feature(name), CategoricalFeature):
        counts = live.categorical.get(name) or {}
        unseen = _ratio(counts.get(OTHER), sum(counts.values()))
    else:
        out_of_range = _ratio(live.out_of_range.get(name), live.rows)
    failed = tuple(
        (check, share, _limit(dq, override, check))
        for check, share in ((MISSING, missing), (OUT_OF_RANGE, out_of_range), (UNSEEN, unseen))
        if share is not None and share > _limit(dq, override, check)
    )
    return FeatureQuality(name, missing, out_of_range, unseen, failed)


def _rejected(dq: DataQuality, live: LiveCounts, requests: float) -> tuple[RejectedQuality, ...]:
    limits = {o.reason.value: o.max for o in dq.rejected.reasons or []}
    found = [
        RejectedQuality(reason, count / requests, count, limits.get(reason, dq.rejected.max))
        for reason, count in live.rejected.items()
        if count > 0
    ]
    return tuple(sorted(found, key=lambda r: (not r.failed, -r.share, r.reason)))


def _order(features: Sequence[FeatureQuality]) -> tuple[FeatureQuality, ...]:
    return tuple(sorted(features, key=lambda f: (not f.failed, -f.worst, f.name)))


def data_quality(
    spec: DriftMonitorSpec, profile: Profile, live: LiveCounts
) -> QualityResult | None:
    """The data quality of the window, or None when the spec asks for none."""
    dq = spec.data_quality
    if dq is None:
        return None
    rows, requests = live.received_rows, sum(live.requests.values())
    notes: list[str] = []
    features: tuple[FeatureQuality, ...] = ()
    ignored = set(spec.features.ignore or [])
    names = [f.name for f in profile.features if f.name not in ignored]
    if rows >= dq.min_samples:
        features = _order([_feature(dq, profile, live, n) for n in names])
        numeric = any(not isinstance(profile.feature(n), CategoricalFeature) for n in names)
        for family, counts, needed in (
            ("modelship_feature_missing_total", live.missing, bool(names)),
            ("modelship_feature_out_of_range_total", live.out_of_range, numeric),
        ):
            if needed and not counts:
                notes.append(f"the server exports no {family}: not measured")
    else:
        notes.append(f"only {rows:g} rows received (dataQuality.minSamples {dq.min_samples}): "
                     "feature shares not judged")  # fmt: skip
    rejected: tuple[RejectedQuality, ...] = ()
    if requests >= dq.min_samples and requests > 0:
        rejected = _rejected(dq, live, requests)
    else:
        notes.append(f"only {requests:g} requests (dataQuality.minSamples {dq.min_samples}): "
                     "rejected shares not judged")  # fmt: skip
    unknown = sorted({o.name for o in dq.overrides or []} - {f.name for f in profile.features})
    if unknown:
        notes.append(f"dataQuality.overrides name features the profile lacks: {', '.join(unknown)}")
    return QualityResult(rows, requests, features, rejected, "; ".join(notes))
