"""What a schema says about merging: struct, map, list kinds and their keys.

Strategic merge patch reads the patch strategy and merge key; server-side apply reads the list
type and map keys, falling back to the patch strategy as kube's OpenAPI-to-SMD conversion does.
No schema (free-form, `x-kubernetes-preserve-unknown-fields`) means maps merge and lists are
atomic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapisup.apimachinery.schema import Schema, SchemaSet

PATCH_STRATEGY = "x-kubernetes-patch-strategy"
PATCH_MERGE_KEY = "x-kubernetes-patch-merge-key"


@dataclass(frozen=True, slots=True)
class ListShape:
    """How apply treats a list: `atomic`, `set` or `map` (keyed by `keys`)."""

    kind: str
    keys: tuple[str, ...] = ()


ATOMIC_LIST = ListShape("atomic")


def strategies(schema: Schema | None) -> list[str]:
    """The comma-separated patch strategies of a property (`merge`, `retainKeys`, ...)."""
    if not schema:
        return []
    raw = schema.get(PATCH_STRATEGY)
    return [s for s in raw.split(",") if s] if isinstance(raw, str) else []


def merge_key(schema: Schema | None) -> str:
    if not schema:
        return ""
    key = schema.get(PATCH_MERGE_KEY)
    return key if isinstance(key, str) else ""


def list_shape(schema: Schema | None) -> ListShape:
    """The apply semantics of a list schema (`x-kubernetes-list-type` first)."""
    if not schema:
        return ATOMIC_LIST
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        return ListShape("map", tuple(keys)) if keys else ATOMIC_LIST
    if list_type == "set":
        return ListShape("set")
    if list_type == "atomic":
        return ATOMIC_LIST
    if "merge" in strategies(schema):
        key = merge_key(schema)
        return ListShape("map", (key,)) if key else ListShape("set")
    return ATOMIC_LIST


def is_atomic_object(schema: Schema | None) -> bool:
    return bool(schema) and schema.get("x-kubernetes-map-type") == "atomic"


def is_struct(schema: Schema | None) -> bool:
    return bool(schema) and isinstance(schema.get("properties"), dict) and bool(
        schema["properties"])


def child(schemas: SchemaSet, schema: Schema | None, name: str) -> tuple[Schema | None, bool]:
    """The schema of an object member and whether it is a declared (named) field."""
    if schema is None:
        return None, False
    props = schema.get("properties")
    if isinstance(props, dict) and name in props:
        return schemas.resolve(props[name]), True
    return schemas.additional(schema), False


def items(schemas: SchemaSet, schema: Schema | None) -> Schema | None:
    return None if schema is None else schemas.items_of(schema)


def is_leaf(schema: Schema | None, value: Any) -> bool:
    """Whether apply treats this value as one field (scalars, atomic lists and objects)."""
    if isinstance(value, dict):
        return is_atomic_object(schema)
    if isinstance(value, list):
        return list_shape(schema).kind == "atomic"
    return True


def key_defaults(schemas: SchemaSet, item_schema: Schema | None,
                 keys: tuple[str, ...]) -> dict[str, Any]:
    """Schema defaults of list-map keys (a port's protocol defaults to TCP)."""
    defaults: dict[str, Any] = {}
    for key in keys:
        key_schema, _ = child(schemas, item_schema, key)
        if key_schema and "default" in key_schema:
            defaults[key] = key_schema["default"]
    return defaults
