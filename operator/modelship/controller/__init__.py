"""The operator: kopf handlers (thin), the Kubernetes adapter, settings and the entry point."""
