"""kapisup: a Kubernetes-style API server served by a pre-fork gevent supervisor."""

__version__ = "0.1.0"
