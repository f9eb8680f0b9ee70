"""audit.k8s.io/v1 Events for each request, at the level and stages its policy rule asks for.

The policy is decided once per request, on the way in, from the authenticated user (before
impersonation below swaps the environ's user, as in kube) and the RequestInfo. Then:

- RequestReceived is written before the handler runs;
- ResponseStarted when a long-running request (watch) sends its status line;
- ResponseComplete once the body is closed, or Panic when the handler raised.

At level Request the request body is teed as the handler reads it (never read twice, never
more than `MAX_BODY_BYTES` kept) and decoded when the event is written; at RequestResponse the
response body is kept too, except for long-running responses. Only JSON (and YAML apply
patches) are decoded: a protobuf body gets no requestObject/responseObject.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import gevent

from kapisup.apimachinery.errors import StatusError
from kapisup.auth.user import UserInfo, user_info_json
from kapisup.endpoints.body import close_body
from kapisup.endpoints.negotiation import decode_yaml
from kapisup.endpoints.request import (
    AUDIT_ID,
    IMPERSONATED_BY,
    REQUEST_INFO,
    USER,
    RequestInfo,
    WSGIApp,
)
from kapisup.filters.authorization import AUTHORIZATION_DECISION
from kapisup.observability.auditlog import AuditLogWriter
from kapisup.observability.auditpolicy import AuditDecision, Level, Policy, metadata_policy
from kapisup.observability.logging import get_logger

_LOGGER = "kapisup.audit"  # looked up when used: configure_logging() runs after import

#: Bodies larger than this are not kept for requestObject/responseObject (noted instead).
MAX_BODY_BYTES = 1 << 20
#: An error response's Status is read for responseStatus up to this size, at every level.
_MAX_STATUS_BYTES = 64 << 10
OMITTED_ANNOTATION = "audit.kapisup.io/omitted"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def _decodable(content_type: str | None) -> bool:
    """JSON, or YAML (server-side apply); protobuf and the rest are not decoded."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.endswith("json") or media.endswith("yaml")


def _decode(data: bytes, content_type: str | None) -> Any:
    """The body as JSON; None if it does not decode (the event then has no object)."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        pass
    if (content_type or "").split(";", 1)[0].strip().lower().endswith("yaml"):
        try:
            return decode_yaml(data)  # the same JSON-shaped tree the handler decoded
        except StatusError:
            return None
    return None


def _without_managed_fields(obj: Any) -> Any:
    """Drop metadata.managedFields of an object and of a list's items (decoded copies)."""
    if isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        items = obj.get("items")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
                    item["metadata"].pop("managedFields", None)
    return obj


class _Capture:
    """Bytes kept up to a limit; past it, nothing is kept and `overflowed` says so."""

    __slots__ = ("chunks", "limit", "overflowed", "size")

    def __init__(self, limit: int):
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.overflowed = False

    def add(self, data: bytes) -> None:
        if self.overflowed or not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.overflowed = True
            self.chunks = []
        else:
            self.chunks.append(data)

    def data(self) -> bytes:
        return b"".join(self.chunks)


