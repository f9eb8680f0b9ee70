"""The secure and insecure handler chains, composed in kube-apiserver's filter order.

Outermost first: request info, metrics, max-in-flight, timeout, panic recovery, CORS, then
authentication, audit, impersonation, authorization on the secure port (audit only on the
insecure one). So an unauthenticated request still takes an in-flight slot and a timeout, and a
CORS preflight is answered before anyone asks for credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kapisup.auth.authenticator import Authenticator
from kapisup.auth.authorizer import AlwaysAllow, Authorizer
from kapisup.endpoints.request import RequestInfo, RequestInfoResolver, WSGIApp
from kapisup.filters.audit import with_audit
from kapisup.filters.authentication import with_authentication
from kapisup.filters.authorization import with_authorization
from kapisup.filters.cors import with_cors
from kapisup.filters.impersonation import with_impersonation
from kapisup.filters.longrunning import LongRunningCheck
from kapisup.filters.maxinflight import InFlightLimiter, OnChange
from kapisup.filters.recovery import with_panic_recovery
from kapisup.filters.requestinfo import with_request_info
from kapisup.filters.timeout import with_timeout
from kapisup.observability.auditlog import AuditLogWriter
from kapisup.observability.auditpolicy import Policy
from kapisup.observability.logging import get_logger


@dataclass
class ChainConfig:
    """Everything the filters need; defaults match the settings' defaults.

    `authenticator` None skips authentication (no user in the environ) and `authorizer` None
    skips authorization and lets any impersonation through, as kube does without them.
    """

    resolver: RequestInfoResolver = field(default_factory=RequestInfoResolver)
    long_running: Callable[[RequestInfo], bool] = field(default_factory=LongRunningCheck)
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    request_timeout: float = 60.0
    cors_allowed_origins: tuple[str, ...] = ()
    authenticator: Authenticator | None = None
    authorizer: Authorizer | None = None
    audit_writer: AuditLogWriter | None = None
    audit_policy: Policy | None = None  # None: every request at Metadata, one line each
    access_log: bool = True
    logger: Any = None  # structlog logger; None = get_logger("kapisup.http")
    on_inflight_change: OnChange | None = None
    metrics_observer: Callable[[WSGIApp], WSGIApp] | None = None

    def limiter(self) -> InFlightLimiter:
        return InFlightLimiter(
            self.max_requests_inflight, self.max_mutating_requests_inflight,
            self.long_running, self.on_inflight_change,
        )


def generic(app: WSGIApp, cfg: ChainConfig, limiter: InFlightLimiter | None = None) -> WSGIApp:
    """The filters of both ports; pass `limiter` to share in-flight counters between chains."""
    logger = cfg.logger if cfg.logger is not None else get_logger("kapisup.http")
    handler = with_cors(app, cfg.cors_allowed_origins)
    handler = with_panic_recovery(handler, logger, cfg.access_log)
    handler = with_timeout(handler, cfg.request_timeout, cfg.long_running)
    handler = (limiter if limiter is not None else cfg.limiter())(handler)
    if cfg.metrics_observer is not None:
        handler = cfg.metrics_observer(handler)
    return with_request_info(handler, cfg.resolver)


def protect(app: WSGIApp, cfg: ChainConfig) -> WSGIApp:
    """Authentication, audit, impersonation and authorization: the secure port's filters."""
    handler = app
    if cfg.authorizer is not None:
        handler = with_authorization(handler, cfg.authorizer)
    handler = with_impersonation(
        handler, cfg.authorizer if cfg.authorizer is not None else AlwaysAllow()
    )
    handler = with_audit(handler, cfg.audit_writer, cfg.audit_policy, cfg.long_running)
    if cfg.authenticator is not None:
        handler = with_authentication(handler, cfg.authenticator)
    return handler


def audit_only(app: WSGIApp, cfg: ChainConfig) -> WSGIApp:
    """The insecure port trusts its (loopback) clients: audit, nothing else."""
    return with_audit(app, cfg.audit_writer, cfg.audit_policy, cfg.long_running)


def build_handler_chains(api_app: WSGIApp, cfg: ChainConfig) -> tuple[WSGIApp, WSGIApp]:
    """(secure, insecure) handlers around `api_app`, sharing one process's in-flight limits."""
    limiter = cfg.limiter()
    secure = generic(protect(api_app, cfg), cfg, limiter)
    insecure = generic(audit_only(api_app, cfg), cfg, limiter)
    return secure, insecure
