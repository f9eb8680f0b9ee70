"""Resource registries: the kube REST semantics of each served type on top of storage."""
