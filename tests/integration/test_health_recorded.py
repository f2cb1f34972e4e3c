"""docs/gitops.md's health tables, from the objects test_health.py captured live (tests/health/):
Argo CD's and kstatus's own code judge them again, without a cluster, so a change to the health
checks (charts/modelship/files/argocd/health.lua, deploy/argocd/argocd-cm.yaml) or to the tools'
versions shows here at once. Needs modelship-health (`make cluster-bin`), not a cluster."""

from __future__ import annotations

import pytest
from modelship_testing.health import HealthTable


@pytest.mark.parametrize("kind", ["ModelDeployment", "DriftMonitor", "RetrainPolicy"])
def test_recorded_objects_give_the_documented_table(kind: str) -> None:
    HealthTable.recorded(kind).check_docs()