class _TeeInput:
    """`wsgi.input` as the handler sees it, copying what it reads into a capture."""

    __slots__ = ("_capture", "_stream")

    def __init__(self, stream: Any, capture: _Capture):
        self._stream = stream
        self._capture = capture

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(size)
        self._capture.add(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = self._stream.readline(size)
        self._capture.add(data)
        return data

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = self._stream.readlines(hint)
        for line in lines:
            self._capture.add(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self._capture.add(line)
            yield line


class _Event:
    """One request's audit record; `emit(stage)` writes it as that stage's Event line."""

    __slots__ = ("audit_id", "base", "code", "decision", "environ", "finished", "omitted",
                 "received", "request_capture", "request_type", "response_capture",
                 "response_type", "user", "writer")

    def __init__(self, environ: dict[str, Any], writer: AuditLogWriter, decision: AuditDecision,
                 audit_id: str, user: UserInfo | None):
        self.environ = environ
        self.writer = writer
        self.decision = decision
        self.audit_id = audit_id
        self.received = datetime.now(UTC)
        self.user = user
        self.code = 0
        self.finished = False
        self.base: tuple[dict[str, Any], dict[str, Any]] | None = None
        self.request_capture: _Capture | None = None
        self.request_type: str | None = None
        self.response_capture: _Capture | None = None
        self.response_type: str | None = None
        self.omitted: list[str] | None = None  # requestObject/responseObject too big to keep

    def omit(self, key: str) -> None:
        if self.omitted is None:
            self.omitted = []
        if key not in self.omitted:
            self.omitted.append(key)

    def failed(self, exc: BaseException) -> str:
        """The closing stage and code the client will see from the filters above this one."""
        if isinstance(exc, gevent.Timeout):
            self.code = 504
            return "ResponseComplete"
        self.code = 500
        return "Panic"

    def finish(self, stage: str = "ResponseComplete") -> None:
        """Write the closing stage exactly once."""
        if self.finished:
            return
        self.finished = True
        self.emit(stage)

    def emit(self, stage: str) -> None:
        if not self.decision.records(stage):
            return
        try:
            self.writer.write(self.event(stage))
        except Exception:
            get_logger(_LOGGER).error("cannot write audit event", audit_id=self.audit_id,
                                      stage=stage, exc_info=True)

    def _base(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The fields every stage repeats, built at the first stage: those before
        impersonatedUser and those after it."""
        environ = self.environ
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING")
        info: RequestInfo | None = environ.get(REQUEST_INFO)
        head: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": self.decision.level.wire,
            "auditID": self.audit_id,
            "stage": "",
            "requestURI": f"{path}?{query}" if query else path,
            "verb": info.verb if info is not None else environ.get("REQUEST_METHOD", "").lower(),
        }
        if self.user is not None:
            head["user"] = user_info_json(self.user)
        tail: dict[str, Any] = {"sourceIPs": source_ips(environ)}
        agent = environ.get("HTTP_USER_AGENT")
        if agent:
            tail["userAgent"] = agent
        if info is not None and info.is_resource_request:
            ref = {
                "resource": info.resource,
                "namespace": info.namespace,
                "name": info.name,
                "apiGroup": info.api_group,
                "apiVersion": info.api_version,
                "subresource": info.subresource,
            }
            tail["objectRef"] = {key: value for key, value in ref.items() if value}
        return head, tail

    def event(self, stage: str) -> dict[str, Any]:
        """One stage's Event, its fields in kube's order."""
        if self.base is None:
            self.base = self._base()
        head, tail = self.base
        out = dict(head)
        out["stage"] = stage
        environ = self.environ
        received = _timestamp(self.received)
        if stage == "RequestReceived":
            out.update(tail)
            out["requestReceivedTimestamp"] = out["stageTimestamp"] = received
            return out
        impersonated = environ.get(USER)
        if environ.get(IMPERSONATED_BY) is not None and impersonated is not None:
            out["impersonatedUser"] = user_info_json(impersonated)
        out.update(tail)
        out["responseStatus"] = self._response_status()
        if self.decision.level >= Level.REQUEST:
            self._add_object(out, "requestObject", self.request_capture, self.request_type)
        if self.decision.level >= Level.REQUEST_RESPONSE and stage != "ResponseStarted":
            self._add_object(out, "responseObject", self.response_capture, self.response_type)
        out["requestReceivedTimestamp"] = received
        out["stageTimestamp"] = _timestamp(datetime.now(UTC))
        annotations = self._annotations()
        if annotations:
            out["annotations"] = annotations
        return out

    def _response_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"metadata": {}}
        capture = self.response_capture
        if self.code >= 400 and capture is not None and capture.chunks:
            decoded = _decode(capture.data(), self.response_type)
            if isinstance(decoded, dict) and decoded.get("kind") == "Status":
                for key in ("status", "message", "reason", "details"):
                    if key in decoded:
                        status[key] = decoded[key]
        status["code"] = self.code
        return status

    def _add_object(self, out: dict[str, Any], key: str, capture: _Capture | None,
                    content_type: str | None) -> None:
        if capture is None or not capture.chunks:
            if capture is not None and capture.overflowed:
                self.omit(key)
            return
        decoded = _decode(capture.data(), content_type)
        if decoded is None:
            return
        if self.decision.omit_managed_fields:
            decoded = _without_managed_fields(decoded)
        out[key] = decoded

    def _annotations(self) -> dict[str, str] | None:
        annotations: dict[str, str] = {}
        decision = self.environ.get(AUTHORIZATION_DECISION)
        if decision is not None:
            verdict, reason = decision
            annotations["authorization.k8s.io/decision"] = verdict
            if reason:
                annotations["authorization.k8s.io/reason"] = reason
        if self.omitted:
            annotations[OMITTED_ANNOTATION] = (f"{', '.join(self.omitted)} larger than "
                                               f"{MAX_BODY_BYTES} bytes")
        return annotations or None


class _AuditedBody:
    """The app's body; keeps what the event needs of it and closing it completes the event."""

    __slots__ = ("_body", "_event", "_stage")

    def __init__(self, body: Iterable[bytes], event: _Event):
        self._body = body
        self._event = event
        self._stage = "ResponseComplete"

    def __iter__(self) -> Iterator[bytes]:
        capture = self._event.response_capture
        try:
            if capture is None:
                yield from self._body
            else:
                for chunk in self._body:
                    capture.add(chunk)
                    yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._stage = self._event.failed(exc)
            raise

    def close(self) -> None:
        try:
            close_body(self._body)
        finally:
            self._event.finish(self._stage)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def with_audit(app: WSGIApp, writer: AuditLogWriter | None, policy: Policy | None = None,
               long_running: Callable[[RequestInfo], bool] | None = None) -> WSGIApp:
    """Audit requests to `writer` as `policy` says (None: all at Metadata, one line each);
    unchanged app when there is no writer."""
    if writer is None:
        return app
    rules = policy if policy is not None else metadata_policy()

    def audit(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        info: RequestInfo | None = environ.get(REQUEST_INFO)
        user: UserInfo | None = environ.get(USER)
        verb = info.verb if info is not None else environ.get("REQUEST_METHOD", "").lower()
        decision = rules.decide(user.name if user is not None else None,
                                user.groups if user is not None else (), verb, info,
                                environ.get("PATH_INFO", ""))
        audit_id = str(uuid.uuid4())
        environ[AUDIT_ID] = audit_id
        id_header = ("Audit-Id", audit_id)
        if decision.level is Level.NONE:
            def id_start_response(status: str, headers: list[tuple[str, str]],
                                  exc_info: Any = None) -> Any:
                return start_response(status, [*headers, id_header], exc_info)

            return app(environ, id_start_response)

        event = _Event(environ, writer, decision, audit_id, user)
        event.emit("RequestReceived")
        level = decision.level
        if level >= Level.REQUEST and environ.get("REQUEST_METHOD") in _BODY_METHODS:
            _tee_request_body(environ, event)
        streaming = long_running is not None and info is not None and long_running(info)
        started = streaming and decision.records("ResponseStarted")

        def audited_start_response(status: str, headers: list[tuple[str, str]],
                                   exc_info: Any = None) -> Any:
            code = status[:3]
            event.code = int(code) if code.isdigit() else 0
            if started:
                event.emit("ResponseStarted")
            # a watch stream is never kept; an error Status (even a watch's) is, for its reason
            if event.code >= 400 or (level >= Level.REQUEST_RESPONSE and not streaming):
                content_type = _header(headers, "content-type")
                if _decodable(content_type):
                    event.response_type = content_type
                    event.response_capture = _Capture(
                        MAX_BODY_BYTES if level >= Level.REQUEST_RESPONSE else _MAX_STATUS_BYTES)
            return start_response(status, [*headers, id_header], exc_info)

        try:
            body = app(environ, audited_start_response)
        except BaseException as exc:
            event.finish(event.failed(exc))
            raise
        return _AuditedBody(body, event)

    return audit


def _tee_request_body(environ: dict[str, Any], event: _Event) -> None:
    content_type = environ.get("CONTENT_TYPE")
    if not _decodable(content_type):
        return
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        event.omit("requestObject")
        return
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    event.request_type = content_type
    event.request_capture = _Capture(MAX_BODY_BYTES)
    environ["wsgi.input"] = _TeeInput(stream, event.request_capture)
