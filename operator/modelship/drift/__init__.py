"""The DriftMonitor's pure core: the one query of an evaluation, the live counts it returns,
the evaluation of those counts against the reference profile, and the status it plans."""
