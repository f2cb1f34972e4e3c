"""Build a Profile from a training data frame (pure: data frame in, Profile out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelship.profile.binning import DEFAULT_BINS, bin_counts, quantile_edges
from modelship.profile.schema import (
    CategoricalDistribution,
    CategoricalFeature,
    Column,
    FairnessAttribute,
    NumericDistribution,
    NumericFeature,
    Profile,
    ValueRange,
)

# An integer target/prediction with at most this many distinct values is a class label.
MAX_CLASSES = 50


@dataclass(frozen=True)
class ProfileOptions:
    target: str
    prediction: str | None = None
    fairness: Sequence[str] = ()
    exclude: Sequence[str] = ()  # columns that are not model inputs (ids, protected attributes)
    categorical: Sequence[str] = ()  # force these columns to be categorical
    enforce_range: Sequence[str] = ()  # numeric features whose training range is enforced
    allow_unknown: Sequence[str] = ()  # categorical features that accept unseen categories
    bins: int = DEFAULT_BINS
    extra: dict[str, str] = field(default_factory=dict)


class ProfileError(ValueError):
    """The data cannot be profiled as asked (missing column, empty data, ...)."""


def is_categorical(series: pd.Series, forced: bool = False, label: bool = False) -> bool:
    """Strings, booleans and pandas categories are categorical; so are class-like labels."""
    if forced or not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    if label and pd.api.types.is_integer_dtype(series):
        return int(series.nunique(dropna=True)) <= MAX_CLASSES
    return False


def category_label(value: object) -> str:
    """The string form of a category, as clients send it (BYTES) and metrics label it."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def numeric_distribution(series: pd.Series, bins: int) -> NumericDistribution:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ProfileError(f"column {series.name!r} has no finite numeric values")
    edges = quantile_edges(finite, bins)
    counts = bin_counts(finite, edges)
    total = sum(counts)
    return NumericDistribution(
        edges=edges,
        counts=counts,
        proportions=[c / total for c in counts],
        min=float(finite.min()),
        max=float(finite.max()),
        mean=float(finite.mean()),
        std=float(finite.std()),
    )


def categorical_distribution(series: pd.Series) -> CategoricalDistribution:
    frequencies = series.dropna().map(category_label).value_counts(sort=False)
    if frequencies.empty:
        raise ProfileError(f"column {series.name!r} has no values")
    ordered = sorted(frequencies.items(), key=lambda kv: (-kv[1], kv[0]))
    total = int(frequencies.sum())
    return CategoricalDistribution(
        categories=[str(k) for k, _ in ordered],
        counts=[int(v) for _, v in ordered],
        proportions=[int(v) / total for _, v in ordered],
    )


def column_distribution(
    series: pd.Series, bins: int, forced_categorical: bool = False
) -> NumericDistribution | CategoricalDistribution:
    if is_categorical(series, forced=forced_categorical, label=True):
        return categorical_distribution(series)
    return numeric_distribution(series, bins)


def build_profile(data: pd.DataFrame, options: ProfileOptions) -> Profile:
    if data.empty:
        raise ProfileError("the training data has no rows")
    named = [options.target, *([options.prediction] if options.prediction else [])]
    for name in [*named, *options.fairness, *options.exclude, *options.categorical]:
        if name not in data.columns:
            raise ProfileError(f"column {name!r} not found; columns are {list(data.columns)}")
    not_inputs = {*named, *options.exclude}
    features: list[NumericFeature | CategoricalFeature] = []
    for name in data.columns:
        if name in not_inputs:
            continue
        series = data[name]
        if is_categorical(series, forced=name in options.categorical):
            features.append(
                CategoricalFeature(
                    name=str(name),
                    distribution=categorical_distribution(series),
                    allow_unknown=name in options.allow_unknown,
                )
            )
            continue
        distribution = numeric_distribution(series, options.bins)
        enforce = name in options.enforce_range
        features.append(
            NumericFeature(
                name=str(name),
                dtype="integer" if pd.api.types.is_integer_dtype(series) else "float",
                distribution=distribution,
                enforce_range=ValueRange(min=distribution.min, max=distribution.max)
                if enforce
                else None,
            )
        )
    if not features:
        raise ProfileError("no feature columns left after removing target, prediction, excluded")
    target = Column(
        name=options.target,
        distribution=column_distribution(data[options.target], options.bins),
    )
    if options.prediction:
        prediction = Column(
            name=options.prediction,
            distribution=column_distribution(data[options.prediction], options.bins),
        )
    else:
        prediction = target
    fairness = [
        FairnessAttribute(
            name=name,
            groups=categorical_distribution(data[name]).categories,
            is_feature=name not in not_inputs,
        )
        for name in options.fairness
    ]
    return Profile(
        rows=len(data),
        features=features,
        target=target,
        prediction=prediction,
        prediction_source="column" if options.prediction else "target",
        fairness=fairness,
    )
