"""The reference profile: the one format `modelship profile` writes and the server and the
operator read (feature schema, bins, reference distributions, fairness attributes)."""

from modelship.profile.schema import (
    PROFILE_CONFIGMAP_KEY,
    CategoricalDistribution,
    CategoricalFeature,
    Distribution,
    FairnessAttribute,
    NumericDistribution,
    NumericFeature,
    Profile,
    load_profile,
)

__all__ = [
    "PROFILE_CONFIGMAP_KEY",
    "CategoricalDistribution",
    "CategoricalFeature",
    "Distribution",
    "FairnessAttribute",
    "NumericDistribution",
    "NumericFeature",
    "Profile",
    "load_profile",
]
