"""metav1.Status: the one error shape of every API path, filter and watch ERROR event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
