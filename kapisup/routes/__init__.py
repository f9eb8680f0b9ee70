"""Non-API routes: index, healthz/livez/readyz, version, metrics."""
