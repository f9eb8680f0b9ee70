"""RFC 7386 JSON merge patch as evanphx/json-patch (kube's library) applies it.

Its quirks are kept: nulls are pruned from values that are inserted (also from arrays), but an
array that replaces an object is inserted untouched.
"""

from __future__ import annotations

import json
from typing import Any

from kapisup.apimachinery.errors import bad_request, field_invalid, invalid
from kapisup.apimachinery.patch._values import deep_copy, json_kind


def merge_patch(obj: dict, patch: Any) -> dict:
    """Merge a decoded merge patch into a copy of `obj`."""
    if isinstance(patch, dict):
        return _merge_docs(deep_copy(obj), patch)
    if isinstance(patch, list):
        result = _pruned(patch)
        text = json.dumps(result, separators=(",", ":"))
        raise invalid("", "", [field_invalid(
            "patch", text,
            f"json: cannot unmarshal {json_kind(result)} into Go value of type "
            "map[string]interface {}")])
    raise bad_request("Invalid JSON Patch")


def _merge_docs(doc: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if current is None:
            doc[key] = _pruned(value)
        else:
            doc[key] = _merge(current, value)
    return doc


def _merge(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _pruned(patch)
    if not isinstance(patch, dict):
        return deep_copy(patch)
    return _merge_docs(current, patch)


def _pruned(value: Any) -> Any:
    """A copy without nulls in objects or arrays (evanphx's pruneNulls)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value if v is not None]
    return value
