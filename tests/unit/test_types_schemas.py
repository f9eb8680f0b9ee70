"""The declared schemas of the served types: references, protobuf numbers, patch keys, kinds."""

from __future__ import annotations

from typing import Any

import pytest

from kapisup.apimachinery.schema import REF_PREFIX, SchemaSet, public
from kapisup.types import KINDS, builtin_schemas
from kapisup.types.dsl import PROTO, PROTO_INLINE, PROTO_KIND

SCHEMAS = builtin_schemas()
SET = SchemaSet(SCHEMAS)
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
KNOWN_PROTO_KINDS = {"time", "int-or-string", "quantity", "raw", "bytes", "string-list",
                     "schema-or-array", "schema-or-bool", "schema-or-string-array"}


def walk(node: Any, path: str = ""):
    """Every schema inside a schema, structurally: a `properties` map holds property names (in
    JSONSchemaProps some are spelled like extensions), so only its values are schemas."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, value in (node.get("properties") or {}).items():
        yield from walk(value, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        yield from walk(node.get(key), f"{path}/{key}")
    for key in ("allOf", "oneOf", "anyOf"):
        for index, value in enumerate(node.get(key) or []):
            yield from walk(value, f"{path}/{key}[{index}]")


def at(component: str, *names: str) -> dict[str, Any]:
    """The resolved schema at a property path, stepping into list items and map values."""
    schema = SET.resolve({"$ref": REF_PREFIX + component})
    for name in names:
        if name == "[]":
            schema = SET.items_of(schema)
        elif name == "{}":
            schema = SET.additional(schema)
        else:
            schema = SET.property(schema, name)
        assert schema is not None, f"{component}: no {name} in {names}"
    return schema


def own(component: str, name: str) -> dict[str, Any]:
    """The property's own schema, before its reference is followed."""
    return SCHEMAS[component]["properties"][name]


def test_every_reference_resolves():
    for name, schema in SCHEMAS.items():
        for path, node in walk(schema):
            target = node.get("$ref")
            if isinstance(target, str):
                assert target.startswith(REF_PREFIX), f"{name}{path}: {target}"
                assert target[len(REF_PREFIX):] in SCHEMAS, f"{name}{path}: {target}"


def _objects():
    """Every object schema with declared properties, top-level or nested inline."""
    for name, schema in SCHEMAS.items():
        for path, node in walk(schema):
            if isinstance(node.get("properties"), dict) and node.get("type") == "object":
                yield f"{name}{path}", node


def test_every_property_has_a_unique_field_number_or_a_documented_reason():
    checked = 0
    for where, node in _objects():
        inline = {int(k): v for k, v in (node.get(PROTO_INLINE) or {}).items()}
        inlined_names: set[str] = set()
        for component in inline.values():
            inlined = SCHEMAS[component]["properties"]
            missing = set(inlined) - set(node["properties"])
            assert not missing, f"{where}: embedded {component} fields {missing} not declared"
            inlined_names |= set(inlined)
        numbers: dict[int, str] = {}
        for prop, schema in node["properties"].items():
            number = schema.get(PROTO)
            if number is None:
                typemeta = prop in ("apiVersion", "kind") and "x-kubernetes-group-version-kind" \
                    in node
                assert typemeta or prop in inlined_names, f"{where}.{prop}: no field number"
                continue
            assert isinstance(number, int) and number > 0, f"{where}.{prop}: {number!r}"
            assert prop not in inlined_names, f"{where}.{prop}: numbered and embedded"
            assert number not in numbers, f"{where}: {prop} and {numbers[number]} share {number}"
            assert number not in inline, f"{where}.{prop}: {number} is an embedded field"
            numbers[number] = prop
            checked += 1
    assert checked > 800  # guards against the walk silently visiting nothing


