"""RFC 6902 JSON patch with the semantics of gopkg.in/evanphx/json-patch.v4, which kube uses.

Kept quirks, because clients see them: `replace` of a missing object key adds it, `copy` from a
missing object key copies null, negative array indices count from the end, a path without a
leading slash acts on its last segment at the root. Apply failures answer 422 with kube's
generic message (the library's text is dropped by kube; it is kept here as an exception note).
"""

from __future__ import annotations

import json
import re
from typing import Any

from kapisup.apimachinery.errors import StatusError, bad_request, field_invalid, invalid
from kapisup.apimachinery.patch._values import deep_copy, generic_invalid, json_equal, json_kind

MAX_OPERATIONS = 10000
_GO_INT = re.compile(r"[+-]?[0-9]+\Z")
_MISSING = object()


class _PatchFailure(Exception):
    """One evanphx error; turned into kube's 422 at the top."""


def json_patch(obj: dict, ops: Any) -> dict:
    """Apply a decoded JSON patch (a list of operations) to a copy of `obj`."""
    patch = _decode(ops)
    if len(patch) > MAX_OPERATIONS:
        raise StatusError(413, "RequestEntityTooLarge",
                          "Request entity too large: The allowed maximum operations in a JSON "
                          f"patch is {MAX_OPERATIONS}, got {len(patch)}")
    root: dict[str, Any] = {"doc": deep_copy(obj)}
    for op in patch:
        try:
            _apply_one(root, op)
        except _PatchFailure as failure:
            raise generic_invalid(str(failure)) from None
    result = root["doc"]
    if not isinstance(result, dict):
        text = json.dumps(result, separators=(",", ":"))
        raise invalid("", "", [field_invalid(
            "patch", text,
            f"json: cannot unmarshal {json_kind(result)} into Go value of type "
            "map[string]interface {}")])
    return result


def _decode(ops: Any) -> list:
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise bad_request(
            f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {json_kind(op)} into Go value of type "
                              "jsonpatch.Operation")
    return ops


def _string_field(op: dict | None, name: str, missing: str) -> str:
    value = (op or {}).get(name)
    if value is None:
        raise _PatchFailure(missing)
    if not isinstance(value, str):
        raise _PatchFailure(
            f"json: cannot unmarshal {json_kind(value)} into Go value of type string")
    return value


def _kind(op: dict | None) -> str:
    value = (op or {}).get("op")
    return value if isinstance(value, str) else "unknown"


def _apply_one(root: dict[str, Any], op: dict | None) -> None:
    kind = _kind(op)
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise _PatchFailure(f"Unexpected kind: {kind}")
    handler(root, op or {})


def _path(op: dict, verb: str) -> str:
    try:
        return _string_field(op, "path", "operation missing path field: missing value")
    except _PatchFailure as failure:
        raise _PatchFailure(f"{verb} operation failed to decode path: {failure}") from None


def _from(op: dict, verb: str) -> str:
    try:
        return _string_field(op, "from", "operation, missing from field: missing value")
    except _PatchFailure as failure:
        raise _PatchFailure(f"{verb} operation failed to decode from: {failure}") from None


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _find(root: dict[str, Any], path: str) -> tuple[Any, str] | None:
    """The container holding the path's last token, and that token; None if unreachable."""
    parts = path.split("/")
    if len(parts) < 2:
        return None
    container = root["doc"]
    for part in parts[1:-1]:
        child = _get(container, _unescape(part), quiet=True)
        if not isinstance(child, (dict, list)):
            return None
        container = child
    return container, _unescape(parts[-1])


def _index(token: str) -> int:
    if not _GO_INT.match(token):
        raise _PatchFailure(f'strconv.Atoi: parsing "{token}": invalid syntax')
    return int(token)


def _bad_index(index: int) -> _PatchFailure:
    return _PatchFailure(f"Unable to access invalid index: {index}: invalid index referenced")


def _get(container: Any, key: str, quiet: bool = False) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    try:
        index = _index(key)
    except _PatchFailure:
        if quiet:
            return _MISSING
        raise
    size = len(container)
    if index < 0:
        if index < -size:
            if quiet:
                return _MISSING
            raise _bad_index(index)
        index += size
    if index >= size:
        if quiet:
            return _MISSING
        raise _bad_index(index)
    return container[index]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _index(key)
    except _PatchFailure as failure:
        raise _PatchFailure(f"value was not a proper array index: '{key}': {failure}") from None
    size = len(container) + 1
    if index >= size:
        raise _bad_index(index)
    if index < 0:
        if index < -size:
            raise _bad_index(index)
        index += size
    container.insert(index, value)


