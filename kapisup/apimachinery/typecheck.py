"""The JSON-type check kube's typed decoder makes for free: a value whose JSON type the schema
does not allow cannot become the Go struct, so the request is a 400 before any validation.

A lean walk (types, int-or-string, one-of alternatives, base64 bytes) run on every write of a
built-in kind; the full OpenAPI validator in `structural` is for custom resources.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any

from kapisup.apimachinery.errors import Cause, field_type_invalid
from kapisup.apimachinery.schema import Schema, SchemaSet

_JSON = {bool: "boolean", str: "string", int: "integer", float: "number", dict: "object",
         list: "array"}


def decode_errors(obj: Any, schema: Schema | None, schemas: SchemaSet,
                  limit: int = 5) -> list[Cause]:
    found: list[Cause] = []
    _walk(obj, schema, schemas, "", found, limit)
    return found


def _allowed(schema: Schema) -> set[str] | None:
    if schema.get("x-kubernetes-int-or-string") is True:
        return {"integer", "string"}
    declared = schema.get("type")
    if declared:
        return set(declared) if isinstance(declared, list) else {declared}
    choices = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(choices, list) and choices and all(isinstance(c, dict) and c.get("type")
                                                     for c in choices):
        return {c["type"] for c in choices}
    return None


def _walk(value: Any, raw: Schema | None, schemas: SchemaSet, path: str, found: list[Cause],
          limit: int) -> None:
    if value is None or len(found) >= limit:
        return  # null decodes to the zero value
    schema = schemas.resolve(raw)
    if schema is None:
        return
    allowed = _allowed(schema)
    actual = _JSON.get(type(value), "object")
    if allowed is not None and actual not in allowed and not (
            actual == "integer" and "number" in allowed) and not (
            actual == "number" and "integer" in allowed and float(value).is_integer()):
        found.append(field_type_invalid(path, actual, f'{path} in body must be of type '
                                                      f'{",".join(sorted(allowed))}: "{actual}"'))
        return
    if actual == "string":
        if schema.get("format") == "byte":
            try:
                b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                found.append(field_type_invalid(path, value, f"{path} in body must be of type "
                                                             "byte: illegal base64 data"))
    elif actual == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key)
            if sub is None and isinstance(extra, dict):
                sub = extra
            if sub is not None:
                _walk(item, sub, schemas, f"{path}.{key}" if path else key, found, limit)
    elif actual == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk(item, items, schemas, f"{path}[{index}]", found, limit)
