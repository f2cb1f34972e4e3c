"""A small, deliberately biased loan model with a categorical feature and a fairness
attribute, and requests whose data quality a test can spoil: unseen categories, amounts
beyond the training range, a missing feature."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from modelship.profile.build import ProfileOptions, build_profile
from modelship.profile.schema import NumericDistribution, Profile
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from modelship_testing.serving import TrainedModel

LOAN_FEATURES = ("amount", "channel", "gender")
CHANNELS = ("web", "shop")


def loan_data(rows: int = 2000, seed: int = 13) -> pd.DataFrame:
    """Approvals that depend on gender far more than on the amount: a model trained on them
    learns the bias (statistical parity difference near -0.7)."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, rows).round(2),
            "channel": rng.choice(CHANNELS, rows),
            "gender": rng.choice(["M", "F"], rows),
        }
    )
    base = np.where(data["gender"] == "M", 0.85, 0.15) - 0.001 * (data["amount"] - 100)
    data["approved"] = (rng.random(rows) < base).astype(int)
    return data


def train_loan_model(directory: Path) -> TrainedModel:
    directory.mkdir(parents=True, exist_ok=True)
    data = loan_data()
    model = Pipeline(
        [
            ("encode", ColumnTransformer(
                [("categories", OneHotEncoder(handle_unknown="ignore"), ["channel", "gender"])],
                remainder="passthrough",
            )),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )  # fmt: skip
    model.fit(data[list(LOAN_FEATURES)], data["approved"])
    model_path = directory / "model.joblib"
    joblib.dump(model, model_path)
    options = ProfileOptions(target="approved", fairness=["gender"], allow_unknown=["channel"],
                             bins=8)  # fmt: skip
    profile_path = directory / "profile.json"
    profile_path.write_text(build_profile(data, options).to_json())
    return TrainedModel(directory, model_path, profile_path)


@dataclass
class LoanRequests:
    """One-row loan requests; shares of them spoiled on purpose (0 by default)."""

    profile: Profile
    unseen: float = 0.0
    """Share of requests whose channel is one the profile does not list (served: allowed)."""
    out_of_range: float = 0.0
    """Share of requests whose amount is three times the training maximum (served)."""
    missing: float = 0.0
    """Share of requests without an amount input (rejected: missingFeature)."""

    def __call__(
        self, rng: random.Random, shift: dict[str, float], request_id: str
    ) -> tuple[bytes, list[int]]:
        row = loan_data(rows=1, seed=rng.randrange(1 << 30)).iloc[0]
        amount = float(row["amount"]) + shift.get("amount", 0.0)
        if rng.random() < self.out_of_range:
            dist = self.profile.feature("amount").distribution
            assert isinstance(dist, NumericDistribution)
            amount = 3 * dist.max
        channel = "phone" if rng.random() < self.unseen else str(row["channel"])
        inputs = [
            {"name": "amount", "shape": [1], "datatype": "FP64", "data": [amount]},
            {"name": "channel", "shape": [1], "datatype": "BYTES", "data": [channel]},
            {"name": "gender", "shape": [1], "datatype": "BYTES", "data": [str(row["gender"])]},
        ]
        if rng.random() < self.missing:
            inputs = inputs[1:]
        body = {"id": request_id, "inputs": inputs}
        return json.dumps(body).encode(), [int(row["approved"])]
