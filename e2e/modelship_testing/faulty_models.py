"""Custom models (the server's custom-model hook) that misbehave on purpose, to prove that
analysis catches a bad canary: Flaky fails a share of predictions, Slow answers late,
FailsOnFlag fails every prediction once a test creates a file (a fault that starts later)."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import joblib


class Wrapped:
    """A scikit-learn model loaded from a joblib file, exposed through the hook."""

    def load(self, path: str) -> None:
        self.model = joblib.load(path)
        self.classes = [str(c) for c in self.model.classes_]
        self.n_features = int(self.model.n_features_in_)
        names = getattr(self.model, "feature_names_in_", None)
        self.feature_names = [str(n) for n in names] if names is not None else None

    def predict(self, features: Any) -> Any:
        return self.model.predict(features)


class Flaky(Wrapped):
    """Fails MODELSHIP_TEST_ERROR_RATE of its predictions (default half)."""

    def load(self, path: str) -> None:
        super().load(path)
        self.error_rate = float(os.environ.get("MODELSHIP_TEST_ERROR_RATE", "0.5"))
        self.random = random.Random(5)

    def predict(self, features: Any) -> Any:
        if self.random.random() < self.error_rate:
            raise RuntimeError("injected failure")
        return super().predict(features)


class Slow(Wrapped):
    """Answers after MODELSHIP_TEST_DELAY_SECONDS (default 0.3 s), times a log-normal factor
    of spread MODELSHIP_TEST_DELAY_SPREAD (default 0: always the same delay)."""

    def load(self, path: str) -> None:
        super().load(path)
        self.delay = float(os.environ.get("MODELSHIP_TEST_DELAY_SECONDS", "0.3"))
        self.spread = float(os.environ.get("MODELSHIP_TEST_DELAY_SPREAD", "0"))
        self.random = random.Random(os.getpid())

    def predict(self, features: Any) -> Any:
        time.sleep(self.delay * self.random.lognormvariate(0, self.spread))
        return super().predict(features)


class FailsOnFlag(Wrapped):
    """Healthy until the file MODELSHIP_TEST_FAULT_FILE exists, then fails every prediction:
    a revision that passes its canary and breaks after promotion."""

    def load(self, path: str) -> None:
        super().load(path)
        self.flag = os.environ["MODELSHIP_TEST_FAULT_FILE"]

    def predict(self, features: Any) -> Any:
        if os.path.exists(self.flag):
            raise RuntimeError("injected failure")
        return super().predict(features)
