"""DriftMonitor: watch a ModelDeployment's live traffic against its reference profile."""