def _set(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    index = _index(key)
    if index < 0:
        if index < -len(container):
            raise _bad_index(index)
        index += len(container)
    container[index] = value


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _PatchFailure(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
        return
    index = _index(key)
    size = len(container)
    if index >= size:
        raise _bad_index(index)
    if index < 0:
        if index < -size:
            raise _bad_index(index)
        index += size
    del container[index]


def _op_add(root: dict[str, Any], op: dict) -> None:
    path = _path(op, "add")
    found = _find(root, path)
    if found is None:
        raise _PatchFailure(f'add operation does not apply: doc is missing path: "{path}": '
                            "missing value")
    try:
        _add(found[0], found[1], deep_copy(op.get("value")))
    except _PatchFailure as failure:
        raise _PatchFailure(f"error in add for path: '{path}': {failure}") from None


def _op_remove(root: dict[str, Any], op: dict) -> None:
    path = _path(op, "remove")
    found = _find(root, path)
    if found is None:
        raise _PatchFailure(f'remove operation does not apply: doc is missing path: "{path}": '
                            "missing value")
    try:
        _remove(*found)
    except _PatchFailure as failure:
        raise _PatchFailure(f"error in remove for path: '{path}': {failure}") from None


def _op_replace(root: dict[str, Any], op: dict) -> None:
    path = _path(op, "replace")
    if path == "":
        value = op.get("value")
        if not isinstance(value, (dict, list)):
            raise _PatchFailure("replace operation value must be object or array: <nil>")
        root["doc"] = deep_copy(value)
        return
    found = _find(root, path)
    if found is None:
        raise _PatchFailure(f"replace operation does not apply: doc is missing path: {path}: "
                            "missing value")
    container, key = found
    try:
        _get(container, key)
    except _PatchFailure:
        raise _PatchFailure(f"replace operation does not apply: doc is missing key: {path}: "
                            "missing value") from None
    _set(container, key, deep_copy(op.get("value")))


def _op_move(root: dict[str, Any], op: dict) -> None:
    source = _from(op, "move")
    found = _find(root, source)
    if found is None:
        raise _PatchFailure(f"move operation does not apply: doc is missing from path: {source}:"
                            " missing value")
    container, key = found
    try:
        value = _get(container, key)
        _remove(container, key)
    except _PatchFailure as failure:
        raise _PatchFailure(f"error in move for path: '{key}': {failure}") from None
    path = _path(op, "move")
    target = _find(root, path)
    if target is None:
        raise _PatchFailure(f"move operation does not apply: doc is missing destination path: "
                            f"{path}: missing value")
    try:
        _add(target[0], target[1], value)
    except _PatchFailure as failure:
        raise _PatchFailure(f"error in move for path: '{path}': {failure}") from None


def _op_copy(root: dict[str, Any], op: dict) -> None:
    source = _from(op, "copy")
    found = _find(root, source)
    if found is None:
        raise _PatchFailure(f"copy operation does not apply: doc is missing from path: {source}:"
                            " missing value")
    try:
        value = _get(*found)
    except _PatchFailure as failure:
        raise _PatchFailure(f"error in copy for from: '{source}': {failure}") from None
    path = _path(op, "copy")
    target = _find(root, path)
    if target is None:
        raise _PatchFailure(f"copy operation does not apply: doc is missing destination path: "
                            f"{path}: missing value")
    try:
        _add(target[0], target[1], deep_copy(value))
    except _PatchFailure as failure:
        raise _PatchFailure(f"error while adding value during copy: {failure}") from None


def _op_test(root: dict[str, Any], op: dict) -> None:
    path = _path(op, "test")
    failed = _PatchFailure(f"testing value {path} failed: test failed")
    if path == "":
        if not json_equal(root["doc"], op.get("value")):
            raise failed
        return
    found = _find(root, path)
    if found is None:
        raise _PatchFailure(f"test operation does not apply: is missing path: {path}: "
                            "missing value")
    try:
        value = _get(*found)
    except _PatchFailure as failure:
        raise _PatchFailure(f"error in test for path: '{path}': {failure}") from None
    expected = op.get("value")
    if value is None or expected is None:
        if value is None and expected is None:
            return
        raise failed
    if not json_equal(value, expected):
        raise failed


_HANDLERS = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}
