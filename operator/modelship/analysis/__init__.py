"""Analysis: measure rollouts on Prometheus and turn measurements into gate verdicts."""
