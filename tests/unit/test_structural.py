"""Unknown fields, pruning, validation messages, defaulting and CRD schema checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kapisup.apimachinery.errors import invalid
from kapisup.apimachinery.schema import SchemaSet, ref
from kapisup.apimachinery.structural import (
    FieldIssue,
    apply_defaults,
    prune,
    strict_decoding_error,
    unknown_field_issues,
    unknown_fields,
    validate,
    validate_schema,
)

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

SCHEMAS = SchemaSet({
    OBJECT_META: {"type": "object", "properties": {
        "name": {"type": "string"}, "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "Port": {"type": "object", "properties": {
        "name": {"type": "string"}, "port": {"type": "integer"},
        "protocol": {"type": "string", "default": "TCP"}}, "required": ["port"]},
})

WIDGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"allOf": [ref(OBJECT_META)]},
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "format": "int32"},
            "size": {"type": "integer", "maximum": 10},
            "color": {"type": "string", "enum": ["red", "blue"]},
            "name": {"type": "string"},
            "ports": {"type": "array", "items": ref("Port"),
                      "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["port", "protocol"]},
            "tags": {"type": "array", "items": {"type": "string"},
                     "x-kubernetes-list-type": "set"},
            "env": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {"value": {"type": "string"}}}},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                      "properties": {"known": {"type": "object", "properties": {}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                         "properties": {"spec": {"type": "object", "properties": {
                             "image": {"type": "string"}}}}},
            "port": {"x-kubernetes-int-or-string": True},
            "anything": {"description": "no structure declared: any JSON"},
            "empty": {"type": "object"},
        }, "required": ["name"]},
    },
}


def messages(causes: list[Any]) -> list[str]:
    return [str(cause) for cause in causes]


# --- unknown fields and pruning --------------------------------------------------------------


def test_unknown_fields_paths_in_document_order() -> None:
    obj = {"apiVersion": "x/v1", "kind": "Widget", "bogus": 1,
           "metadata": {"name": "w", "nope": True},
           "spec": {"name": "a", "foo": 1, "ports": [{"port": 1}, {"port": 2, "bar": 3}],
                    "env": {"A": {"value": "1", "baz": 2}},
                    "extra": {"free": {"deep": 1}, "known": {"inner": 1}},
                    "template": {"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"name": "p", "zap": 1},
                                 "spec": {"image": "i", "zip": 1}, "nah": 1},
                    "port": "http", "anything": {"x": [1, {"y": 2}]},
                    "empty": {"gone": 1}}}
    assert unknown_fields(obj, WIDGET, SCHEMAS) == [
        "bogus", "metadata.nope", "spec.foo", "spec.ports[1].bar", "spec.env.A.baz",
        "spec.extra.known.inner", "spec.template.metadata.zap", "spec.template.spec.zip",
        "spec.template.nah", "spec.empty.gone"]


def test_root_of_a_crd_allows_type_meta_and_object_meta() -> None:
    crd = {"type": "object", "properties": {"spec": {"type": "object", "properties": {}}}}
    obj = {"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a", "bad": 1}, "spec": {}}
    assert unknown_fields(obj, crd, SCHEMAS) == ["metadata.bad"]


def test_prune_removes_in_place_and_reports() -> None:
    obj = {"apiVersion": "x/v1", "kind": "Widget",
           "spec": {"name": "a", "foo": 1, "ports": [{"port": 1, "bar": 3}],
                    "extra": {"free": 1}}}
    assert prune(obj, WIDGET, SCHEMAS) == ["spec.foo", "spec.ports[0].bar"]
    assert obj == {"apiVersion": "x/v1", "kind": "Widget",
                   "spec": {"name": "a", "ports": [{"port": 1}], "extra": {"free": 1}}}
    assert unknown_fields(obj, WIDGET, SCHEMAS) == []


def test_strict_decoding_messages() -> None:
    one = strict_decoding_error(["spec.foo"])
    assert (one.code, one.reason) == (400, "BadRequest")
    assert one.message == 'strict decoding error: unknown field "spec.foo"'
    assert strict_decoding_error(["a", "b"]).message == \
        'strict decoding error: unknown field "a", unknown field "b"'
    assert unknown_field_issues(["x.y"]) == [FieldIssue("x.y", 'unknown field "x.y"')]


# --- validation ------------------------------------------------------------------------------


def check(spec: dict[str, Any]) -> list[str]:
    return messages(validate({"spec": {"name": "n", **spec}}, WIDGET, SCHEMAS))


@pytest.mark.parametrize(("spec", "expected"), [
    ({"replicas": "string"},
     'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: '
     '"string"'),
    ({"size": 12}, "spec.size: Invalid value: 12: spec.size in body should be less than or equal "
                   "to 10"),
    ({"color": "pink"}, 'spec.color: Unsupported value: "pink": supported values: "red", "blue"'),
    ({"name": None}, 'spec.name: Invalid value: "null": spec.name in body must be of type '
                     'string: "null"'),
    ({"port": True}, 'spec.port: Invalid value: "boolean": spec.port in body must be of type '
                     'integer,string: "boolean"'),
    ({"tags": ["a", "b", "a"]}, 'spec.tags[2]: Duplicate value: "a"'),
    ({"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]},
     'spec.ports[1]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}'),
    ({"ports": [{"name": "x"}]}, "spec.ports[0].port: Required value"),
    ({"env": {"A": {"value": 3}}}, 'spec.env.A.value: Invalid value: "integer": '
                                   'spec.env.A.value in body must be of type string: "integer"'),
])
def test_kube_messages(spec: dict[str, Any], expected: str) -> None:
    assert check(spec) == [expected]


def test_required_value_and_cause_shape() -> None:
    causes = validate({"spec": {}}, WIDGET, SCHEMAS)
    assert messages(causes) == ["spec.name: Required value"]
    assert causes[0].as_dict() == {"reason": "FieldValueRequired", "message": "Required value",
                                   "field": "spec.name"}
    error = invalid("Widget", "w", causes, "example.com")
    assert error.message == 'Widget.example.com "w" is invalid: spec.name: Required value'


def test_valid_object_has_no_errors() -> None:
    assert check({"replicas": 3.0, "size": 10, "color": "red", "port": 8080,
                  "ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}],
                  "tags": ["a", "b"], "anything": [1, "x"], "extra": {"q": None}}) == []


def scalar(schema: dict[str, Any], value: Any) -> list[str]:
    root = {"type": "object", "properties": {"v": schema}}
    return messages(validate({"v": value}, root, SCHEMAS))


@pytest.mark.parametrize(("schema", "value", "expected"), [
    ({"type": "string", "pattern": "^[a-z]+$"}, "A1",
     "v: Invalid value: \"A1\": v in body should match '^[a-z]+$'"),
    ({"type": "string", "minLength": 3}, "ab",
     'v: Invalid value: "ab": v in body should be at least 3 chars long'),
    ({"type": "string", "maxLength": 2}, "abc", "v: Too long: may not be more than 2 bytes"),
    ({"type": "integer", "minimum": 1, "exclusiveMinimum": True}, 1,
     "v: Invalid value: 1: v in body should be greater than 1"),
    ({"type": "number", "maximum": 1.5, "exclusiveMaximum": True}, 1.5,
     "v: Invalid value: 1.5: v in body should be less than 1.5"),
    ({"type": "number", "maximum": 1000000}, 2000000.5,
     "v: Invalid value: 2000000.5: v in body should be less than or equal to 1e+06"),
    ({"type": "integer", "multipleOf": 5}, 12,
     "v: Invalid value: 12: v in body should be a multiple of 5"),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [1],
     "v: Invalid value: 1: v in body should have at least 2 items"),
    ({"type": "array", "maxItems": 1, "items": {"type": "integer"}}, [1, 2],
     "v: Too many: 2: must have at most 1 item"),
    ({"type": "array", "uniqueItems": True, "items": {"type": "object"}}, [{"a": 1}, {"a": 1}],
     'v: Invalid value: "": v in body shouldn\'t contain duplicates'),
    ({"type": "object", "minProperties": 2}, {"a": 1},
     "v: Invalid value: 1: v in body should have at least 2 properties"),
    ({"type": "object", "maxProperties": 2}, {"a": 1, "b": 2, "c": 3},
     "v: Too many: 3: must have at most 2 items"),
    ({"type": "string", "format": "date-time"}, "yesterday",
     'v: Invalid value: "yesterday": v in body must be of type date-time: "yesterday"'),
    ({"type": "string", "format": "byte"}, "***",
     'v: Invalid value: "***": v in body must be of type byte: "***"'),
    ({"type": "integer"}, 1.5, 'v: Invalid value: "number": v in body must be of type integer: '
                               '"number"'),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
     {"b": 1}, 'v.b: Invalid value: "": v.b in body is a forbidden property'),
])
def test_keyword_messages(schema: dict[str, Any], value: Any, expected: str) -> None:
    assert scalar(schema, value) == [expected]


@pytest.mark.parametrize(("schema", "value"), [
    ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z"),
    ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00.5+02:00"),
    ({"type": "string", "format": "byte"}, "aGk="),
    ({"type": "string", "format": "made-up"}, "anything"),
    ({"type": "integer", "format": "int64"}, 2 ** 40),
    ({"type": "number"}, 3),
    ({"type": "string", "nullable": True}, None),
    ({"type": "boolean", "enum": [True]}, True),
])
def test_lenient_and_valid(schema: dict[str, Any], value: Any) -> None:
    assert scalar(schema, value) == []


def test_enum_does_not_confuse_true_and_one() -> None:
    assert scalar({"type": "integer", "enum": [1, 2]}, 1) == []
    assert scalar({"enum": [1, 2]}, True) == [
        'v: Unsupported value: true: supported values: "1", "2"']


def test_junctors() -> None:
    any_of = {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]}
    assert scalar(any_of, "x") == [] and scalar(any_of, 7) == []
    assert scalar(any_of, 3) == [
        '<nil>: Invalid value: "": "v" must validate at least one schema (anyOf)',
        "v: Invalid value: 3: v in body should be greater than or equal to 5"]
    one_of = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
    assert scalar(one_of, 2) == [
        '<nil>: Invalid value: "": "v" must validate one and only one schema (oneOf). '
        "Found 2 valid alternatives"]
    all_of = {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]}
    assert scalar(all_of, 2) == []
    assert scalar(all_of, 5) == [
        "v: Invalid value: 5: v in body should be less than or equal to 3",
        '<nil>: Invalid value: "": "v" must validate all the schemas (allOf)']
    assert scalar({"type": "string", "not": {"enum": ["no"]}}, "no") == [
        '<nil>: Invalid value: "": "v" must not validate the schema (not)']


def test_root_path_prefixes_fields_not_messages() -> None:
    causes = validate({"replicas": "x"}, {"type": "object", "properties": {
        "replicas": {"type": "integer"}}}, SCHEMAS, root_path="spec")
    assert messages(causes) == [
        'spec.replicas: Invalid value: "string": replicas in body must be of type integer: '
        '"string"']


def test_embedded_resource_needs_api_version_and_kind() -> None:
    assert check({"template": {"spec": {}}}) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty"]


def test_long_lists_are_linear() -> None:
    tags = [f"t{i}" for i in range(20000)] + ["t5"]
    assert check({"tags": tags}) == ['spec.tags[20000]: Duplicate value: "t5"']


# --- defaults --------------------------------------------------------------------------------


DEFAULTED: dict[str, Any] = {"type": "object", "properties": {
    "spec": {"type": "object", "default": {}, "properties": {
        "mode": {"type": "string", "default": "auto"},
        "limits": {"type": "object", "default": {"cpu": 1}, "properties": {
            "cpu": {"type": "integer"}, "memory": {"type": "string", "default": "1Gi"}}},
        "keep": {"type": "string", "nullable": True, "default": "k"},
        "gone": {"type": "string"},
        "reset": {"type": "integer", "default": 3},
        "ports": {"type": "array", "items": ref("Port")},
        "env": {"type": "object", "additionalProperties": {"type": "string"}}}}}}


def test_defaults_fill_missing_and_nested_defaults() -> None:
    obj: dict[str, Any] = {}
    apply_defaults(obj, DEFAULTED, SCHEMAS)
    assert obj == {"spec": {"mode": "auto", "limits": {"cpu": 1, "memory": "1Gi"},
                            "keep": "k", "reset": 3}}


def test_defaults_null_handling_and_lists() -> None:
    obj = {"spec": {"mode": "manual", "keep": None, "gone": None, "reset": None,
                    "ports": [{"port": 1}, {"port": 2, "protocol": "UDP"}],
                    "env": {"A": None, "B": "b"}}}
    apply_defaults(obj, DEFAULTED, SCHEMAS)
    assert obj["spec"]["mode"] == "manual"
    assert obj["spec"]["keep"] is None  # nullable: null stays
    assert "gone" not in obj["spec"]  # non-nullable null without default: dropped
    assert obj["spec"]["reset"] == 3  # non-nullable null with default: defaulted
    assert obj["spec"]["ports"] == [{"port": 1, "protocol": "TCP"},
                                    {"port": 2, "protocol": "UDP"}]
    assert obj["spec"]["env"] == {"B": "b"}


def test_defaults_are_copies() -> None:
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    apply_defaults(first, DEFAULTED, SCHEMAS)
    apply_defaults(second, DEFAULTED, SCHEMAS)
    first["spec"]["limits"]["cpu"] = 99
    assert second["spec"]["limits"]["cpu"] == 1
    assert DEFAULTED["properties"]["spec"]["properties"]["limits"]["default"] == {"cpu": 1}


# --- CRD schemas -----------------------------------------------------------------------------

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def test_good_crd_schema() -> None:
    good = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": True,
                     "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "items": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"],
                                "properties": {"name": {"type": "string"}}}},
            "size": {"type": "integer", "anyOf": [{"minimum": 1}, {"maximum": -1}]}}}}}
    assert validate_schema(copy.deepcopy(good)) == []


def test_crd_schema_violations() -> None:
    bad = {"properties": {
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        "spec": {"type": "object", "properties": {
            "noType": {"description": "x"},
            "list": {"type": "array"},
            "listOfNothing": {"type": "array", "items": {}},
            "r": {"$ref": "#/definitions/Foo", "type": "object"},
            "both": {"type": "object", "properties": {"a": {"type": "string"}},
                     "additionalProperties": {"type": "string"}},
            "uniq": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
            "keyed": {"type": "array", "x-kubernetes-list-type": "map",
                      "items": {"type": "object"}},
            "nested": {"type": "string", "allOf": [{"type": "string", "default": "x"}]}}}}}
    p = f"{ROOT}.properties"
    assert messages(validate_schema(bad)) == sorted([
        f"{ROOT}.type: Required value: must not be empty at the root",
        f"{p}[metadata]: Forbidden: must not specify anything other than name and "
        "generateName, but metadata is implicitly specified",
        f"{p}[spec].properties[noType].type: Required value: must not be empty for specified "
        "object fields",
        f"{p}[spec].properties[list].items: Required value: must be specified",
        f"{p}[spec].properties[listOfNothing].items.type: Required value: must not be empty "
        "for specified array items",
        f"{p}[spec].properties[r].$ref: Forbidden: $ref is not supported",
        f"{p}[spec].properties[both].additionalProperties: Forbidden: additionalProperties and "
        "properties are mutual exclusive",
        f"{p}[spec].properties[uniq].uniqueItems: Forbidden: uniqueItems cannot be set to true "
        "since the runtime complexity becomes quadratic",
        f"{p}[spec].properties[keyed].x-kubernetes-list-map-keys: Required value: must not be "
        "empty if x-kubernetes-list-type is map",
        f"{p}[spec].properties[nested].allOf[0].type: Forbidden: must be empty to be structural",
        f"{p}[spec].properties[nested].allOf[0].default: Forbidden: must be undefined to be "
        "structural",
    ])


def test_crd_root_must_be_an_object() -> None:
    assert messages(validate_schema({"type": "string"})) == [
        f'{ROOT}.type: Invalid value: "string": must be object at the root']
