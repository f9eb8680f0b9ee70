"""API errors as kube's StatusError: one exception type that knows its Status code and reason.

Everything below the REST handlers (registry, validation, patching, decoding) raises these; the
handlers turn them into `Status` objects, so a client's mistake is never a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kapisup.apimachinery.status import status_object


@dataclass(frozen=True, slots=True)
class Cause:
    """One field error (metav1.StatusCause): kubectl prints `field: message`."""

    reason: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class StatusError(Exception):
    """An error the API answers with a Status of this code, reason, message and details."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.message, self.reason, self.details)


def _quote(value: Any) -> str:
    """How kube's field errors print a bad value: strings JSON-quoted, others as Go prints them."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def qualified(resource: str, group: str = "") -> str:
    """`configmaps` in the core group, `widgets.example.com` elsewhere (kube's GroupResource)."""
    return f"{resource}.{group}" if group else resource


def details(name: str, resource: str, group: str, **more: Any) -> dict[str, Any]:
    """StatusDetails in kube's key order: name, group, kind, then any more."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource
    details.update(more)
    return details


# --- field errors (causes) -------------------------------------------------------------------


def field_invalid(field: str, value: Any, detail: str) -> Cause:
    message = f"Invalid value: {_quote(value)}"
    return Cause("FieldValueInvalid", field, f"{message}: {detail}" if detail else message)


def field_required(field: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", field, f"Required value: {detail}" if detail
                 else "Required value")


def field_forbidden(field: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def field_not_supported(field: str, value: Any, valid: list[str]) -> Cause:
    quoted = ", ".join(json.dumps(v) for v in valid)
    return Cause("FieldValueNotSupported", field,
                 f"Unsupported value: {_quote(value)}: supported values: {quoted}")


def field_duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", field, f"Duplicate value: {_quote(value)}")


def field_too_long(field: str, value: Any, limit: int) -> Cause:
    return Cause("FieldValueTooLong", field,
                 f"Too long: may not be more than {limit} bytes")


def field_type_invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueTypeInvalid", field, f"Invalid value: {_quote(value)}: {detail}")


# --- status errors ---------------------------------------------------------------------------


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                       details(name, resource, group))


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(409, "AlreadyExists",
                       f'{qualified(resource, group)} "{name}" already exists',
                       details(name, resource, group))


def conflict(resource: str, name: str, why: str, group: str = "") -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {qualified(resource, group)} '
                       f'"{name}": {why}', details(name, resource, group))


STALE = ("the object has been modified; please apply your changes to the latest version and "
         "try again")


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> StatusError:
    """422 Invalid: kubectl builds its message from details.kind, details.name and causes."""
    summary = str(causes[0]) if len(causes) == 1 else "[" + ", ".join(str(c) for c in causes) + "]"
    label = f"{kind}.{group}" if group else kind
    return StatusError(422, "Invalid", f'{label} "{name}" is invalid: {summary}',
                       details(name, kind, group, causes=[c.as_dict() for c in causes]))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden(resource: str, name: str, why: str, group: str = "") -> StatusError:
    target = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return StatusError(403, "Forbidden", f"{target} is forbidden: {why}",
                       details(name, resource, group))


def method_not_supported(resource: str, action: str, group: str = "") -> StatusError:
    return StatusError(405, "MethodNotAllowed",
                       f"{action} is not supported on resources of kind "
                       f'"{qualified(resource, group)}"', details("", resource, group))


def not_acceptable(accept: str, supported: list[str]) -> StatusError:
    return StatusError(406, "NotAcceptable",
                       f"only the following media types are accepted: {', '.join(supported)}")


def unsupported_media_type(content_type: str, supported: list[str]) -> StatusError:
    return StatusError(415, "UnsupportedMediaType",
                       f'the body of the request was in an unknown format "{content_type}" - '
                       f"accepted media types include: {', '.join(supported)}")


def too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge",
                       f"Request entity too large: limit is {limit}")


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def service_unavailable(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message, {"retryAfterSeconds": retry_after})
