"""The reference model server: Open Inference Protocol v2 over REST, input validation against
the reference profile, and the metrics contract (docs/server.md, docs/metrics.md)."""
