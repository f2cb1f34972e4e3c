"""Rollouts of a ModelDeployment: revisions, replica arithmetic, the step planner."""
