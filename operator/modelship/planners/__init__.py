"""Pure planners: (spec, observed state) -> plan. No I/O; table-tested."""
