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
from kapisup.auth.serviceaccount import (
    AUTHENTICATOR_KEY,
    ISSUER_KEY,
    KeyFileError,
    ServiceAccountAuthenticator,
    TokenIssuer,
    load_public_keys,
)
from kapisup.auth.x509 import X509Authenticator
from kapisup.http.limits import HTTPLimits
from kapisup.observability import metrics
from kapisup.observability.auditpolicy import (
    AUDIT_POLICY_KEY,
    Policy,
    PolicyError,
    load_policy,
)
from kapisup.observability.logging import configure_logging, get_logger
from kapisup.options import Options, OptionsError, load_options
from kapisup.process.arbiter import Arbiter, SupervisorSettings
from kapisup.process.listeners import BindError, bind_listener
from kapisup.process.rlimits import raise_nofile_limit
from kapisup.server.config import Config, ServingInfo
from kapisup.server.kubeconfig import server_url, write_admin_kubeconfig
from kapisup.server.pki import PKIError, ensure_pki, ensure_signing_key, serving_names
from kapisup.server.tls import SNICertKey, TLSConfigError, TLSOptions, build_server_context

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
    secure, kubeconfig = None, ""
    if options.secure_port:
        secure, kubeconfig = _secure_serving(options)
        options = options.replace(client_ca_file=secure.tls.client_ca_file)
    _check_audit_path(options)
    audit_policy = _load_audit_policy(options)
    _prepare_storage(options)
    sa_authenticator, sa_issuer = _build_service_accounts(options)
    try:
        authorizer = build_authorizer(options.authorization_mode,
                                      options.authorization_policy_file)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    insecure = None
    if options.insecure_port:
        insecure = ServingInfo(options.insecure_bind_address, options.insecure_port)
    config = Config(
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
        authenticator=_build_authenticator(options, sa_authenticator),
        authorizer=authorizer,
        api_installers=("kapisup.controlplane.instance:install",),
        admin_kubeconfig=kubeconfig,
        extra={AUTHENTICATOR_KEY: sa_authenticator, ISSUER_KEY: sa_issuer},
    )
    config.extra[AUDIT_POLICY_KEY] = audit_policy
    return config


def _secure_serving(options: Options) -> tuple[ServingInfo, str]:
    """The secure port's files, checked by building its TLS context once; with no credentials
    configured, the generated PKI's pair, client CA and admin kubeconfig (path returned)."""
    cert, key = options.tls_cert_file, options.tls_private_key_file
    client_ca, kubeconfig = options.client_ca_file, ""
    if not cert:
        pki_dir = options.cert_dir or os.path.join(options.data_dir, "pki")
        admin = not client_ca
        try:
            ips, dns = serving_names(options.bind_address)
            pki = ensure_pki(pki_dir, ips, dns, admin=admin)
            cert, key = pki.serving_cert, pki.serving_key
            if admin:
                client_ca = pki.ca_cert
                kubeconfig = os.path.abspath(os.path.join(options.data_dir, "admin.kubeconfig"))
                write_admin_kubeconfig(kubeconfig,
                                       server_url(options.bind_address, options.secure_port),
                                       pki.ca_cert, pki.admin_cert, pki.admin_key)
        except PKIError as err:
            raise ConfigError(f"--cert-dir {pki_dir}: {err}") from None
        except OSError as err:
            raise ConfigError(f"cannot write the admin kubeconfig: {err}") from None
    tls = TLSOptions(
        min_version=options.tls_min_version,
        cipher_suites=options.tls_cipher_suites,
        client_ca_file=client_ca,
        sni_cert_keys=tuple(SNICertKey(c, k, names) for c, k, names in options.tls_sni_cert_key),
    )
    if tls.min_version == "VersionTLS13" and tls.cipher_suites:
        raise ConfigError("--tls-cipher-suites cannot be set with --tls-min-version "
                          "VersionTLS13: TLS 1.3 suites are not configurable")
    try:
        build_server_context(cert, key, tls)
    except TLSConfigError as err:
        raise ConfigError(str(err)) from None
    return ServingInfo(options.bind_address, options.secure_port, cert, key, tls=tls), kubeconfig


def _prepare_storage(options: Options) -> None:
    """Create the database and its tables once, before any worker opens it. With etcd there
    is nothing to prepare: workers connect lazily and /readyz fails until etcd answers."""
    if options.etcd_servers:
        return
    import sqlite3

    from kapisup.storage.sqlite_schema import prepare

    path = os.path.join(options.data_dir, "kapisup.db")
    try:
        prepare(path)
    except (OSError, sqlite3.Error) as err:
        raise ConfigError(f"--data-dir {options.data_dir}: cannot open {path}: {err}") from None


def _build_service_accounts(options: Options) -> tuple[ServiceAccountAuthenticator,
                                                       TokenIssuer | None]:
    """The token verifier and signer. With neither key flag, <data-dir>/pki/sa.key is made
    once and both sign and verify with it, so tokens outlive restarts."""
    signing = options.service_account_signing_key_file
    try:
        if not signing and not options.service_account_key_file:
            signing = ensure_signing_key(os.path.join(options.data_dir, "pki"))
    except OSError as err:
        raise ConfigError(f"cannot create the service-account key in {options.data_dir}/pki: "
                          f"{err.strerror}") from None
    issuers = options.service_account_issuer
    keys = []
    try:
        for path in options.service_account_key_file:
            keys.extend(load_public_keys(path))
        issuer = TokenIssuer.from_file(issuers[0], signing) if signing else None
    except KeyFileError as err:
        flag = "--service-account-signing-key-file" if signing and str(err).startswith(
            f"{signing}:") else "--service-account-key-file"
        raise ConfigError(f"{flag}: {err}") from None
    if issuer is not None:
        keys.append(issuer.public_key)
    audiences = options.api_audiences or issuers[:1]
    return ServiceAccountAuthenticator(issuers, keys, audiences), issuer


def _build_authenticator(options: Options, service_accounts: Any = None) -> Any:
    """kube's union of authenticators; anonymous requests are refused under AlwaysAllow, as
    kube-apiserver does, or the secure port would be open to anyone who can reach it."""
    authenticators: list[Any] = []
    if options.client_ca_file:
        try:
            authenticators.append(X509Authenticator.from_file(options.client_ca_file))
        except (OSError, ValueError) as err:
            raise ConfigError(f"--client-ca-file: {err}") from None
    if options.token_auth_file:
        try:
            authenticators.append(TokenFileAuthenticator.from_file(options.token_auth_file))
        except (OSError, ValueError) as err:
            raise ConfigError(f"--token-auth-file: {err}") from None
    if service_accounts is not None:
        authenticators.append(service_accounts)
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
        if options.audit_log_maxsize:  # the workers rotate under an flock on this file
            os.close(os.open(options.audit_log_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as err:
        raise ConfigError(f"--audit-log-path {options.audit_log_path}: {err.strerror}") from None


def _load_audit_policy(options: Options) -> Policy | None:
    """The audit policy file, read and checked once here; None means the default policy."""
    path = options.audit_policy_file
    if not path:
        return None
    try:
        return load_policy(path)
    except OSError as err:
        raise ConfigError(f"--audit-policy-file {path}: {err.strerror}") from None
    except PolicyError as err:
        raise ConfigError(f"--audit-policy-file {path}: {err}") from None


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
        if self.config.admin_kubeconfig and os.path.exists(self.config.admin_kubeconfig):
            fields["kubeconfig"] = self.config.admin_kubeconfig
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
