"""Kubernetes `Status` objects: the one error shape every API path and filter answers with.

kubectl and client-go render `message` and switch on `reason` and `code`, so filters answer
with a Status too (as current kube-apiserver does), not 1.6's plain-text bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

StartResponse = Callable[..., Any]

# kube's metav1.StatusReason for each code it emits on its own.
REASONS: Mapping[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

JSON = "application/json"


def status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def status_object(
    code: int,
    message: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A metav1.Status dict in kube's key order; empty fields left out as kube does."""
    obj: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
    }
    reason = REASONS.get(code, "") if reason is None else reason
    if reason:
        obj["reason"] = reason
    if details is not None:
        obj["details"] = dict(details)
    obj["code"] = code
    return obj


def status_body(
    code: int,
    message: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> bytes:
    return json.dumps(status_object(code, message, reason, details)).encode() + b"\n"


def write_status(
    start_response: StartResponse,
    code: int,
    message: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer a WSGI request with a Status; adds Retry-After when details carry it."""
    body = status_body(code, message, reason, details)
    out = [("Content-Type", JSON), ("Content-Length", str(len(body))), *headers]
    retry = (details or {}).get("retryAfterSeconds")
    if retry and not any(name.lower() == "retry-after" for name, _ in out):
        out.append(("Retry-After", str(retry)))
    start_response(status_line(code), out)
    return [body]
