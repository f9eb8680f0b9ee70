"""Kubernetes `Status` objects: the one error shape every API path and filter answers with.

kubectl and client-go render `message` and switch on `reason` and `code`, so filters answer
with a Status too (as current kube-apiserver does), not 1.6's plain-text bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from kapisup.apimachinery.status import status_object

StartResponse = Callable[..., Any]

JSON = "application/json"
METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"


def status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


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


def method_not_allowed(start_response: StartResponse, allow: str = "GET") -> list[bytes]:
    """405 for a route that takes only `allow` (GET routes answer HEAD too)."""
    return write_status(start_response, 405, METHOD_NOT_ALLOWED, details={},
                        headers=[("Allow", allow)])
