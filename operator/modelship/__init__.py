"""modelship: deploy ML models safely, watch them for drift, retrain and promote through gates."""

__version__ = "0.1.0"
