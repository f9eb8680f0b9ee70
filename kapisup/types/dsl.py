"""Small builders so each served type reads like a declaration rather than nested dicts.

Every builder returns a plain OpenAPI v3 schema dict in the shared format (see
`kapisup.apimachinery.schema`): kube's extensions where kube uses them, plus kapisup's private
`x-kapisup-proto` (the protobuf field number of a property) and `x-kapisup-proto-kind` (a special
wire shape). Private extensions are stripped when served.

One kapisup-private extension is introduced here: `x-kapisup-proto-inline` on an object maps a
protobuf field number (as a string, to stay JSON-shaped) to the component whose message that field
holds, when Go embeds that struct so its JSON fields sit flat in the parent (for instance
`ConfigMapKeySelector` embeds `LocalObjectReference` as field 1, yet JSON shows `name` beside
`key`). Properties that arrive that way carry no `x-kapisup-proto` of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kapisup.apimachinery.schema import REF_PREFIX

Schema = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
TIME = META + "Time"
MICRO_TIME = META + "MicroTime"
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
LABEL_SELECTOR = META + "LabelSelector"
CONDITION = META + "Condition"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

PROTO = "x-kapisup-proto"
PROTO_KIND = "x-kapisup-proto-kind"
PROTO_INLINE = "x-kapisup-proto-inline"
GVK = "x-kubernetes-group-version-kind"


def _finish(schema: Schema, description: str, proto: int | None,
            extra: Mapping[str, Any]) -> Schema:
    if description:
        schema["description"] = description
    if proto is not None:
        schema[PROTO] = proto
    for key, value in extra.items():
        if value is not None:
            schema[key] = value
    return schema


def plain_ref(name: str) -> Schema:
    """A bare reference, as kube writes array items and map values."""
    return {"$ref": REF_PREFIX + name}


def ref(name: str, description: str = "", proto: int | None = None, **extra: Any) -> Schema:
    """A property that is another component: the allOf wrapper keeps this property's own keys."""
    return _finish({"allOf": [plain_ref(name)]}, description, proto, extra)


def string(description: str = "", proto: int | None = None, *, enum: Iterable[str] | None = None,
           fmt: str | None = None, default: str | None = None) -> Schema:
    return _finish({"type": "string"}, description, proto,
                   {"format": fmt, "enum": list(enum) if enum else None, "default": default})


def byte_string(description: str = "", proto: int | None = None) -> Schema:
    """Base64 text in JSON, raw bytes on the protobuf wire."""
    return string(description, proto, fmt="byte")


def integer(description: str = "", proto: int | None = None, *, fmt: str = "int32",
            default: int | None = None) -> Schema:
    return _finish({"type": "integer", "format": fmt}, description, proto, {"default": default})


def int64(description: str = "", proto: int | None = None) -> Schema:
    return integer(description, proto, fmt="int64")


def number(description: str = "", proto: int | None = None) -> Schema:
    return _finish({"type": "number", "format": "double"}, description, proto, {})


def boolean(description: str = "", proto: int | None = None) -> Schema:
    return _finish({"type": "boolean"}, description, proto, {})


def map_of(value: Schema, description: str = "", proto: int | None = None, *,
           map_type: str | None = None) -> Schema:
    return _finish({"type": "object", "additionalProperties": value}, description, proto,
                   {"x-kubernetes-map-type": map_type})


def string_map(description: str = "", proto: int | None = None, *,
               map_type: str | None = None) -> Schema:
    return map_of({"type": "string"}, description, proto, map_type=map_type)


def bytes_map(description: str = "", proto: int | None = None) -> Schema:
    return map_of({"type": "string", "format": "byte"}, description, proto)


def quantity_map(description: str = "", proto: int | None = None) -> Schema:
    return map_of(plain_ref(QUANTITY), description, proto)


def array(items: Schema, description: str = "", proto: int | None = None, *,
          list_type: str | None = None, map_keys: Iterable[str] | None = None,
          merge_key: str | None = None, strategy: str | None = None) -> Schema:
    """A list; list type, map keys and patch merge key/strategy exactly as kube declares them."""
    return _finish({"type": "array", "items": items}, description, proto, {
        "x-kubernetes-list-type": list_type,
        "x-kubernetes-list-map-keys": list(map_keys) if map_keys else None,
        "x-kubernetes-patch-merge-key": merge_key,
        "x-kubernetes-patch-strategy": strategy,
    })


def list_of(name: str, description: str = "", proto: int | None = None, **kw: Any) -> Schema:
    """A list of one component."""
    return array(plain_ref(name), description, proto, **kw)


def string_list(description: str = "", proto: int | None = None, *,
                list_type: str | None = "atomic", strategy: str | None = None) -> Schema:
    return array({"type": "string"}, description, proto, list_type=list_type, strategy=strategy)


def wrapped_string_list(description: str = "", proto: int | None = None) -> Schema:
    """A list of strings that protobuf wraps in a message {repeated string items = 1}, as
    kube's Verbs and ExtraValue types are."""
    return {**string_list(description, proto, list_type=None), PROTO_KIND: "string-list"}


def time(description: str = "", proto: int | None = None) -> Schema:
    return ref(TIME, description, proto)


def micro_time(description: str = "", proto: int | None = None) -> Schema:
    return ref(MICRO_TIME, description, proto)


def quantity(description: str = "", proto: int | None = None) -> Schema:
    return ref(QUANTITY, description, proto)


def int_or_string(description: str = "", proto: int | None = None) -> Schema:
    return ref(INT_OR_STRING, description, proto)


def free_object(description: str = "", proto: int | None = None) -> Schema:
    """Any JSON object, kept as sent."""
    return _finish({"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                   description, proto, {})


def embedded(properties: Mapping[str, Schema]) -> dict[str, Schema]:
    """Properties an object gains by embedding another struct: same JSON, no own field numbers
    (the embedded message's numbers apply inside the parent's `inline` field)."""
    return {name: {k: v for k, v in schema.items() if k != PROTO}
            for name, schema in properties.items()}


def obj(description: str, properties: Mapping[str, Schema], *, required: Iterable[str] = (),
        gvk: tuple[str, str, str] | None = None, map_type: str | None = None,
        inline: Mapping[int, str] | None = None, preserve_unknown: bool = False) -> Schema:
    """An object component. `inline` maps protobuf field numbers to embedded components."""
    schema: Schema = {"description": description, "type": "object", "properties": dict(properties)}
    required = list(required)
    if required:
        schema["required"] = required
    if gvk is not None:
        group, version, kind = gvk
        schema[GVK] = [{"group": group, "kind": kind, "version": version}]
    if map_type:
        schema["x-kubernetes-map-type"] = map_type
    if inline:
        schema[PROTO_INLINE] = {str(number): name for number, name in inline.items()}
    if preserve_unknown:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def kind(group: str, version: str, kind_name: str, description: str,
         properties: Mapping[str, Schema], *, required: Iterable[str] = (),
         metadata: str = OBJECT_META) -> Schema:
    """A top-level kind: apiVersion and kind (carried by the protobuf envelope, so no field
    numbers), metadata as field 1, then the kind's own properties."""
    api_version = f"{group}/{version}" if group else version
    props: dict[str, Schema] = {
        "apiVersion": string(f"Versioned schema of this object, here {api_version}."),
        "kind": string(f"Kind of this object, here {kind_name}."),
        "metadata": ref(metadata, "Standard object metadata.", 1),
    }
    props.update(properties)
    return obj(description, props, required=required, gvk=(group, version, kind_name))
