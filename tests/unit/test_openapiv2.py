"""`/openapi/v2` as the gnostic protobuf: field-level checks with a decoder written for the test.

The decoder reads the wire format independently of the encoder (field numbers from gnostic's
OpenAPIv2.proto). Beside the field checks, every definition is walked with the rules
kube-openapi's v2 parser applies in kubectl (a `$ref` has no type or properties and names a
definition, an array has exactly one items schema, a primitive type is one of four): one broken
definition makes kubectl reject the whole document.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from kapisup.apimachinery.schema import SchemaSet
from kapisup.endpoints.openapiv2 import (
    PROTOBUF_V2,
    PROTOBUF_V2_CONTENT_TYPE,
    OpenAPIV2Service,
    Writer,
    build_swagger,
    encode_document,
    v2_schema,
    wants_protobuf,
)
from kapisup.registry.apiextensions_v1 import crd_resources, custom_resources
from kapisup.registry.catalog import Catalog
from kapisup.registry.coordination_v1 import coordination_resources
from kapisup.registry.core_v1 import core_resources
from kapisup.registry.store import Store
from kapisup.types import builtin_schemas
from tests.unit.wsgi_util import call

Fields = dict[int, list[Any]]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CONFIGMAP_ITEM = "/api/v1/namespaces/{namespace}/configmaps/{name}"

NO_STORAGE: Any = None  # OpenAPI is built from the catalog alone


# ---- a test-side protobuf reader -------------------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(10):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    raise ValueError("varint longer than ten bytes")


def fields(data: bytes) -> Fields:
    """Field number -> values (ints for varints, floats for 64-bit, bytes for the rest)."""
    out: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        value: Any
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
        elif wire_type == 1:
            value = struct.unpack("<d", data[pos:pos + 8])[0]
            pos += 8
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            value = data[pos:pos + length]
            assert len(value) == length, "truncated length-delimited field"
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire_type} for field {number}")
        out.setdefault(number, []).append(value)
    return out


def one(msg: Fields, number: int, default: Any = None) -> Any:
    values = msg.get(number, [])
    assert len(values) <= 1, f"field {number} repeated"
    return values[0] if values else default


def text(msg: Fields, number: int) -> str:
    return one(msg, number, b"").decode()


def named(msg: Fields, number: int) -> dict[str, bytes]:
    """A repeated Named* message ({1 name, 2 value}) as a dict of undecoded values."""
    out = {}
    for entry in msg.get(number, []):
        pair = fields(entry)
        out[text(pair, 1)] = one(pair, 2, b"")
    return out


def extensions(msg: Fields, number: int) -> dict[str, Any]:
    """NamedAny vendor extensions, each yaml value parsed as kubectl's yaml.v2 would."""
    return {name: yaml.safe_load(text(fields(value), 2))
            for name, value in named(msg, number).items()}


def schema_types(schema: Fields) -> list[str]:
    item = one(schema, 22)
    return [] if item is None else [v.decode() for v in fields(item).get(1, [])]


# ---- fixtures --------------------------------------------------------------------------------


BUILTINS = core_resources() + coordination_resources() + crd_resources()
WIDGETS_CRD = {
    "spec": {
        "group": "unit.example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
            "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                "type": "object", "required": ["size", "note"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "description": "How big."},
                    "note": {"type": "string", "nullable": True},
                    "port": {"x-kubernetes-int-or-string": True,
                             "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                             "properties": {"a": {"type": "string"}}},
                    "tags": {"type": "array", "items": {"type": "string"}},
                }}}}}}],
    },
}


@pytest.fixture(scope="module")
def document() -> Fields:
    schemas = SchemaSet(builtin_schemas())
    return fields(encode_document(build_swagger(BUILTINS, schemas)))


def definitions_of(doc: Fields) -> dict[str, Fields]:
    return {name: fields(value) for name, value in named(fields(one(doc, 9)), 1).items()}


def paths_of(doc: Fields) -> dict[str, Fields]:
    return {name: fields(value) for name, value in named(fields(one(doc, 8)), 2).items()}


def properties_of(schema: Fields) -> dict[str, Fields]:
    return {name: fields(value) for name, value in named(fields(one(schema, 25)), 1).items()}


def walk(schema: Fields, where: str) -> Iterator[tuple[str, Fields]]:
    yield where, schema
    for name, sub in properties_of(schema).items() if 25 in schema else []:
        yield from walk(sub, f"{where}.{name}")
    items = one(schema, 23)
    if items is not None:
        for sub in fields(items).get(1, []):
            yield from walk(fields(sub), f"{where}[]")
    extra = one(schema, 21)
    if extra is not None and 1 in fields(extra):
        yield from walk(fields(one(fields(extra), 1)), f"{where}{{}}")


# ---- the writer ------------------------------------------------------------------------------


