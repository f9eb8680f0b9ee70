"""Decode kube's protobuf request bodies into the JSON dicts the rest of the server handles.

kubectl 1.32's typed clients (`create namespace|configmap|secret|deployment|service`, `auth can-i`)
POST `application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a `runtime.Unknown`
{1 TypeMeta {1 apiVersion, 2 kind}, 2 raw (the object), 3 contentEncoding, 4 contentType}.
There are no per-type tables here: the served schemas carry each property's field number
(`x-kapisup-proto`), special wire shapes (`x-kapisup-proto-kind`, `format: byte`) and embedded Go
structs whose JSON fields sit flat in the parent (`x-kapisup-proto-inline`).

Zero values. The objects are proto2 and Go writes every non-pointer field, so empty strings,
zeros and empty messages arrive whether or not the client set them. The JSON kube would print for
the same object omits most of them, so:
- an empty string, a zero number, `false`, a zero Time, an empty Quantity/IntOrString 0 and empty
  bytes are dropped, unless the property is `required` by its parent, declares a `default`
  (absence then means something else than zero) or carries `x-kapisup-proto-keep-zero: true`
  (meant for Go pointer fields such as `DeploymentSpec.replicas`, where 0 is a real value);
- an empty nested message is kept as `{}`: Go's JSON always prints a present struct
  (`resources: {}`, `strategy: {}`), and dropping one would lose e.g. an explicit
  `securityContext: {}`;
- list elements and map values are never dropped (`labels: {a: ""}` is meaningful);
- repeated and map fields only exist once they have an element, so they are never empty.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kapisup.apimachinery.errors import StatusError, bad_request
from kapisup.apimachinery.schema import Schema, SchemaSet, ref_target

MAGIC = b"k8s\x00"
PROTO = "x-kapisup-proto"
PROTO_KIND = "x-kapisup-proto-kind"
PROTO_INLINE = "x-kapisup-proto-inline"
KEEP_ZERO = "x-kapisup-proto-keep-zero"
MAX_DEPTH = 64

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {VARINT: "varint", FIXED64: "64-bit", LENGTH: "length-delimited",
               FIXED32: "32-bit"}

# value categories and the wire type each is sent as
_WIRE_OF = {
    "int32": VARINT, "int64": VARINT, "bool": VARINT, "double": FIXED64, "float": FIXED32,
    "string": LENGTH, "bytes": LENGTH, "message": LENGTH, "map": LENGTH, "time": LENGTH,
    "micro-time": LENGTH, "int-or-string": LENGTH, "quantity": LENGTH, "raw": LENGTH,
    "string-list": LENGTH,
}
_PACKABLE = {"int32", "int64", "bool", "double", "float"}


class _Malformed(Exception):
    """A body that does not fit its schema; turned into a 400 at the top."""


def decode(body: bytes, schemas: SchemaSet,
           component_for: Callable[[str, str], str | None]) -> dict[str, Any]:
    """The object in a protobuf request body, as JSON would carry it, apiVersion and kind set.

    Raises a 400 BadRequest StatusError, and nothing else, for anything it cannot decode.
    """
    try:
        return _Decoder(schemas, component_for).envelope(bytes(body), 0)
    except StatusError:
        raise
    except _Malformed as exc:
        raise bad_request(f"unable to decode protobuf body: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            struct.error) as exc:
        raise bad_request(f"unable to decode protobuf body: {exc}") from None


def _fields(buf: bytes, start: int, end: int):
    """(field number, wire type, value) per field; value is an int, or a (start, end) range."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0 is not valid")
        if wire == VARINT:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value
        elif wire == LENGTH:
            size, pos = _varint(buf, pos, end)
            if size > end - pos:
                raise _Malformed(f"field {number} runs past the end of its message")
            yield number, wire, (pos, pos + size)
            pos += size
        elif wire == FIXED64:
            if pos + 8 > end:
                raise _Malformed(f"field {number} runs past the end of its message")
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise _Malformed(f"field {number} runs past the end of its message")
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise _Malformed(f"field {number} has unsupported wire type {wire}")


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _Malformed("varint longer than 10 bytes")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(buf: bytes, span: tuple[int, int], what: str) -> str:
    try:
        return buf[span[0]:span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed(f"{what} is not valid UTF-8") from None


class _Decoder:
    def __init__(self, schemas: SchemaSet, component_for: Callable[[str, str], str | None]):
        self.schemas = schemas
        self.component_for = component_for

    # --- envelope ------------------------------------------------------------------------------

    def envelope(self, body: bytes, depth: int) -> dict[str, Any]:
        if not body.startswith(MAGIC):
            raise bad_request("provided data does not appear to be a protobuf message, "
                              "expected prefix [107 56 115 0]")
        api_version = kind = encoding = ""
        raw: tuple[int, int] | None = None
        for number, wire, value in _fields(body, len(MAGIC), len(body)):
            if wire != LENGTH:
                raise _Malformed(f"runtime.Unknown field {number} has wire type "
                                 f"{_WIRE_NAMES.get(wire, wire)}")
            if number == 1:
                for inner, inner_wire, inner_value in _fields(body, *value):
                    if inner_wire != LENGTH or inner not in (1, 2):
                        continue
                    text = _text(body, inner_value, "TypeMeta")
                    if inner == 1:
                        api_version = text
                    else:
                        kind = text
            elif number == 2:
                raw = value
            elif number == 3:
                encoding = _text(body, value, "contentEncoding")
        if encoding:
            raise bad_request(f'unsupported protobuf contentEncoding "{encoding}"')
        if not kind or not api_version:
            raise bad_request("Object 'Kind' is missing in protobuf envelope"
                              if not kind else "Object 'apiVersion' is missing in protobuf "
                              "envelope")
        name = self.component_for(api_version, kind)
        if name is None or name not in self.schemas:
            raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
        obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
        start, end = raw if raw is not None else (0, 0)
        obj.update(self.message(body, start, end, self.schemas.get(name), name, depth))
        obj["apiVersion"], obj["kind"] = api_version, kind
        return obj

    # --- messages ------------------------------------------------------------------------------

    def message(self, buf: bytes, start: int, end: int, schema: Schema | None, where: str,
                depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise _Malformed(f"messages nested deeper than {MAX_DEPTH} at {where}")
        resolved = self.schemas.resolve(schema)
        if resolved is None:
            raise _Malformed(f"no schema for {where}")
        table, required = self._table(resolved)
        inline = resolved.get(PROTO_INLINE) or {}
        out: dict[str, Any] = {}
        for number, wire, value in _fields(buf, start, end):
            embedded = inline.get(str(number))
            if embedded is not None:
                if wire != LENGTH:
                    raise _Malformed(f"field {number} of {where} must be length-delimited")
                if embedded not in self.schemas:
                    raise _Malformed(f"{where} embeds unknown component {embedded}")
                out.update(self.message(buf, *value, self.schemas.get(embedded), embedded,
                                        depth + 1))
                continue
            entry = table.get(number)
            if entry is None:
                raise _Malformed(f"field number {number} is not declared by {where}")
            name, prop = entry
            self._field(out, name, prop, name in required, buf, wire, value,
                        f"{where}.{name}", depth)
        return out

    def _table(self, schema: Schema) -> tuple[dict[int, tuple[str, Schema]], set[str]]:
        table: dict[int, tuple[str, Schema]] = {}
        for name, prop in (schema.get("properties") or {}).items():
            number = prop.get(PROTO) if isinstance(prop, dict) else None
            if isinstance(number, int) and not isinstance(number, bool):
                table[number] = (name, prop)
        return table, set(schema.get("required") or ())

    def _field(self, out: dict[str, Any], name: str, prop: Schema, required: bool, buf: bytes,
               wire: int, value: Any, where: str, depth: int) -> None:
        resolved = self.schemas.resolve(prop)
        if resolved is None:
            raise _Malformed(f"no schema for {where}")
        category = self._category(prop, resolved, where)
        if category == "array":
            item_raw = resolved.get("items")
            if not isinstance(item_raw, dict):
                raise _Malformed(f"{where} is an array without items")
            item = self.schemas.resolve(item_raw)
            if item is None:
                raise _Malformed(f"no schema for {where} items")
            item_category = self._category(item_raw, item, f"{where}[]")
            if item_category == "array":
                raise _Malformed(f"{where}: lists of lists cannot be decoded")
            items = out.get(name)
            if not isinstance(items, list):
                items = out[name] = []
            if wire == LENGTH and item_category in _PACKABLE:
                items.extend(self._packed(buf, value, item_category, where))
            else:
                items.append(self._value(item_category, item, buf, wire, value, where, depth))
            return
        if category == "map":
            self._map_entry(out, name, resolved, buf, wire, value, where, depth)
            return
        decoded = self._value(category, resolved, buf, wire, value, where, depth)
        keep = required or "default" in resolved or resolved.get(KEEP_ZERO) is True
        if decoded is None or (not keep and category != "message" and _is_zero(decoded)):
            out.pop(name, None)
        else:
            out[name] = decoded

    def _map_entry(self, out: dict[str, Any], name: str, schema: Schema, buf: bytes, wire: int,
                   value: Any, where: str, depth: int) -> None:
        if wire != LENGTH:
            raise _Malformed(f"{where}: map entry must be length-delimited")
        value_raw = schema["additionalProperties"]
        value_schema = self.schemas.resolve(value_raw)
        if value_schema is None:
            raise _Malformed(f"no schema for {where} values")
        category = self._category(value_raw, value_schema, f"{where}{{}}")
        if category in ("array", "map"):
            raise _Malformed(f"{where}: maps of lists or maps cannot be decoded")
        key = ""
        decoded: Any = None
        for number, entry_wire, entry_value in _fields(buf, *value):
            if number == 1:
                if entry_wire != LENGTH:
                    raise _Malformed(f"{where}: map key must be a string")
                key = _text(buf, entry_value, f"{where} key")
            elif number == 2:
                decoded = self._value(category, value_schema, buf, entry_wire, entry_value,
                                      f"{where}[{key}]", depth)
            else:
                raise _Malformed(f"field number {number} is not declared by a map entry "
                                 f"of {where}")
        if decoded is None:
            decoded = _zero_of(category)
        entries = out.get(name)
        if not isinstance(entries, dict):
            entries = out[name] = {}
        entries[key] = decoded

    def _category(self, raw: Schema, schema: Schema, where: str) -> str:
        """How a value of this schema is carried on the wire."""
        kind = schema.get(PROTO_KIND)
        if kind == "time":
            return "micro-time" if (ref_target(raw) or "").endswith(".MicroTime") else "time"
        if kind in ("micro-time", "int-or-string", "quantity", "raw", "string-list"):
            return kind
        if kind == "bytes" or schema.get("format") == "byte":
            return "bytes"
        if schema.get("x-kubernetes-int-or-string") is True:
            return "int-or-string"
        kind_of = schema.get("type")
        if kind_of == "string":
            return "string"
        if kind_of == "boolean":
            return "bool"
        if kind_of == "integer":
            return "int32" if schema.get("format") == "int32" else "int64"
        if kind_of == "number":
            return "float" if schema.get("format") == "float" else "double"
        if kind_of == "array":
            return "array"
        if schema.get("properties") or schema.get(PROTO_INLINE):
            return "message"
        if isinstance(schema.get("additionalProperties"), dict):
            return "map"
        if kind_of == "object" and not schema.get("x-kubernetes-preserve-unknown-fields"):
            return "message"
        raise _Malformed(f"{where} holds arbitrary JSON, which has no protobuf form")

    def _value(self, category: str, schema: Schema, buf: bytes, wire: int, value: Any,
               where: str, depth: int) -> Any:
        expected = _WIRE_OF[category]
        if wire != expected:
            raise _Malformed(f"{where}: wire type {_WIRE_NAMES.get(wire, wire)}, expected "
                             f"{_WIRE_NAMES[expected]}")
        if category == "string":
            return _text(buf, value, where)
        if category == "bytes":
            return base64.b64encode(buf[value[0]:value[1]]).decode("ascii")
        if category == "int64":
            return _signed(value, 64)
        if category == "int32":
            return _signed(value, 32)
        if category == "bool":
            return value != 0
        if category == "double":
            return struct.unpack("<d", value.to_bytes(8, "little"))[0]
        if category == "float":
            return struct.unpack("<f", value.to_bytes(4, "little"))[0]
        if category == "message":
            return self.message(buf, *value, schema, where, depth + 1)
        if category in ("time", "micro-time"):
            return _time(buf, value, category == "micro-time", where)
        if category == "int-or-string":
            return _int_or_string(buf, value, where)
        if category == "quantity":
            return _only_string(buf, value, where)
        if category == "string-list":
            return [_text(buf, span, where) for number, item_wire, span in _fields(buf, *value)
                    if number == 1 and item_wire == LENGTH]
        if category == "raw":
            return self._raw(buf, value, where, depth)
        raise _Malformed(f"{where}: cannot decode {category}")

    def _packed(self, buf: bytes, span: tuple[int, int], category: str, where: str) -> list[Any]:
        pos, end = span
        values: list[Any] = []
        while pos < end:
            if category in ("double", "float"):
                size = 8 if category == "double" else 4
                if pos + size > end:
                    raise _Malformed(f"{where}: packed values run past their field")
                raw = int.from_bytes(buf[pos:pos + size], "little")
                pos += size
                values.append(self._value(category, {}, buf, _WIRE_OF[category], raw, where, 0))
            else:
                raw, pos = _varint(buf, pos, end)
                values.append(self._value(category, {}, buf, VARINT, raw, where, 0))
        return values

    def _raw(self, buf: bytes, span: tuple[int, int], where: str, depth: int) -> Any:
        """RawExtension / FieldsV1: {1 raw bytes}, JSON as sent (or a nested envelope)."""
        data = b""
        for number, wire, value in _fields(buf, *span):
            if number == 1 and wire == LENGTH:
                data = buf[value[0]:value[1]]
        if not data:
            return None
        if data.startswith(MAGIC):
            if depth > MAX_DEPTH:
                raise _Malformed(f"objects nested deeper than {MAX_DEPTH} at {where}")
            return self.envelope(data, depth + 1)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise _Malformed(f"{where} does not hold JSON") from None


def _time(buf: bytes, span: tuple[int, int], micro: bool, where: str) -> str | None:
    seconds = nanos = 0
    for number, wire, value in _fields(buf, *span):
        if wire != VARINT:
            raise _Malformed(f"{where}: Time fields must be varints")
        if number == 1:
            seconds = _signed(value, 64)
        elif number == 2:
            nanos = _signed(value, 32)
    if seconds == 0 and nanos == 0:
        return None
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _Malformed(f"{where}: time out of range") from None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micro:
        text += f".{max(nanos, 0) // 1000:06d}"
    return text + "Z"


def _int_or_string(buf: bytes, span: tuple[int, int], where: str) -> int | str:
    kind = int_value = 0
    str_value = ""
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == VARINT:
            kind = _signed(value, 64)
        elif number == 2 and wire == VARINT:
            int_value = _signed(value, 32)
        elif number == 3 and wire == LENGTH:
            str_value = _text(buf, value, where)
        else:
            raise _Malformed(f"{where}: unexpected field {number} in IntOrString")
    return str_value if kind == 1 else int_value


def _only_string(buf: bytes, span: tuple[int, int], where: str) -> str:
    text = ""
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == LENGTH:
            text = _text(buf, value, where)
        else:
            raise _Malformed(f"{where}: unexpected field {number} in Quantity")
    return text


def _is_zero(value: Any) -> bool:
    if value is False or value == "" or value == []:
        return True
    return type(value) in (int, float) and value == 0


def _zero_of(category: str) -> Any:
    if category in ("int32", "int64", "int-or-string"):
        return 0
    if category in ("double", "float"):
        return 0.0
    if category == "bool":
        return False
    if category == "message":
        return {}
    if category == "string-list":
        return []
    if category == "raw":
        return None
    return ""
