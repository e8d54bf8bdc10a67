"""Performance: the aggregates every close maintains, the dashboard, the shadow metrics, /api/metrics, rebuild and verify."""
