"""JSON value helpers shared by the patch kinds: copies, strict equality, Go-style printing.
"""

from __future__ import annotations

import json
from typing import Any

from kapisup.apimachinery.errors import StatusError

GENERIC_422 = "the server rejected our request due to an error in our request"


def deep_copy(value: Any) -> Any:
    """A copy of a decoded JSON value (dicts, lists, scalars) without copy.deepcopy's overhead."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: true is not 1, and 1 is not 1.0 (Go compares the raw bytes)."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def scalar_key(value: Any) -> tuple[str, Any]:
    """A hashable identity for a scalar that keeps bools, numbers and strings apart."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z", None)
    return ("j", json.dumps(value, sort_keys=True, separators=(",", ":")))


def go_format(value: Any) -> str:
    """How Go's %v prints a decoded JSON value, for error messages kube writes that way."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    return str(value)


def go_type(value: Any) -> str:
    """The Go type name encoding/json decodes a JSON value into (for ErrBadArgType)."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>"


def json_kind(value: Any) -> str:
    """The JSON kind encoding/json names in `cannot unmarshal <kind> into ...` errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def generic_invalid(why: str) -> StatusError:
    """kube's NewGenericServerResponse(422): the detail is dropped from the Status.

    The underlying reason is kept as an exception note for logs and tests.
    """
    err = StatusError(422, "Invalid", GENERIC_422, {})
    err.add_note(why)
    return err
