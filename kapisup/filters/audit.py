"""One audit.k8s.io/v1 Event per request at level Metadata, written once the response is done.

The user is read on the way in, so the line shows who authenticated even when impersonation
below swaps the environ's user; the impersonated one is added from the environ afterwards.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import gevent

from kapisup.auth.user import UserInfo
from kapisup.endpoints.body import close_body
from kapisup.endpoints.request import AUDIT_ID, IMPERSONATED_BY, REQUEST_INFO, USER, WSGIApp
from kapisup.observability.auditlog import AuditLogWriter
from kapisup.observability.logging import get_logger

_LOGGER = "kapisup.audit"  # looked up when used: configure_logging() runs after import


def _timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user(user: UserInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {key: list(values) for key, values in user.extra.items()}
    return out


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def source_ips(environ: dict[str, Any]) -> list[str]:
    """X-Forwarded-For, then X-Real-Ip, then the peer, as kube lists a request's sources."""
    ips: list[str] = []
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded:
        ips.extend(ip for ip in map(_ip, forwarded.split(",")) if ip)
    real = environ.get("HTTP_X_REAL_IP")
    if real:
        ip = _ip(real)
        if ip and ip not in ips:
            ips.append(ip)
    remote = environ.get("REMOTE_ADDR")
    if remote and (not ips or ips[-1] != remote):
        ips.append(remote)
    return ips


class _Event:
    """What is known of one request so far; `finish()` writes it exactly once."""

    __slots__ = ("audit_id", "code", "environ", "received", "stage", "user", "writer")

    def __init__(self, environ: dict[str, Any], writer: AuditLogWriter):
        self.environ = environ
        self.writer = writer
        self.audit_id = str(uuid.uuid4())
        self.received = datetime.now(UTC)
        self.user: UserInfo | None = environ.get(USER)
        self.code = 0
        self.stage = "ResponseComplete"

    def failed(self, exc: BaseException) -> None:
        # The code the client will see from the filters above this one.
        if isinstance(exc, gevent.Timeout):
            self.code = 504
        else:
            self.stage, self.code = "Panic", 500

    def finish(self) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        try:
            writer.write(self.event())
        except Exception:
            get_logger(_LOGGER).error("cannot write audit event", audit_id=self.audit_id,
                                      exc_info=True)

    def event(self) -> dict[str, Any]:
        environ = self.environ
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING")
        info = environ.get(REQUEST_INFO)
        out: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": self.audit_id,
            "stage": self.stage,
            "requestURI": f"{path}?{query}" if query else path,
            "verb": info.verb if info is not None else environ.get("REQUEST_METHOD", "").lower(),
        }
        if self.user is not None:
            out["user"] = _user(self.user)
        impersonated = environ.get(USER)
        if environ.get(IMPERSONATED_BY) is not None and impersonated is not None:
            out["impersonatedUser"] = _user(impersonated)
        out["sourceIPs"] = source_ips(environ)
        agent = environ.get("HTTP_USER_AGENT")
        if agent:
            out["userAgent"] = agent
        if info is not None and info.is_resource_request:
            ref = {
                "resource": info.resource,
                "namespace": info.namespace,
                "name": info.name,
                "apiGroup": info.api_group,
                "apiVersion": info.api_version,
                "subresource": info.subresource,
            }
            out["objectRef"] = {key: value for key, value in ref.items() if value}
        out["responseStatus"] = {"metadata": {}, "code": self.code}
        out["requestReceivedTimestamp"] = _timestamp(self.received)
        out["stageTimestamp"] = _timestamp(datetime.now(UTC))
        return out


class _AuditedBody:
    """The app's body; closing it completes the event."""

    __slots__ = ("_body", "_event")

    def __init__(self, body: Iterable[bytes], event: _Event):
        self._body = body
        self._event = event

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._event.failed(exc)
            raise

    def close(self) -> None:
        try:
            close_body(self._body)
        finally:
            self._event.finish()


def with_audit(app: WSGIApp, writer: AuditLogWriter | None) -> WSGIApp:
    """Audit every request to `writer`; unchanged app when there is no writer."""
    if writer is None:
        return app

    def audit(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        event = _Event(environ, writer)
        environ[AUDIT_ID] = event.audit_id
        id_header = ("Audit-Id", event.audit_id)

        def audited_start_response(status: str, headers: list[tuple[str, str]],
                                   exc_info: Any = None) -> Any:
            code = status[:3]
            event.code = int(code) if code.isdigit() else 0
            return start_response(status, [*headers, id_header], exc_info)

        try:
            body = app(environ, audited_start_response)
        except BaseException as exc:
            event.failed(exc)
            event.finish()
            raise
        return _AuditedBody(body, event)

    return audit
