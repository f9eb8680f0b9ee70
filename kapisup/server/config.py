"""Config → CompletedConfig → GenericAPIServer, as k8s.io/apiserver's pkg/server names them.

The master builds a Config (validated, files read, certificates made, listeners bound); each
worker, after the fork, calls `config.complete().new()` to build its own container and chains.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kapisup.http.limits import HTTPLimits
from kapisup.options import Options
from kapisup.server.tls import TLSOptions

if TYPE_CHECKING:
    from kapisup.server.genericapiserver import GenericAPIServer


@dataclass
class ServingInfo:
    """One listener: where it binds and, once the master bound it, the socket."""

    bind_address: str
    port: int
    cert_file: str = ""  # set for the secure port only
    key_file: str = ""
    listener: socket.socket | None = None
    tls: TLSOptions | None = None  # secure port: min version, ciphers, client CA, SNI pairs

    @property
    def address(self) -> str:
        host = f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address
        return f"{host}:{self.port}"

    @property
    def secure(self) -> bool:
        return bool(self.cert_file)


@dataclass
class Config:
    options: Options
    secure_serving: ServingInfo | None
    insecure_serving: ServingInfo | None
    http_limits: HTTPLimits
    authenticator: Any
    authorizer: Any
    metrics_dir: str = ""
    worker_id: int = 0
    long_running_verbs: frozenset[str] = frozenset({"watch", "proxy"})
    long_running_subresources: frozenset[str] = frozenset(
        {"attach", "exec", "proxy", "log", "portforward"})
    extra: dict[str, Any] = field(default_factory=dict)
    #: "module:function" names called with the new GenericAPIServer (kube's API groups);
    #: names, not functions, so the master never imports what only workers run
    api_installers: tuple[str, ...] = ()
    #: the generated admin kubeconfig's absolute path ("" when credentials were configured)
    admin_kubeconfig: str = ""

    def for_worker(self, worker_id: int) -> Config:
        return dataclasses.replace(self, worker_id=worker_id)

    def complete(self) -> CompletedConfig:
        return CompletedConfig(self)


class CompletedConfig:
    """A Config whose derived fields are filled; only a completed config can build a server."""

    def __init__(self, config: Config):
        self.config = config

    def new(self) -> GenericAPIServer:
        import importlib

        from kapisup.server.genericapiserver import GenericAPIServer

        server = GenericAPIServer(self.config)
        for name in self.config.api_installers:
            module, _, function = name.partition(":")
            getattr(importlib.import_module(module), function)(server)
        return server
