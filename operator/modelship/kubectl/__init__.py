"""`kubectl modelship`: the kubectl plugin that shows and steers modelship's resources.

A client of the API server, not part of the operator: it reads ModelDeployments,
DriftMonitors and RetrainPolicies and writes only their control annotations. Pure modules
(`text`, `rollout_view`, `reports`, `actions`) turn objects (as the API server returns them,
plain dicts) into text and annotation patches; `cluster` is the one module that talks to the
API server, and `commands` and `live` join the two.
"""
