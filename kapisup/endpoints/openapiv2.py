"""OpenAPI v2 at `/openapi/v2`, as the gnostic `openapi.v2.Document` protobuf message.

kubectl up to 1.28 (and Debian's 1.20) downloads this document for `apply -f`/`create -f`
validation, for the strategic-merge patch metadata of client-side apply and for `explain`. It asks
with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and feeds the bytes to
`proto.Unmarshal`: a JSON body there fails with `proto: cannot parse invalid wire-format data`.
So this endpoint never answers JSON. A request that accepts only JSON (or anything else that is
not this protobuf) gets a 406 Status, which client-go treats like a 404 (it then tries the old
`/swagger-2.0.0.pb-v1`, gets a 404, and kubectl 1.29+ never come here as they read v3).

The document is derived from the v3 builder's output (`openapi.build_document` over every served
resource, CRDs included), so both versions describe the same schemas:
- `#/components/schemas/X` references become `#/definitions/X`; a `{"allOf": [ref]}` wrapper
  becomes a `$ref` beside its own description, as kube's v2 spells it.
- Constructs v2 (and kube-openapi's strict v2 parser in kubectl) cannot take are reduced the way
  kube's CRD v2 publishing reduces them: `oneOf`/`anyOf`/`not` dropped (a string branch makes the
  schema a string, so IntOrString and Quantity read as kube's `type: string`), nullable and
  `x-kubernetes-preserve-unknown-fields` nodes lose their `properties`/`items` (kubectl would
  otherwise reject the unknown fields they allow), an array without `items` loses its type.
- Vendor extensions are `NamedAny`s whose `yaml` holds the value as JSON (valid YAML, which
  kubectl parses with yaml.v2 into the `[{group, version, kind}]` list or `{group, version,
  kind}` map it expects).
- Operations carry `x-kubernetes-group-version-kind` and the `fieldValidation` query parameter
  on PATCH, which kubectl's field-validation check looks for, and `consumes` lists the patch types.

The encoded bytes (and their gzip form) are cached per catalog generation with an ETag; a
matching `If-None-Match` gets a 304, so kubectl's HTTP cache revalidates cheaply.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from collections.abc import Callable, Iterable
from typing import Any

from kapisup.apimachinery.schema import SchemaSet, ref_target
from kapisup.endpoints.openapi import build_document
from kapisup.endpoints.status import method_not_allowed, status_line, write_status
from kapisup.registry.resource import ResourceDef

StartResponse = Callable[..., Any]
Obj = dict[str, Any]

# What client-go asks for. `@` is no token character, so Go's mime.ParseMediaType rejects it, and
# client-go turns an unparsable response Content-Type into an InternalError: the answer is
# labelled with the dotted spelling, as kube-apiserver (kube-openapi's handler) labels it.
PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PROTOBUF_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
DEFINITIONS_PREFIX = "#/definitions/"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# Keys of a v3 schema that v2 has no place for, or that kubectl's parser rejects.
_DROPPED_KEYS = frozenset({"oneOf", "anyOf", "not", "nullable", "deprecated", "writeOnly"})


# ---- a minimal protobuf (proto3) writer ------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are ten-byte two's complement varints
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


class Writer:
    """Appends fields of one message; proto3 leaves zero values out unless told to keep them."""

    __slots__ = ("_out",)

    def __init__(self) -> None:
        self._out = bytearray()

    def _tag(self, number: int, wire_type: int) -> None:
        self._out += _varint(number << 3 | wire_type)

    def length_delimited(self, number: int, data: bytes, *, keep_empty: bool = False) -> None:
        if data or keep_empty:
            self._tag(number, 2)
            self._out += _varint(len(data))
            self._out += data

    def string(self, number: int, value: str | None) -> None:
        if value:
            self.length_delimited(number, value.encode())

    def strings(self, number: int, values: Iterable[str]) -> None:
        for value in values:
            # an element of a repeated field is written even when empty
            self.length_delimited(number, value.encode(), keep_empty=True)

    def message(self, number: int, body: Writer | bytes, *, keep_empty: bool = False) -> None:
        data = body.getvalue() if isinstance(body, Writer) else body
        self.length_delimited(number, data, keep_empty=keep_empty)

    def varint(self, number: int, value: int, *, keep_zero: bool = False) -> None:
        if value or keep_zero:
            self._tag(number, 0)
            self._out += _varint(value)

    def boolean(self, number: int, value: bool, *, keep_false: bool = False) -> None:
        self.varint(number, 1 if value else 0, keep_zero=keep_false)

    def double(self, number: int, value: float) -> None:
        if value:
            self._tag(number, 1)
            self._out += struct.pack("<d", float(value))

    def getvalue(self) -> bytes:
        return bytes(self._out)


# ---- v3 schema -> v2 schema (JSON form) ------------------------------------------------------


def v2_schema(schema: Any, known: set[str] | frozenset[str]) -> Obj:
    """One v3 schema as kube's v2 would publish it; `known` are the definitions' names."""
    if not isinstance(schema, dict):
        return {}
    target = ref_target(schema)
    if target is not None:
        out: Obj = {k: v for k, v in schema.items() if k == "description" or k.startswith("x-")}
        if target in known:
            out["$ref"] = DEFINITIONS_PREFIX + target
        return out  # a reference to nothing served is an untyped value, never a dangling ref
    out = {k: v for k, v in schema.items() if k not in _DROPPED_KEYS and k != "allOf"}
    if "type" not in schema:
        branches = [b for b in (schema.get("oneOf") or []) + (schema.get("anyOf") or [])
                    if isinstance(b, dict)]
        if any(b.get("type") == "string" for b in branches):
            out["type"] = "string"
    if schema.get("nullable"):
        for key in ("type", "items", "properties"):
            out.pop(key, None)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("items", None)
        out.pop("properties", None)
    if isinstance(out.get("properties"), dict):
        props = out["properties"]
        out["properties"] = {name: v2_schema(sub, known) for name, sub in props.items()}
        nullable = {name for name, sub in props.items()
                    if isinstance(sub, dict) and sub.get("nullable")}
        if nullable and isinstance(out.get("required"), list):
            out["required"] = [name for name in out["required"] if name not in nullable]
    if isinstance(out.get("items"), dict):
        out["items"] = v2_schema(out["items"], known)
    elif "items" in out:
        out.pop("items")
    if out.get("type") == "array" and "items" not in out:
        del out["type"]
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = v2_schema(out["additionalProperties"], known)
    return out


# ---- the whole document (JSON form) -----------------------------------------------------------


def _v2_parameter(param: Obj) -> Obj:
    schema = param.get("schema") or {}
    out: Obj = {"name": param.get("name", ""), "in": param.get("in", "query")}
    for key in ("description", "required"):
        if param.get(key):
            out[key] = param[key]
    for key in ("type", "format", "uniqueItems"):
        if key in schema:
            out[key] = schema[key]
    return out


def _v2_operation(op: Obj, known: set[str]) -> Obj:
    out: Obj = {k: v for k, v in op.items()
                if k in ("tags", "summary", "description", "operationId") or k.startswith("x-")}
    produces: list[str] = []
    responses: Obj = {}
    for code, response in (op.get("responses") or {}).items():
        entry: Obj = {"description": response.get("description", "")}
        content = response.get("content") or {}
        for media in content:
            if media not in produces:
                produces.append(media)
        body = (content.get("application/json") or next(iter(content.values()), {}))
        if body.get("schema"):
            entry["schema"] = v2_schema(body["schema"], known)
        responses[code] = entry
    parameters = [_v2_parameter(p) for p in op.get("parameters") or []]
    request = op.get("requestBody")
    if request:
        content = request.get("content") or {}
        consumes = list(content)
        schema = next(iter(content.values()), {}).get("schema")
        parameters.append({"name": "body", "in": "body", "required": True,
                           "schema": v2_schema(schema or {}, known)})
        out["consumes"] = consumes
    if produces:
        out["produces"] = produces
    out["schemes"] = ["https"]
    out["parameters"] = parameters
    out["responses"] = responses
    return out


def build_swagger(resources: list[ResourceDef], schemas: SchemaSet) -> Obj:
    """The v2 document of every served resource, in Swagger 2.0's JSON shape."""
    v3 = build_document(resources, schemas)
    components: Obj = v3["components"]["schemas"]
    known = set(components)
    definitions = {name: v2_schema(schema, known) for name, schema in components.items()}
    paths: Obj = {}
    for path, item in sorted(v3["paths"].items()):
        entry: Obj = {}
        for method in HTTP_METHODS:
            if method in item:
                entry[method] = _v2_operation(item[method], known)
        if item.get("parameters"):
            entry["parameters"] = [_v2_parameter(p) for p in item["parameters"]]
        paths[path] = entry
    return {"swagger": "2.0", "info": dict(v3["info"]), "paths": paths,
            "definitions": definitions}


