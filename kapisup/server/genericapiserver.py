"""GenericAPIServer: the container, the two handler chains, and serving them in a worker.

`new()` builds the container and chains; `prepare_run()` installs the health routes (their
check lists are fixed from then on); `run(stop)` serves until the worker is told to stop, then
drains: /readyz fails, listeners close, in-flight requests finish within the drain budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kapisup.endpoints.request import REQUEST_INFO, RequestInfoResolver
from kapisup.filters.chain import ChainConfig, build_handler_chains
from kapisup.filters.longrunning import LongRunningCheck
from kapisup.mux.container import APIContainer
from kapisup.observability.auditlog import AuditLogWriter
from kapisup.observability.auditpolicy import AUDIT_POLICY_KEY, default_policy, load_policy
from kapisup.observability.logging import HotPathLogger, get_logger
from kapisup.observability.metrics import RequestMetrics, instrument
from kapisup.routes.healthz import HealthCheck, check_handler, ping, root_handler
from kapisup.routes.index import index_handler
from kapisup.routes.metrics import metrics_handler
from kapisup.routes.profiling import profile_handler
from kapisup.routes.version import version_handler
from kapisup.server.config import Config


class StopSignal(Protocol):
    """What `run` needs from whoever runs the server (a supervised worker, or a test)."""

    stop: Any  # gevent.event.Event
    drain_timeout: float

    def notify_ready(self) -> None: ...

    def note_request(self) -> None: ...

    def on_reopen(self, hook: Callable[[], None]) -> None: ...


class GenericAPIServer:
    def __init__(self, config: Config):
        self.config = config
        options = config.options
        self.log = get_logger("apiserver", worker=config.worker_id)
        self.container = APIContainer()
        self.draining = False
        self.healthz_checks: list[HealthCheck] = [HealthCheck("ping", ping)]
        self.livez_checks: list[HealthCheck] = [HealthCheck("ping", ping)]
        self.readyz_checks: list[HealthCheck] = [HealthCheck("ping", ping),
                                                 HealthCheck("shutdown", self._shutdown_check)]
        self.post_start_hooks: list[tuple[str, Callable[[], None]]] = []
        self.metrics = RequestMetrics(config.worker_id) if config.metrics_dir else None
        self.audit_writer = AuditLogWriter(
            options.audit_log_path, max_bytes=options.audit_log_maxsize * 1024 * 1024,
            max_backups=options.audit_log_maxbackup, max_age_days=options.audit_log_maxage,
        ) if options.audit_log_path else None
        # The master checked the file; a Config built elsewhere (tests) may not carry it.
        audit_policy = config.extra.get(AUDIT_POLICY_KEY) or (
            load_policy(options.audit_policy_file) if options.audit_policy_file
            else default_policy())
        self._install_api()
        long_running = LongRunningCheck(config.long_running_verbs,
                                        config.long_running_subresources)
        chain_config = ChainConfig(
            resolver=RequestInfoResolver(),
            long_running=long_running,
            max_requests_inflight=options.max_requests_inflight,
            max_mutating_requests_inflight=options.max_mutating_requests_inflight,
            request_timeout=options.request_timeout,
            cors_allowed_origins=options.cors_allowed_origins,
            authenticator=config.authenticator,
            authorizer=config.authorizer,
            audit_writer=self.audit_writer,
            audit_policy=audit_policy,
            access_log=options.access_log,
            logger=HotPathLogger("http", worker=config.worker_id),
            on_inflight_change=self.metrics.set_inflight if self.metrics else None,
            metrics_observer=self._instrument if self.metrics else None,
        )
        self.handler, self.insecure_handler = build_handler_chains(self.container, chain_config)

    def _install_api(self) -> None:
        """Index, version and metrics: the routes every generic API server has."""
        self.container.set_not_found(index_handler(self.container.listed_paths))
        self.container.unlisted_routes.handle("/", index_handler(self.container.listed_paths))
        self.container.unlisted_routes.handle("/index.html",
                                              index_handler(self.container.listed_paths))
        self.container.non_swagger_routes.handle("/version", version_handler())
        # The Python client's VersionApi asks for /version/.
        self.container.unlisted_routes.handle("/version/", version_handler())
        if self.config.options.profiling:
            import gevent

            self.container.unlisted_routes.handle("/debug/pprof/profile",
                                                  profile_handler(gevent.sleep))
        if self.config.metrics_dir:
            flush = self.metrics.flush if self.metrics is not None else None
            self.container.non_swagger_routes.handle(
                "/metrics", metrics_handler(self.config.metrics_dir, before=flush))

    def _instrument(self, app: Callable[..., Any]) -> Callable[..., Any]:
        assert self.metrics is not None
        return instrument(app, self.metrics, REQUEST_INFO, self.container.is_known_path)

    def _shutdown_check(self) -> str | None:
        return "server is shutting down" if self.draining else None

    def add_healthz_check(self, check: HealthCheck, livez: bool = True,
                          readyz: bool = True) -> None:
        self.healthz_checks.append(check)
        if livez:
            self.livez_checks.append(check)
        if readyz:
            self.readyz_checks.append(check)

    def add_post_start_hook(self, name: str, hook: Callable[[], None]) -> None:
        """Run once serving has started in this worker (controllers, informers)."""
        self.post_start_hooks.append((name, hook))

    def prepare_run(self) -> PreparedGenericAPIServer:
        for kind, checks in (("healthz", self.healthz_checks), ("livez", self.livez_checks),
                             ("readyz", self.readyz_checks)):
            routes = self.container.non_swagger_routes
            routes.handle(f"/{kind}", root_handler(kind, checks))
            for health in checks:
                routes.handle(f"/{kind}/{health.name}", check_handler(health))
        return PreparedGenericAPIServer(self)


class PreparedGenericAPIServer:
    def __init__(self, server: GenericAPIServer):
        self.server = server
        self.http_servers: list[Any] = []

    def run(self, stop: StopSignal) -> None:
        """Serve until `stop.stop` is set, then drain within `stop.drain_timeout`."""
        self.non_blocking_run(stop)
        stop.notify_ready()
        stop.stop.wait()
        self.shutdown(stop.drain_timeout)

    def non_blocking_run(self, stop: StopSignal) -> None:
        config = self.server.config
        if self.server.audit_writer is not None:
            stop.on_reopen(self.server.audit_writer.reopen)
        if config.secure_serving is not None:
            self.serve_securely(stop)
        if config.insecure_serving is not None:
            self.serve_insecurely(stop)
        if self.server.metrics is not None:
            import gevent

            gevent.spawn(self._publish_metrics, self.server.metrics)
        self.run_post_start_hooks()

    def run_post_start_hooks(self) -> None:
        """Controllers and bootstrap: what makes the API live once the worker serves (also
        called by kapisup.wsgi when another server hosts the handler)."""
        for name, hook in self.server.post_start_hooks:
            self.server.log.debug("post-start hook", hook=name)
            hook()

    @staticmethod
    def _publish_metrics(metrics: RequestMetrics) -> None:
        import gevent

        while True:
            metrics.publish_inflight()
            metrics.flush()
            gevent.sleep(1.0)

    def serve_securely(self, stop: StopSignal) -> None:
        from kapisup.server.tls import build_server_context

        info = self.server.config.secure_serving
        assert info is not None and info.listener is not None
        context = build_server_context(info.cert_file, info.key_file, info.tls)
        self._start(info.listener, self.server.handler, context, "secure", stop)

    def serve_insecurely(self, stop: StopSignal) -> None:
        info = self.server.config.insecure_serving
        assert info is not None and info.listener is not None
        self._start(info.listener, self.server.insecure_handler, None, "insecure", stop)

    def _start(self, listener: Any, app: Any, context: Any, name: str, stop: StopSignal) -> None:
        from kapisup.http.server import HTTPServer

        http = HTTPServer(listener, app, limits=self.server.config.http_limits,
                          ssl_context=context, name=name, on_request=stop.note_request,
                          logger=get_logger("http", worker=self.server.config.worker_id))
        http.start()
        self.http_servers.append(http)

    def shutdown(self, timeout: float) -> bool:
        """Fail /readyz, stop accepting, let in-flight requests finish; True if all did."""
        import gevent

        self.server.draining = True
        for http in self.http_servers:
            http.stop_accepting()
        drains = [gevent.spawn(http.drain, timeout) for http in self.http_servers]
        gevent.joinall(drains)
        clean = all(bool(g.value) for g in drains)
        if self.server.metrics is not None:
            self.server.metrics.flush()
        self.server.log.info("drained", clean=clean)
        return clean
