"""The Kubernetes API on the generic server: storage, registries, routes and controllers."""