# ---- JSON form -> gnostic protobuf -----------------------------------------------------------


def _any(value: Any) -> bytes:
    """openapi.v2.Any {2 yaml}: JSON is YAML, and yaml.v2 reads it back to the same value."""
    w = Writer()
    w.string(2, json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return w.getvalue()


def _named_any(name: str, value: Any) -> bytes:
    w = Writer()
    w.string(1, name)
    w.message(2, _any(value), keep_empty=True)
    return w.getvalue()


def _extensions(w: Writer, number: int, obj: Obj) -> None:
    for key, value in obj.items():
        if key.startswith("x-"):
            w.message(number, _named_any(key, value), keep_empty=True)


def _as_int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def encode_schema(schema: Obj) -> bytes:
    """openapi.v2.Schema, field numbers from gnostic's OpenAPIv2.proto."""
    w = Writer()
    w.string(1, schema.get("$ref"))
    w.string(2, schema.get("format"))
    w.string(3, schema.get("title"))
    w.string(4, schema.get("description"))
    if "default" in schema:
        w.message(5, _any(schema["default"]), keep_empty=True)
    w.double(6, _as_float(schema.get("multipleOf")))
    w.double(7, _as_float(schema.get("maximum")))
    w.boolean(8, schema.get("exclusiveMaximum") is True)
    w.double(9, _as_float(schema.get("minimum")))
    w.boolean(10, schema.get("exclusiveMinimum") is True)
    for number, key in ((11, "maxLength"), (12, "minLength")):
        w.varint(number, _as_int(schema.get(key)))
    w.string(13, schema.get("pattern"))
    for number, key in ((14, "maxItems"), (15, "minItems")):
        w.varint(number, _as_int(schema.get(key)))
    w.boolean(16, schema.get("uniqueItems") is True)
    for number, key in ((17, "maxProperties"), (18, "minProperties")):
        w.varint(number, _as_int(schema.get(key)))
    required = schema.get("required")
    if isinstance(required, list):
        w.strings(19, [r for r in required if isinstance(r, str)])
    for value in schema.get("enum") or []:
        w.message(20, _any(value), keep_empty=True)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        item = Writer()
        item.message(1, encode_schema(extra), keep_empty=True)
        w.message(21, item, keep_empty=True)
    elif isinstance(extra, bool):
        item = Writer()
        item.boolean(2, extra, keep_false=True)  # a oneof member: false is written too
        w.message(21, item, keep_empty=True)
    kind = schema.get("type")
    if kind:
        types = Writer()
        types.strings(1, kind if isinstance(kind, list) else [kind])
        w.message(22, types, keep_empty=True)
    if isinstance(schema.get("items"), dict):
        items = Writer()
        items.message(1, encode_schema(schema["items"]), keep_empty=True)
        w.message(23, items, keep_empty=True)
    for part in schema.get("allOf") or []:
        w.message(24, encode_schema(part), keep_empty=True)
    props = schema.get("properties")
    if isinstance(props, dict):
        # present even when empty: kubectl reads "has properties" as "is a kind, not a map"
        named = Writer()
        for name, sub in props.items():
            entry = Writer()
            entry.string(1, name)
            entry.message(2, encode_schema(sub), keep_empty=True)
            named.message(1, entry, keep_empty=True)
        w.message(25, named, keep_empty=True)
    w.string(26, schema.get("discriminator"))
    w.boolean(27, schema.get("readOnly") is True)
    if "example" in schema:
        w.message(30, _any(schema["example"]), keep_empty=True)
    _extensions(w, 31, schema)
    return w.getvalue()


# NonBodyParameter oneof member and the field numbers of its type / format / uniqueItems.
_PARAMETER_KINDS: dict[str, tuple[int, int, int, int]] = {
    "header": (1, 5, 6, 19),
    "formData": (2, 6, 7, 20),
    "query": (3, 6, 7, 20),
    "path": (4, 5, 6, 19),
}


def encode_parameter(param: Obj) -> bytes:
    """openapi.v2.ParametersItem {1 Parameter {1 BodyParameter | 2 NonBodyParameter}}."""
    parameter = Writer()
    if param.get("in") == "body":
        body = Writer()
        body.string(1, param.get("description"))
        body.string(2, param.get("name"))
        body.string(3, "body")
        body.boolean(4, bool(param.get("required")))
        body.message(5, encode_schema(param.get("schema") or {}), keep_empty=True)
        _extensions(body, 6, param)
        parameter.message(1, body, keep_empty=True)
    else:
        where = param.get("in", "query")
        member, type_field, format_field, unique_field = _PARAMETER_KINDS.get(
            where, _PARAMETER_KINDS["query"])
        sub = Writer()
        sub.boolean(1, bool(param.get("required")))
        sub.string(2, where)
        sub.string(3, param.get("description"))
        sub.string(4, param.get("name"))
        sub.string(type_field, param.get("type"))
        sub.string(format_field, param.get("format"))
        sub.boolean(unique_field, param.get("uniqueItems") is True)
        non_body = Writer()
        non_body.message(member, sub, keep_empty=True)
        parameter.message(2, non_body, keep_empty=True)
    item = Writer()
    item.message(1, parameter, keep_empty=True)
    return item.getvalue()


def encode_operation(op: Obj) -> bytes:
    """openapi.v2.Operation."""
    w = Writer()
    w.strings(1, op.get("tags") or [])
    w.string(2, op.get("summary"))
    w.string(3, op.get("description"))
    w.string(5, op.get("operationId"))
    w.strings(6, op.get("produces") or [])
    w.strings(7, op.get("consumes") or [])
    for param in op.get("parameters") or []:
        w.message(8, encode_parameter(param), keep_empty=True)
    responses = Writer()
    for code, response in (op.get("responses") or {}).items():
        body = Writer()
        body.string(1, response.get("description"))
        if "schema" in response:
            item = Writer()
            item.message(1, encode_schema(response["schema"]), keep_empty=True)
            body.message(2, item, keep_empty=True)
        value = Writer()
        value.message(1, body, keep_empty=True)
        named = Writer()
        named.string(1, str(code))
        named.message(2, value, keep_empty=True)
        responses.message(1, named, keep_empty=True)
    w.message(9, responses, keep_empty=True)
    w.strings(10, op.get("schemes") or [])
    _extensions(w, 13, op)
    return w.getvalue()


def encode_document(doc: Obj) -> bytes:
    """openapi.v2.Document: 1 swagger, 2 info, 8 paths, 9 definitions."""
    w = Writer()
    w.string(1, doc.get("swagger", "2.0"))
    info = Writer()
    info.string(1, (doc.get("info") or {}).get("title"))
    info.string(2, (doc.get("info") or {}).get("version"))
    w.message(2, info, keep_empty=True)
    paths = Writer()
    for path, item in (doc.get("paths") or {}).items():
        entry = Writer()
        for number, method in enumerate(HTTP_METHODS, start=2):
            if method in item:
                entry.message(number, encode_operation(item[method]), keep_empty=True)
        for param in item.get("parameters") or []:
            entry.message(9, encode_parameter(param), keep_empty=True)
        _extensions(entry, 10, item)
        named = Writer()
        named.string(1, path)
        named.message(2, entry, keep_empty=True)
        paths.message(2, named, keep_empty=True)
    w.message(8, paths, keep_empty=True)
    definitions = Writer()
    for name, schema in (doc.get("definitions") or {}).items():
        named = Writer()
        named.string(1, name)
        named.message(2, encode_schema(schema), keep_empty=True)
        definitions.message(1, named, keep_empty=True)
    w.message(9, definitions, keep_empty=True)
    return w.getvalue()


# ---- serving ----------------------------------------------------------------------------------


def wants_protobuf(accept: str) -> bool:
    """Whether an Accept header admits the gnostic protobuf (no header admits anything)."""
    if not accept.strip():
        return True
    for entry in accept.split(","):
        parts = [p.strip() for p in entry.split(";")]
        media = parts[0].lower()
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in parts[1:]):
            continue
        if media in (PROTOBUF_V2.lower(), PROTOBUF_V2_CONTENT_TYPE.lower(), "*/*", "application/*"):
            return True
    return False


