"""The generic API server: Config, CompletedConfig, GenericAPIServer, serving."""
