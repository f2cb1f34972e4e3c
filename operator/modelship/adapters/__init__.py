"""One adapter per external system: Kubernetes and Prometheus. No decisions here."""