class Encoded:
    """One encoding of the document: protobuf bytes, their gzip form and the ETag."""

    __slots__ = ("body", "etag", "gzipped")

    def __init__(self, body: bytes):
        self.body = body
        self.gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        self.etag = '"' + hashlib.sha512(body).hexdigest()[:64].upper() + '"'


class OpenAPIV2Service:
    """Serves `/openapi/v2`, re-encoded only when the catalog (built-ins plus CRDs) changes."""

    def __init__(self, catalog: Any):
        self.catalog = catalog
        self._encoded: Encoded | None = None
        self._generation = -1

    def encoded(self) -> Encoded:
        generation = self.catalog.generation
        if self._encoded is None or self._generation != generation:
            doc = build_swagger(self.catalog.resources(), self.catalog.schemas)
            self._encoded = Encoded(encode_document(doc))
            self._generation = generation
        return self._encoded

    def handle(self, environ: dict[str, Any], start_response: StartResponse,
               params: Any = None) -> list[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return method_not_allowed(start_response)
        if not wants_protobuf(environ.get("HTTP_ACCEPT", "")):
            return write_status(start_response, 406, "only "
                                f"{PROTOBUF_V2} is served at /openapi/v2; JSON clients read "
                                "/openapi/v3", details={})
        encoded = self.encoded()
        headers = [("Etag", encoded.etag), ("Vary", "Accept, Accept-Encoding"),
                   ("Cache-Control", "no-cache, private")]
        if encoded.etag in _etags(environ.get("HTTP_IF_NONE_MATCH", "")):
            start_response(status_line(304), headers)
            return []
        body = encoded.body
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "").lower():
            body = encoded.gzipped
            headers.append(("Content-Encoding", "gzip"))
        start_response(status_line(200), [("Content-Type", PROTOBUF_V2_CONTENT_TYPE),
                                          ("Content-Length", str(len(body))), *headers])
        return [] if method == "HEAD" else [body]


def _etags(header: str) -> set[str]:
    tags = {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
    return tags
