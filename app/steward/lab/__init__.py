"""The Lab: failover drill, SLOs and drift, A/B comparison (Qt-free, on the application service)."""