@pytest.mark.parametrize(("component", "prop", "number"), [
    (META + "ObjectMeta", "name", 1),
    (META + "ObjectMeta", "generateName", 2),
    (META + "ObjectMeta", "namespace", 3),
    (META + "ObjectMeta", "uid", 5),
    (META + "ObjectMeta", "resourceVersion", 6),
    (META + "ObjectMeta", "creationTimestamp", 8),
    (META + "ObjectMeta", "deletionGracePeriodSeconds", 10),
    (META + "ObjectMeta", "labels", 11),
    (META + "ObjectMeta", "annotations", 12),
    (META + "ObjectMeta", "ownerReferences", 13),
    (META + "ObjectMeta", "finalizers", 14),
    (META + "ObjectMeta", "managedFields", 17),
    (META + "OwnerReference", "apiVersion", 5),
    (META + "OwnerReference", "kind", 1),
    (META + "ManagedFieldsEntry", "fieldsV1", 7),
    (META + "Status", "code", 6),
    (META + "StatusDetails", "uid", 6),
    (META + "DeleteOptions", "propagationPolicy", 4),
    (CORE + "ConfigMap", "data", 2),
    (CORE + "ConfigMap", "binaryData", 3),
    (CORE + "ConfigMap", "immutable", 4),
    (CORE + "Namespace", "spec", 2),
    (CORE + "Secret", "data", 2),
    (CORE + "Secret", "type", 3),
    (CORE + "Secret", "stringData", 4),
    (CORE + "Secret", "immutable", 5),
    (CORE + "Container", "image", 2),
    (CORE + "Container", "envFrom", 19),
    (CORE + "Container", "startupProbe", 22),
    (CORE + "Container", "terminationMessagePolicy", 20),
    (CORE + "PodSpec", "containers", 2),
    (CORE + "PodSpec", "initContainers", 20),
    (CORE + "PodSpec", "ephemeralContainers", 34),
    (CORE + "PodSpec", "automountServiceAccountToken", 21),
    (CORE + "PodSpec", "os", 36),
    (CORE + "PodStatus", "podIPs", 12),
    (CORE + "PodStatus", "hostIPs", 16),
    (CORE + "VolumeSource", "projected", 26),
    (CORE + "VolumeSource", "configMap", 19),
    (CORE + "VolumeMount", "recursiveReadOnly", 7),
    (CORE + "ServicePort", "appProtocol", 6),
    (CORE + "ServicePort", "targetPort", 4),
    (CORE + "ServiceSpec", "clusterIPs", 18),
    (CORE + "EndpointAddress", "targetRef", 2),
    (CORE + "NodeSpec", "podCIDRs", 7),
    (CORE + "Event", "eventTime", 10),
    (CORE + "Event", "reportingInstance", 15),
    ("io.k8s.api.coordination.v1.LeaseSpec", "renewTime", 4),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
     "versions", 7),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
     "x-kubernetes-validations", 44),
])
def test_field_numbers_match_generated_proto(component, prop, number):
    assert own(component, prop)[PROTO] == number


def test_embedded_structs_are_declared_by_field_number():
    assert SCHEMAS[CORE + "ConfigMapKeySelector"][PROTO_INLINE] == {"1": CORE +
                                                                    "LocalObjectReference"}
    assert SCHEMAS[CORE + "Probe"][PROTO_INLINE] == {"1": CORE + "ProbeHandler"}
    assert SCHEMAS[CORE + "Volume"][PROTO_INLINE] == {"2": CORE + "VolumeSource"}
    assert PROTO not in own(CORE + "Probe", "httpGet")
    assert own(CORE + "Probe", "initialDelaySeconds")[PROTO] == 2


@pytest.mark.parametrize(("component", "path", "merge_key", "strategy", "map_keys"), [
    (CORE + "PodSpec", ("containers",), "name", "merge", ["name"]),
    (CORE + "PodSpec", ("volumes",), "name", "merge,retainKeys", ["name"]),
    (CORE + "Container", ("env",), "name", "merge", ["name"]),
    (CORE + "Container", ("ports",), "containerPort", "merge", ["containerPort", "protocol"]),
    (CORE + "Container", ("volumeMounts",), "mountPath", "merge", ["mountPath"]),
    (CORE + "PodStatus", ("conditions",), "type", "merge", ["type"]),
    (CORE + "PodStatus", ("podIPs",), "ip", "merge", ["ip"]),
    (META + "ObjectMeta", ("ownerReferences",), "uid", "merge", ["uid"]),
    (CORE + "ServiceSpec", ("ports",), "port", "merge", ["port", "protocol"]),
    (CORE + "NodeStatus", ("addresses",), "type", "merge", ["type"]),
    (CORE + "ServiceAccount", ("secrets",), "name", "merge", ["name"]),
])
def test_patch_merge_keys_and_list_map_keys(component, path, merge_key, strategy, map_keys):
    schema = at(component, *path)
    assert schema["x-kubernetes-patch-merge-key"] == merge_key
    assert schema["x-kubernetes-patch-strategy"] == strategy
    assert schema["x-kubernetes-list-type"] == "map"
    assert schema["x-kubernetes-list-map-keys"] == map_keys


def test_atomic_and_set_lists_carry_no_merge_key():
    assert at(CORE + "PodSpec", "tolerations")["x-kubernetes-list-type"] == "atomic"
    assert "x-kubernetes-patch-merge-key" not in at(CORE + "PodSpec", "tolerations")
    finalizers = at(META + "ObjectMeta", "finalizers")
    assert finalizers["x-kubernetes-list-type"] == "set"
    assert finalizers["x-kubernetes-patch-strategy"] == "merge"
    host_ips = at(CORE + "PodStatus", "hostIPs")
    assert (host_ips["x-kubernetes-list-type"], host_ips["x-kubernetes-patch-merge-key"]) == \
        ("atomic", "ip")


