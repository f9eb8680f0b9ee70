"""A set of OpenAPI v3 schemas by component name: the one declaration of every served type.

The same schemas drive the OpenAPI documents, strict (unknown-field) decoding, CRD validation,
strategic-merge keys and protobuf decoding. Protobuf field numbers live beside each property as
`x-kapisup-proto`, special wire shapes as `x-kapisup-proto-kind`; both are stripped when served.

A property refers to a component as `{"$ref": "#/components/schemas/<name>"}` or, to carry its
own description and extensions, `{"allOf": [{"$ref": ...}], "description": ..., ...}`.
`resolve` follows either form and lays the referring schema's own keys over the target's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Schema = dict[str, Any]
REF_PREFIX = "#/components/schemas/"
_MEMO_LIMIT = 100_000
PRIVATE_PREFIX = "x-kapisup-"
#: the component every kind's metadata refers to
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def ref(name: str) -> Schema:
    return {"$ref": REF_PREFIX + name}


class SchemaSet:
    """Component schemas by name; CRDs add and remove theirs at run time."""

    def __init__(self, schemas: Mapping[str, Schema] | None = None):
        self._schemas: dict[str, Schema] = dict(schemas or {})
        # id(referring schema) -> (that schema, its resolution): the referrer is kept alive so
        # its id cannot be reused, and resolving it again returns the same merged dict.
        self._resolved: dict[int, tuple[Schema, Schema | None]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._schemas

    def __iter__(self) -> Iterator[str]:
        return iter(self._schemas)

    def get(self, name: str) -> Schema:
        return self._schemas[name]

    def add(self, name: str, schema: Schema) -> None:
        self._schemas[name] = schema
        self._resolved.clear()

    def remove(self, name: str) -> None:
        self._schemas.pop(name, None)
        self._resolved.clear()

    def items(self) -> Iterator[tuple[str, Schema]]:
        return iter(self._schemas.items())

    def resolve(self, schema: Schema | None) -> Schema | None:
        """Follow `$ref` and single-`$ref` `allOf`; the referrer's own keys win.

        Resolutions are remembered: every write walks its object's schema, and merging a
        referrer's keys over its target anew each time was most of that walk's cost.
        """
        if schema is None or ("$ref" not in schema and "allOf" not in schema):
            return schema
        hit = self._resolved.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        result = self._resolve(schema)
        if len(self._resolved) > _MEMO_LIMIT:
            self._resolved.clear()
        self._resolved[id(schema)] = (schema, result)
        return result

    def _resolve(self, schema: Schema | None) -> Schema | None:
        seen = 0
        while schema is not None:
            target = ref_target(schema)
            if target is None:
                return schema
            base = self._schemas.get(target)
            if base is None:
                return None
            own = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
            schema = {**base, **own} if own else base
            seen += 1
            if seen > 32:
                raise ValueError(f"reference loop at {target}")
        return None

    def property(self, schema: Schema | None, name: str) -> Schema | None:
        schema = self.resolve(schema)
        if schema is None:
            return None
        return self.resolve((schema.get("properties") or {}).get(name))

    def items_of(self, schema: Schema | None) -> Schema | None:
        schema = self.resolve(schema)
        return None if schema is None else self.resolve(schema.get("items"))

    def additional(self, schema: Schema | None) -> Schema | None:
        """The value schema of a map (`additionalProperties`), if the schema is one."""
        schema = self.resolve(schema)
        if schema is None:
            return None
        extra = schema.get("additionalProperties")
        return self.resolve(extra) if isinstance(extra, dict) else None


def ref_target(schema: Schema) -> str | None:
    """The component a schema refers to (`$ref` or a single-`$ref` `allOf`), if any."""
    target = schema.get("$ref")
    if target is None:
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            target = all_of[0].get("$ref")
    if not isinstance(target, str):
        return None
    return target[len(REF_PREFIX):] if target.startswith(REF_PREFIX) else target


def public(schema: Any) -> Any:
    """A copy without kapisup's private extensions, for serving."""
    if isinstance(schema, dict):
        return {k: public(v) for k, v in schema.items() if not k.startswith(PRIVATE_PREFIX)}
    if isinstance(schema, list):
        return [public(v) for v in schema]
    return schema
