"""ModelDeployment: serve a model, roll out new versions safely. The reconciler and its
analysis seam; the pure planner is `modelship.rollout`."""
