"""A small credit model (sklearn pipeline) and its profile, shared by the server tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from modelship.profile.build import ProfileOptions, build_profile
from modelship.profile.schema import Profile
from modelship.server.settings import Settings
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

FEATURES = ["age", "income", "country"]


@dataclass(frozen=True)
class TrainedModel:
    directory: Path
    model_path: Path
    profile_path: Path
    model: Pipeline
    profile: Profile
    data: pd.DataFrame


def credit_data(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50.0, 10.0, rows).round(2),
            "country": rng.choice(["FR", "DE", "US"], rows),
            "gender": rng.choice(["F", "M"], rows),
        }
    )
    score = data["income"] + np.where(data["country"] == "US", 6.0, 0.0) - 0.05 * data["age"]
    data["label"] = np.where(score > 48, "approve", "deny")
    return data


def train_credit_model(directory: Path) -> TrainedModel:
    data = credit_data()
    model = Pipeline(
        [
            ("encode", ColumnTransformer(
                [("country", OneHotEncoder(handle_unknown="ignore"), ["country"])],
                remainder="passthrough",
            )),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    )  # fmt: skip
    model.fit(data[FEATURES], data["label"])
    model_path = directory / "model.joblib"
    joblib.dump(model, model_path)
    profile = build_profile(
        data,
        ProfileOptions(
            target="label", exclude=["gender"], fairness=["gender"], enforce_range=["age"], bins=4
        ),
    )
    profile_path = directory / "profile.json"
    profile_path.write_text(profile.to_json())
    return TrainedModel(directory, model_path, profile_path, model, profile, data)


def settings_for(trained: TrainedModel, **overrides: str) -> Settings:
    values = {
        "model_name": "credit",
        "model_uri": f"file://{trained.model_path}",
        "model_version": "3",
        "revision": "r1",
        "profile_path": str(trained.profile_path),
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def columnar(rows: list[dict[str, object]], **extra: list[str]) -> dict[str, object]:
    """An inference request with one input per feature."""
    inputs: list[dict[str, object]] = [
        {"name": "age", "shape": [len(rows)], "datatype": "INT64",
         "data": [r["age"] for r in rows]},
        {"name": "income", "shape": [len(rows)], "datatype": "FP64",
         "data": [r["income"] for r in rows]},
        {"name": "country", "shape": [len(rows)], "datatype": "BYTES",
         "data": [r["country"] for r in rows]},
    ]  # fmt: skip
    for name, values in extra.items():
        inputs.append({"name": name, "shape": [len(values)], "datatype": "BYTES", "data": values})
    return {"inputs": inputs}