def test_list_map_keys_name_item_properties():
    for name, schema in SCHEMAS.items():
        for path, node in walk(schema):
            keys = node.get("x-kubernetes-list-map-keys")
            if keys is None:
                continue
            assert node.get("x-kubernetes-list-type") == "map", f"{name}{path}"
            item = SET.resolve(node["items"])
            for key in keys:
                assert key in item["properties"], f"{name}{path}: {key}"
            merge_key = node.get("x-kubernetes-patch-merge-key")
            if merge_key is not None:
                assert merge_key in keys, f"{name}{path}"


def test_every_kind_is_a_top_level_object():
    assert {k[2] for k in KINDS} >= {"Namespace", "ConfigMap", "Secret", "ServiceAccount",
                                     "Event", "Pod", "Service", "Endpoints", "Node", "Lease",
                                     "CustomResourceDefinition"}
    for group, version, kind, component in KINDS:
        schema = SCHEMAS[component]
        assert schema["x-kubernetes-group-version-kind"] == [
            {"group": group, "kind": kind, "version": version}]
        props = schema["properties"]
        assert props["apiVersion"]["type"] == "string"
        assert props["kind"]["type"] == "string"
        assert props["metadata"]["allOf"] == [{"$ref": REF_PREFIX + META + "ObjectMeta"}]
        assert props["metadata"][PROTO] == 1


def test_special_wire_shapes_are_marked():
    assert SCHEMAS[META + "Time"][PROTO_KIND] == "time"
    assert SCHEMAS[META + "MicroTime"][PROTO_KIND] == "time"
    assert SCHEMAS["io.k8s.apimachinery.pkg.api.resource.Quantity"][PROTO_KIND] == "quantity"
    assert SCHEMAS["io.k8s.apimachinery.pkg.util.intstr.IntOrString"][PROTO_KIND] == \
        "int-or-string"
    assert SCHEMAS["io.k8s.apimachinery.pkg.runtime.RawExtension"][PROTO_KIND] == "raw"
    assert at(CORE + "Secret", "data", "{}")["format"] == "byte"
    assert at(CORE + "ConfigMap", "binaryData", "{}")["format"] == "byte"
    assert at("io.k8s.api.coordination.v1.LeaseSpec", "acquireTime")[PROTO_KIND] == "time"
    assert at(CORE + "Event", "eventTime")["format"] == "date-time"
    assert at(CORE + "ServicePort", "targetPort")["format"] == "int-or-string"
    for name, schema in SCHEMAS.items():
        for path, node in walk(schema):
            if PROTO_KIND in node:
                assert node[PROTO_KIND] in KNOWN_PROTO_KINDS, f"{name}{path}"


def test_integer_and_string_properties_declare_kube_formats():
    for where, node in _objects():
        for prop, schema in node["properties"].items():
            if schema.get("type") == "integer":
                assert schema.get("format") in ("int32", "int64"), f"{where}.{prop}"
    assert own(META + "ObjectMeta", "generation")["format"] == "int64"
    assert own(CORE + "ContainerPort", "containerPort")["format"] == "int32"


def test_served_copy_has_no_private_extensions_and_callers_get_their_own_copy():
    served = public(builtin_schemas())
    assert not [p for name, s in served.items() for p, node in walk(s)
                if any(key.startswith("x-kapisup-") for key in node)]
    mine = builtin_schemas()
    mine[CORE + "Pod"]["properties"].clear()
    assert "spec" in builtin_schemas()[CORE + "Pod"]["properties"]


def test_free_form_schemas_keep_unknown_fields():
    crd_schema = at("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
                    "CustomResourceValidation", "openAPIV3Schema")
    assert crd_schema["x-kubernetes-preserve-unknown-fields"] is True
    assert "properties" in crd_schema["properties"]
    assert at(META + "ManagedFieldsEntry", "fieldsV1")["x-kubernetes-preserve-unknown-fields"]


def test_explain_paths_reach_nested_types():
    probe_port = at(CORE + "Pod", "spec", "containers", "[]", "livenessProbe", "httpGet", "port")
    assert probe_port["format"] == "int-or-string"
    selector = at(CORE + "Pod", "spec", "affinity", "podAntiAffinity",
                  "requiredDuringSchedulingIgnoredDuringExecution", "[]", "labelSelector",
                  "matchExpressions", "[]", "operator")
    assert selector["type"] == "string"
    assert at(CORE + "Pod", "spec", "containers", "[]", "resources", "limits", "{}")[
        "oneOf"] == [{"type": "string"}, {"type": "number"}]
