"""Pydantic models of the reference profile (JSON). Version 1.

Numeric bins: `edges` are the k-1 *interior* edges of k bins; bin 0 is (-inf, edges[0]],
bin i is (edges[i-1], edges[i]], the last bin is (edges[-1], +inf). Right-closed bins match
Prometheus histogram buckets (`le`), so the server's `le` buckets are exactly these bins, and
the open outer bins catch live values beyond the training range (see docs/profile.md).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PROFILE_FORMAT_VERSION = 1
# Key under which a profile ConfigMap holds the profile JSON.
PROFILE_CONFIGMAP_KEY = "profile.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericDistribution(_Strict):
    """A histogram over right-closed bins with open outer bins (see module docstring)."""

    kind: Literal["numeric"] = "numeric"
    edges: list[float]
    counts: list[int]
    proportions: list[float]
    min: float
    max: float
    mean: float
    std: float

    @model_validator(mode="after")
    def _consistent(self) -> NumericDistribution:
        if len(self.counts) != len(self.edges) + 1 or len(self.proportions) != len(self.counts):
            raise ValueError("a numeric distribution needs len(edges) + 1 counts and proportions")
        if any(not math.isfinite(e) for e in self.edges):
            raise ValueError("bin edges must be finite")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("bin edges must be strictly increasing")
        return self

    def centres(self) -> list[float]:
        """A representative point per bin; the open outer bins are closed at min and max."""
        if not self.edges:
            return [self.mean]
        bounds = [min(self.min, self.edges[0]), *self.edges, max(self.max, self.edges[-1])]
        return [(lo + hi) / 2 for lo, hi in itertools.pairwise(bounds)]


class CategoricalDistribution(_Strict):
    kind: Literal["categorical"] = "categorical"
    categories: list[str]
    counts: list[int]
    proportions: list[float]

    @model_validator(mode="after")
    def _consistent(self) -> CategoricalDistribution:
        if not (len(self.categories) == len(self.counts) == len(self.proportions)):
            raise ValueError("categories, counts and proportions must have the same length")
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be unique")
        return self


Distribution = Annotated[NumericDistribution | CategoricalDistribution, Field(discriminator="kind")]


class ValueRange(_Strict):
    min: float
    max: float


class NumericFeature(_Strict):
    name: str
    kind: Literal["numeric"] = "numeric"
    dtype: Literal["integer", "float"] = "float"
    distribution: NumericDistribution
    # When set, the server rejects values outside [min, max] with HTTP 400.
    enforce_range: ValueRange | None = None


class CategoricalFeature(_Strict):
    name: str
    kind: Literal["categorical"] = "categorical"
    distribution: CategoricalDistribution
    # When false, the server rejects categories not seen in training with HTTP 400;
    # when true it serves them and counts them as category "__other__".
    allow_unknown: bool = False


Feature = Annotated[NumericFeature | CategoricalFeature, Field(discriminator="kind")]


class FairnessAttribute(_Strict):
    """A group attribute whose outcomes the server counts per group."""

    name: str
    groups: list[str]
    # False: the attribute is not a model input; clients may send it as an extra BYTES input,
    # which the server counts and strips before predicting.
    is_feature: bool


class Column(_Strict):
    name: str
    distribution: Distribution


class Profile(_Strict):
    format_version: Literal[1] = 1
    rows: int
    features: list[Feature]
    target: Column
    prediction: Column
    # Where `prediction` came from: a prediction column, or the target as a stand-in.
    prediction_source: Literal["column", "target"]
    fairness: list[FairnessAttribute] = []

    @model_validator(mode="after")
    def _unique_names(self) -> Profile:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        return self

    def feature(self, name: str) -> NumericFeature | CategoricalFeature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def load_profile(path: str | Path) -> Profile:
    return Profile.model_validate_json(Path(path).read_bytes())
