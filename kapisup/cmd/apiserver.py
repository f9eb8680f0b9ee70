"""The kapisup command: options → build_master_config → run_server, as kube-apiserver's app.

Everything here runs in the master: it validates, makes certificates, binds both listeners and
hands a `Supervised` application to the arbiter. The API itself is built in each worker.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kapisup.auth.authenticator import (
    AnonymousAuthenticator,
    TokenFileAuthenticator,
    UnionAuthenticator,
)
from kapisup.auth.authorizer import build_authorizer
from kapisup.http.limits import HTTPLimits
from kapisup.observability import metrics
from kapisup.observability.logging import configure_logging, get_logger
from kapisup.options import Options, OptionsError, load_options
from kapisup.process.arbiter import Arbiter, SupervisorSettings
from kapisup.process.listeners import BindError, bind_listener
from kapisup.process.rlimits import raise_nofile_limit
from kapisup.server.certs import ensure_self_signed
from kapisup.server.config import Config, ServingInfo
from kapisup.server.tls import TLSConfigError, build_server_context

EXIT_CONFIG = 1
EXIT_USAGE = 2


class ConfigError(Exception):
    """The options are well-formed but cannot be put to work (bad files, unbindable ports)."""


def build_master_config(options: Options) -> Config:
    """Everything that can fail before a worker exists fails here, with one clear reason."""
    try:
        os.makedirs(options.data_dir, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"--data-dir {options.data_dir}: {err.strerror}") from None
    secure = None
    if options.secure_port:
        cert, key = options.tls_cert_file, options.tls_private_key_file
        if not cert:
            cert_dir = options.cert_dir or os.path.join(options.data_dir, "certs")
            ips = ["127.0.0.1"] + ([options.bind_address]
                                   if options.bind_address not in ("0.0.0.0", "::") else [])
            cert, key = ensure_self_signed(cert_dir, options.bind_address, ips,
                                           ["localhost", "kubernetes", "kubernetes.default",
                                            "kubernetes.default.svc"])
        try:
            build_server_context(cert, key)
        except TLSConfigError as err:
            raise ConfigError(str(err)) from None
        secure = ServingInfo(options.bind_address, options.secure_port, cert, key)
    _check_audit_path(options)
    _prepare_storage(options)
    insecure = None
    if options.insecure_port:
        insecure = ServingInfo(options.insecure_bind_address, options.insecure_port)
    return Config(
        options=options,
        secure_serving=secure,
        insecure_serving=insecure,
        http_limits=HTTPLimits(
            max_header_bytes=options.max_header_bytes,
            max_request_line_bytes=options.max_request_line_bytes,
            read_header_timeout=options.read_header_timeout,
            keepalive_timeout=options.keepalive_timeout,
            tls_handshake_timeout=options.tls_handshake_timeout,
            max_connections=options.worker_connections,
        ),
        authenticator=_build_authenticator(options),
        authorizer=build_authorizer(options.authorization_mode),
        api_installers=("kapisup.controlplane.instance:install",),
    )


def _prepare_storage(options: Options) -> None:
    """Create the database and its tables once, before any worker opens it."""
    import sqlite3

    from kapisup.storage.sqlite_schema import prepare

    path = os.path.join(options.data_dir, "kapisup.db")
    try:
        prepare(path)
    except (OSError, sqlite3.Error) as err:
        raise ConfigError(f"--data-dir {options.data_dir}: cannot open {path}: {err}") from None


def _build_authenticator(options: Options) -> Any:
    """kube's union of authenticators; anonymous requests are refused under AlwaysAllow, as
    kube-apiserver does, or the secure port would be open to anyone who can reach it."""
    authenticators: list[Any] = []
    if options.token_auth_file:
        try:
            authenticators.append(TokenFileAuthenticator.from_file(options.token_auth_file))
        except (OSError, ValueError) as err:
            raise ConfigError(f"--token-auth-file: {err}") from None
    anonymous = options.anonymous_auth
    if anonymous and "AlwaysAllow" in options.authorization_mode:
        get_logger("master").warning(
            "anonymous auth is not allowed with the AlwaysAllow authorizer; turning it off")
        anonymous = False
    if anonymous:
        return UnionAuthenticator(authenticators, anonymous=AnonymousAuthenticator())
    return UnionAuthenticator(authenticators, anonymous=None)


def _check_audit_path(options: Options) -> None:
    if not options.audit_log_path:
        return
    try:
        directory = os.path.dirname(os.path.abspath(options.audit_log_path))
        os.makedirs(directory, exist_ok=True)
        fd = os.open(options.audit_log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError as err:
        raise ConfigError(f"--audit-log-path {options.audit_log_path}: {err.strerror}") from None


def bind_listeners(config: Config, reuse: Config | None = None) -> None:
    """Pre-bind in the master; on reload keep the sockets whose address did not change."""
    for name in ("secure_serving", "insecure_serving"):
        info: ServingInfo | None = getattr(config, name)
        if info is None:
            continue
        old: ServingInfo | None = getattr(reuse, name) if reuse is not None else None
        if old is not None and old.listener is not None and old.address == info.address:
            info.listener = old.listener
            continue
        try:
            info.listener = bind_listener(info.bind_address, info.port)
        except BindError as err:
            close_listeners(config, keep=reuse)
            raise ConfigError(str(err)) from None


def close_listeners(config: Config, keep: Config | None = None) -> None:
    kept = set()
    if keep is not None:
        kept = {id(i.listener) for i in (keep.secure_serving, keep.insecure_serving)
                if i is not None and i.listener is not None}
    for info in (config.secure_serving, config.insecure_serving):
        if info is not None and info.listener is not None and id(info.listener) not in kept:
            info.listener.close()
            info.listener = None


class APIServerApp:
    """The API server as the arbiter sees it: a worker factory plus master-side hooks."""

    def __init__(self, config: Config, argv: Sequence[str] | None,
                 environ: Mapping[str, str] | None):
        self.config = config
        self._argv = argv
        self._environ = environ
        options = config.options
        self.settings = SupervisorSettings(
            workers=options.workers or os.cpu_count() or 1,
            graceful_timeout=options.graceful_timeout,
            worker_timeout=options.worker_timeout,
            max_requests=options.max_requests,
            max_requests_jitter=options.max_requests_jitter,
        )
        self.log = get_logger("master")

    def serve_worker(self, ctx: Any) -> None:
        from kapisup.server.serve import serve_worker  # imported after gevent patched the child

        serve_worker(self.config, ctx)

    def reload(self) -> APIServerApp:
        options = load_options(self._argv, self._environ)
        config = build_master_config(options)
        config.metrics_dir = self.config.metrics_dir
        bind_listeners(config, reuse=self.config)
        return APIServerApp(config, self._argv, self._environ)

    def release(self, keep: APIServerApp | None) -> None:
        close_listeners(self.config, keep=keep.config if keep is not None else None)

    def on_ready(self, workers: int) -> None:
        fields: dict[str, Any] = {"workers": workers}
        if self.config.secure_serving is not None:
            fields["secure"] = f"https://{self.config.secure_serving.address}"
        if self.config.insecure_serving is not None:
            fields["insecure"] = f"http://{self.config.insecure_serving.address}"
        self.log.info("ready", **fields)

    def worker_exited(self, worker_id: int, pid: int) -> None:
        metrics.mark_worker_dead(self.config.metrics_dir, worker_id)

    def stats_changed(self, workers: int, restarts: dict[str, int]) -> None:
        metrics.write_supervisor_stats(self.config.metrics_dir, workers, restarts)


def run_server(config: Config, argv: Sequence[str] | None = None,
               environ: Mapping[str, str] | None = None) -> int:
    """Bind, then supervise workers until stopped; returns the exit code."""
    config.metrics_dir = metrics.prepare_dir(config.options.metrics_dir)
    raise_nofile_limit()
    bind_listeners(config)
    app = APIServerApp(config, argv, environ)
    try:
        return Arbiter(app, get_logger("master")).run()
    finally:
        if not config.options.metrics_dir:
            shutil.rmtree(config.metrics_dir, ignore_errors=True)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    try:
        options = load_options(argv, environ)
    except OptionsError as err:
        sys.stderr.write(f"kapisup: error: {err}\n")
        return EXIT_USAGE
    configure_logging(options.log_level, role="master")
    log = get_logger("master")
    try:
        config = build_master_config(options)
        return run_server(config, argv, environ)
    except ConfigError as err:
        log.error("cannot start", reason=str(err))
        sys.stderr.write(f"kapisup: error: {err}\n")
        return EXIT_CONFIG