def test_writer_encodes_each_wire_type_and_keeps_zeroes_only_when_told() -> None:
    w = Writer()
    w.varint(1, -1)
    w.double(2, 1.5)
    w.string(3, "")
    w.string(4, "héllo")
    w.boolean(5, False)
    w.boolean(6, False, keep_false=True)
    w.strings(7, ["", "x"])
    w.message(8, b"", keep_empty=True)
    got = fields(w.getvalue())
    assert got[1] == [(1 << 64) - 1]  # int64 -1 is a ten-byte varint
    assert got[2] == [1.5]
    assert 3 not in got and 5 not in got
    assert got[4] == ["héllo".encode()]
    assert got[6] == [0]
    assert got[7] == [b"", b"x"]
    assert got[8] == [b""]


# ---- the document ----------------------------------------------------------------------------


def test_document_header_and_configmap_definition(document: Fields) -> None:
    assert text(document, 1) == "2.0"
    assert text(fields(one(document, 2)), 1) == "Kubernetes"
    configmap = definitions_of(document)["io.k8s.api.core.v1.ConfigMap"]
    assert schema_types(configmap) == ["object"]
    assert extensions(configmap, 31)["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "ConfigMap", "version": "v1"}]
    props = properties_of(configmap)
    assert {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"} <= set(props)
    data = props["data"]
    assert schema_types(data) == ["object"] and 25 not in data
    assert schema_types(fields(one(fields(one(data, 21)), 1))) == ["string"]
    assert "configuration" in text(data, 4)
    metadata = props["metadata"]
    assert text(metadata, 1) == f"#/definitions/{META}ObjectMeta"
    assert 22 not in metadata and 25 not in metadata and text(metadata, 4)
    assert schema_types(props["binaryData"]) == ["object"]


def test_every_definition_parses_under_kubectls_v2_rules(document: Fields) -> None:
    definitions = definitions_of(document)
    assert len(definitions) > 50
    for name, definition in definitions.items():
        for where, schema in walk(definition, name):
            ref = text(schema, 1)
            kinds = schema_types(schema)
            if ref:
                assert ref.startswith("#/definitions/"), where
                assert ref.removeprefix("#/definitions/") in definitions, where
                assert not kinds and 25 not in schema, f"{where}: $ref beside type/properties"
                continue
            if kinds == ["array"]:
                items = one(schema, 23)
                assert items is not None and len(fields(items).get(1, [])) == 1, where
            elif len(kinds) == 1 and kinds != ["object"]:
                assert kinds[0] in ("string", "number", "integer", "boolean"), where


def test_special_wire_kinds_read_as_kubes_v2_types(document: Fields) -> None:
    definitions = definitions_of(document)
    int_or_string = definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert schema_types(int_or_string) == ["string"]
    assert text(int_or_string, 2) == "int-or-string"
    assert schema_types(definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]) == [
        "string"]
    raw = definitions["io.k8s.apimachinery.pkg.runtime.RawExtension"]
    assert schema_types(raw) == ["object"] and 25 not in raw  # a map of anything


def test_patch_operation_carries_gvk_field_validation_and_patch_types(document: Fields) -> None:
    item = paths_of(document)[CONFIGMAP_ITEM]
    patch = fields(one(item, 8))
    assert extensions(patch, 13)["x-kubernetes-group-version-kind"] == {
        "group": "", "kind": "ConfigMap", "version": "v1"}
    assert extensions(patch, 13)["x-kubernetes-action"] == "patch"
    consumes = [v.decode() for v in patch.get(7, [])]
    assert "application/strategic-merge-patch+json" in consumes
    assert "application/apply-patch+yaml" in consumes
    query_names, body = [], None
    for raw in patch.get(8, []):
        parameter = fields(one(fields(raw), 1))
        if 1 in parameter:
            body = fields(one(parameter, 1))
        else:
            query = one(fields(one(parameter, 2)), 3)
            assert query is not None
            query_names.append(text(fields(query), 4))
    assert "fieldValidation" in query_names and "dryRun" in query_names
    assert body is not None and text(body, 3) == "body" and one(body, 4) == 1
    # the built-in schemas hold no meta.v1.Patch yet: then the body is untyped, never a
    # reference to a missing definition (which would make kubectl drop the whole document)
    ref = text(fields(one(body, 5)), 1)
    assert ref == f"#/definitions/{META}Patch" if f"{META}Patch" in definitions_of(document) \
        else ref == ""
    shared = [fields(one(fields(one(fields(raw), 1)), 2)) for raw in item.get(9, [])]
    path_params = [text(fields(one(p, 4)), 4) for p in shared]
    assert path_params == ["name", "namespace"]
    responses = named(fields(one(patch, 9)), 1)
    schema = fields(one(fields(one(fields(one(fields(responses["200"]), 1)), 2)), 1))
    assert text(schema, 1) == "#/definitions/io.k8s.api.core.v1.ConfigMap"


def test_custom_resource_schema_is_reduced_as_kube_publishes_crds_in_v2() -> None:
    schemas = SchemaSet(builtin_schemas())
    widgets = custom_resources(WIDGETS_CRD)
    doc = fields(encode_document(build_swagger(BUILTINS + widgets, schemas)))
    widget = definitions_of(doc)["com.example.unit.v1.Widget"]
    assert extensions(widget, 31)["x-kubernetes-group-version-kind"] == [
        {"group": "unit.example.com", "kind": "Widget", "version": "v1"}]
    spec = properties_of(widget)["spec"]
    assert [v.decode() for v in spec.get(19, [])] == ["size"]  # nullable `note` not required
    props = properties_of(spec)
    assert one(props["size"], 9) == 1.0 and text(props["size"], 4) == "How big."
    assert not schema_types(props["note"])
    assert schema_types(props["port"]) == ["string"]
    assert schema_types(props["free"]) == ["object"] and 25 not in props["free"]
    assert schema_types(props["tags"]) == ["array"]
    assert "/apis/unit.example.com/v1/namespaces/{namespace}/widgets/{name}" in \
        paths_of(doc)


def test_v2_schema_drops_what_kubectl_cannot_parse() -> None:
    known = {"Known"}
    wrapper = {"allOf": [{"$ref": "#/components/schemas/Known"}], "description": "d",
               "default": {}, "x-kubernetes-list-type": "atomic"}
    assert v2_schema(wrapper, known) == {"$ref": "#/definitions/Known", "description": "d",
                                         "x-kubernetes-list-type": "atomic"}
    dangling = {"$ref": "#/components/schemas/Gone", "description": "d"}
    assert v2_schema(dangling, known) == {"description": "d"}
    assert v2_schema({"type": "array", "x-kubernetes-preserve-unknown-fields": True,
                      "items": {"type": "string"}}, known) == {
        "x-kubernetes-preserve-unknown-fields": True}
    assert v2_schema({"oneOf": [{"type": "integer"}, {"type": "number"}]}, known) == {}


# ---- serving ---------------------------------------------------------------------------------


@pytest.fixture
def catalog() -> Catalog:
    """The served resources; the document never reads storage, so the stores have none."""
    schemas = SchemaSet(builtin_schemas())
    made = Catalog(schemas)
    for resource in BUILTINS:
        made.add(Store(resource, NO_STORAGE, schemas), notify=False)
    return made


def get(service: OpenAPIV2Service, **headers: str) -> Any:
    return call(service.handle, method="GET", path="/openapi/v2", headers=headers)


def test_serves_protobuf_with_etag_and_revalidates(catalog: Catalog) -> None:
    service = OpenAPIV2Service(catalog)
    response = get(service, Accept=PROTOBUF_V2)
    assert response.code == 200
    assert response.header("Content-Type") == PROTOBUF_V2_CONTENT_TYPE
    assert int(response.header("Content-Length")) == len(response.body)
    assert text(fields(response.body), 1) == "2.0"
    etag = response.header("Etag")
    assert etag and etag.startswith('"')
    again = get(service, Accept=PROTOBUF_V2, **{"If-None-Match": etag})
    assert again.code == 304 and again.body == b""
    zipped = get(service, Accept=PROTOBUF_V2, **{"Accept-Encoding": "gzip"})
    assert zipped.header("Content-Encoding") == "gzip"
    assert gzip.decompress(zipped.body) == response.body


def test_json_only_clients_get_406_never_json(catalog: Catalog) -> None:
    service = OpenAPIV2Service(catalog)
    refused = get(service, Accept="application/json")
    assert refused.code == 406 and refused.json()["reason"] == "NotAcceptable"
    assert get(service, Accept="application/json, */*").code == 200
    assert call(service.handle, method="POST", path="/openapi/v2").code == 405
    assert wants_protobuf("")
    assert not wants_protobuf(f"{PROTOBUF_V2};q=0, application/json")


def test_a_new_crd_changes_the_document_and_its_etag(catalog: Catalog) -> None:
    service = OpenAPIV2Service(catalog)
    before = get(service, Accept=PROTOBUF_V2)
    assert "com.example.unit.v1.Widget" not in definitions_of(fields(before.body))
    for resource in custom_resources(WIDGETS_CRD):
        catalog.add(Store(resource, NO_STORAGE, catalog.schemas))
    after = get(service, Accept=PROTOBUF_V2, **{"If-None-Match": before.header("Etag")})
    assert after.code == 200 and after.header("Etag") != before.header("Etag")
    assert "com.example.unit.v1.Widget" in definitions_of(fields(after.body))
