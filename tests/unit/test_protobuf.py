"""Protobuf request decoding: real kubectl 1.32 bodies, hand-encoded messages and broken input."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.protobuf import decode
from kapisup.apimachinery.schema import SchemaSet, ref

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protobuf"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
P = "x-kapisup-proto"


# --- a small schema set in the shared format ---------------------------------------------------


def s(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", P: n, **extra}


def i32(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "format": "int32", P: n, **extra}


def i64(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "format": "int64", P: n, **extra}


def b(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "boolean", P: n, **extra}


def r(name: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"allOf": [ref(name)], P: n, **extra}


def smap(n: int, value: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": value or {"type": "string"}, P: n}


def arr(n: int, items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items, P: n}


def obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def kind(**props: Any) -> dict[str, Any]:
    return obj(apiVersion={"type": "string"}, kind={"type": "string"},
               metadata=r(META + "ObjectMeta", 1), **props)


SCHEMAS = SchemaSet({
    META + "Time": {"type": "string", "format": "date-time", "x-kapisup-proto-kind": "time"},
    META + "MicroTime": {"type": "string", "format": "date-time", "x-kapisup-proto-kind": "time"},
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "x-kubernetes-int-or-string": True, "x-kapisup-proto-kind": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"x-kapisup-proto-kind": "quantity"},
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
        "x-kapisup-proto-kind": "raw"},
    META + "ObjectMeta": obj(
        name=s(1), generateName=s(2), namespace=s(3), selfLink=s(4), uid=s(5),
        resourceVersion=s(6), generation=i64(7), creationTimestamp=r(META + "Time", 8),
        deletionTimestamp=r(META + "Time", 9), labels=smap(11), annotations=smap(12),
        finalizers=arr(14, {"type": "string"})),
    META + "LabelSelector": obj(matchLabels=smap(1)),
    "ConfigMap": kind(data=smap(2), binaryData=smap(3, {"type": "string", "format": "byte"}),
                      immutable=b(4)),
    "Namespace": kind(spec=r("NamespaceSpec", 2), status=r("NamespaceStatus", 3)),
    "NamespaceSpec": obj(finalizers=arr(1, {"type": "string"})),
    "NamespaceStatus": obj(phase=s(1)),
    "Secret": kind(data=smap(2, {"type": "string", "format": "byte"}), type=s(3),
                   stringData=smap(4), immutable=b(5)),
    "Deployment": kind(spec=r("DeploymentSpec", 2), status=r("DeploymentStatus", 3)),
    "DeploymentSpec": obj(
        replicas=i32(1, **{"x-kapisup-proto-keep-zero": True}),
        selector=r(META + "LabelSelector", 2), template=r("PodTemplateSpec", 3),
        strategy=r("DeploymentStrategy", 4), minReadySeconds=i32(5),
        revisionHistoryLimit=i32(6), paused=b(7), progressDeadlineSeconds=i32(9)),
    "DeploymentStrategy": obj(type=s(1)),
    "DeploymentStatus": obj(observedGeneration=i64(1), replicas=i32(2), updatedReplicas=i32(3),
                            availableReplicas=i32(4), unavailableReplicas=i32(5),
                            readyReplicas=i32(7)),
    "PodTemplateSpec": obj(metadata=r(META + "ObjectMeta", 1), spec=r("PodSpec", 2)),
    "PodSpec": obj(
        containers=arr(2, ref("Container")), restartPolicy=s(3), dnsPolicy=s(6),
        serviceAccountName=s(8), serviceAccount=s(9), nodeName=s(10), hostNetwork=b(11),
        hostPID=b(12), hostIPC=b(13), hostname=s(16), subdomain=s(17), schedulerName=s(19),
        priorityClassName=s(24)),
    "Container": obj(
        name=s(1), image=s(2), workingDir=s(5), ports=arr(6, ref("ContainerPort")),
        resources=r("ResourceRequirements", 8), terminationMessagePath=s(13),
        imagePullPolicy=s(14), stdin=b(16), stdinOnce=b(17), tty=b(18),
        terminationMessagePolicy=s(20)),
    "ContainerPort": obj(["containerPort"], name=s(1), hostPort=i32(2), containerPort=i32(3),
                         protocol=s(4), hostIP=s(5)),
    "ResourceRequirements": obj(
        limits=smap(1, ref("io.k8s.apimachinery.pkg.api.resource.Quantity")),
        requests=smap(2, ref("io.k8s.apimachinery.pkg.api.resource.Quantity"))),
    "Service": kind(spec=r("ServiceSpec", 2), status=r("ServiceStatus", 3)),
    "ServiceSpec": obj(
        ports=arr(1, ref("ServicePort")), selector=smap(2), clusterIP=s(3), type=s(4),
        externalIPs=arr(5, {"type": "string"}), sessionAffinity=s(7), loadBalancerIP=s(8),
        externalName=s(10), externalTrafficPolicy=s(11), healthCheckNodePort=i32(12),
        publishNotReadyAddresses=b(13)),
    "ServicePort": obj(["port"], name=s(1), protocol=s(2), port=i32(3),
                       targetPort=r("io.k8s.apimachinery.pkg.util.intstr.IntOrString", 4),
                       nodePort=i32(5)),
    "ServiceStatus": obj(loadBalancer=r("LoadBalancerStatus", 1)),
    "LoadBalancerStatus": obj(ingress=arr(1, {"type": "object", "properties": {}})),
    "SelfSubjectAccessReview": kind(spec=r("SSARSpec", 2), status=r("SARStatus", 3)),
    "SSARSpec": obj(resourceAttributes=r("ResourceAttributes", 1)),
    "ResourceAttributes": obj(namespace=s(1), verb=s(2), group=s(3), version=s(4),
                              resource=s(5), subresource=s(6), name=s(7)),
    "SARStatus": obj(["allowed"], allowed=b(1), reason=s(2), evaluationError=s(3),
                     denied=b(4)),
})


def by_kind(api_version: str, kind_name: str) -> str | None:
    return kind_name if kind_name in SCHEMAS else None


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


def dry_run_json(name: str) -> dict[str, Any]:
    """kubectl's own JSON of the object it sent, minus the zero times the decoder leaves out."""
    obj_json = json.loads((FIXTURES / f"{name}.json").read_text())

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(obj_json)


# --- a tiny encoder for hand-made messages -----------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vfield(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def lfield(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def dfield(number: int, value: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", value)


def entry(key: str, value: bytes | str) -> bytes:
    return lfield(1, key) + lfield(2, value)


def envelope(api_version: str, kind_name: str, raw: bytes) -> bytes:
    type_meta = lfield(1, api_version) + lfield(2, kind_name)
    return b"k8s\x00" + lfield(1, type_meta) + lfield(2, raw) + lfield(3, b"") + lfield(4, b"")


def bad(body: bytes, schemas: SchemaSet = SCHEMAS) -> str:
    with pytest.raises(StatusError) as caught:
        decode(body, schemas, lambda v, k: k if k in schemas else None)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


# --- real kubectl bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["namespace", "configmap", "secret", "deployment", "service"])
def test_kubectl_bodies_decode_to_the_json_kubectl_prints(name: str) -> None:
    assert decode(fixture(name), SCHEMAS, by_kind) == dry_run_json(name)


def test_configmap_from_kubectl() -> None:
    got = decode(fixture("configmap"), SCHEMAS, by_kind)
    assert got == {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cm1", "namespace": "demo"},
                   "data": {"a": "b", "c": "d"}}
    assert list(got)[:2] == ["apiVersion", "kind"]


def test_secret_bytes_become_base64() -> None:
    got = decode(fixture("secret"), SCHEMAS, by_kind)
    assert got["data"] == {"k": "dg=="}
    assert "type" not in got  # the empty string on the wire is dropped


def test_pointer_zero_kept_only_where_the_schema_says_so() -> None:
    spec = decode(fixture("deployment"), SCHEMAS, by_kind)["spec"]
    assert spec["replicas"] == 0  # --replicas=0 is a real value (keep-zero)
    assert "minReadySeconds" not in spec and "paused" not in spec
    assert spec["strategy"] == {}  # present empty struct, as Go's JSON prints it
    container = spec["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 8080}]
    assert container["resources"] == {}
    assert "stdin" not in container and "tty" not in container


def test_service_target_port_int_or_string() -> None:
    port = decode(fixture("service"), SCHEMAS, by_kind)["spec"]["ports"][0]
    assert port == {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}


def test_auth_can_i_review() -> None:
    got = decode(fixture("selfsubjectaccessreview"), SCHEMAS, by_kind)
    assert got["apiVersion"] == "authorization.k8s.io/v1"
    assert got["spec"] == {"resourceAttributes": {"namespace": "default", "verb": "create",
                                                  "resource": "pods"}}
    assert got["status"] == {"allowed": False}  # required: false is kept
    assert got["metadata"] == {}


# --- hand-encoded messages ------------------------------------------------------------------


WIDE = SchemaSet({
    **dict(SCHEMAS.items()),
    "Wide": kind(
        small=i32(2), big=i64(3), ratio={"type": "number", "format": "double", P: 4},
        counts=arr(5, {"type": "integer", "format": "int32"}),
        flags=arr(6, {"type": "boolean"}),
        nested=smap(7, ref("Inner")),
        when=r(META + "Time", 8), micro=r(META + "MicroTime", 9),
        port=r("io.k8s.apimachinery.pkg.util.intstr.IntOrString", 10),
        limits=smap(11, ref("io.k8s.apimachinery.pkg.api.resource.Quantity")),
        raw=r("io.k8s.apimachinery.pkg.runtime.RawExtension", 12),
        verbs={"type": "array", "items": {"type": "string"}, P: 13,
               "x-kapisup-proto-kind": "string-list"},
        blob={"type": "string", "format": "byte", P: 14},
        mustCount=i32(15), withDefault=b(16, default=True), name=s(17),
        anything={"type": "object", "x-kubernetes-preserve-unknown-fields": True, P: 18},
        free=s(19)),
    "Inner": obj(labels=smap(1), weight=i32(2)),
    "Flat": {**kind(key=s(2)), "x-kapisup-proto-inline": {"3": "Named"}},
    "Named": obj(name=s(1), optional=b(2)),
})
WIDE.get("Wide")["required"] = ["mustCount"]


def wide(raw: bytes) -> dict[str, Any]:
    return decode(envelope("v1", "Wide", raw), WIDE, lambda v, k: k if k in WIDE else None)


def test_negative_numbers_and_doubles() -> None:
    got = wide(vfield(2, -5) + vfield(3, -(2 ** 40)) + dfield(4, -1.25))
    assert got["small"] == -5 and got["big"] == -(2 ** 40) and got["ratio"] == -1.25


def test_repeated_scalars_packed_and_unpacked() -> None:
    packed = lfield(5, varint(1) + varint(2 ** 32 - 3) + varint(300))
    got = wide(packed + vfield(5, 7) + vfield(6, 1) + lfield(6, varint(0) + varint(1)))
    assert got["counts"] == [1, -3, 300, 7]
    assert got["flags"] == [True, False, True]  # list elements are never dropped


def test_nested_maps_of_messages() -> None:
    inner = lfield(1, entry("x", "")) + vfield(2, 3)
    got = wide(lfield(7, entry("first", inner)) + lfield(7, entry("second", b"")))
    assert got["nested"] == {"first": {"labels": {"x": ""}, "weight": 3}, "second": {}}


def test_time_and_micro_time() -> None:
    when = vfield(1, 1767225600) + vfield(2, 0)
    micro = vfield(1, 1767225600) + vfield(2, 123456789)
    got = wide(lfield(8, when) + lfield(9, micro))
    assert got["when"] == "2026-01-01T00:00:00Z"
    assert got["micro"] == "2026-01-01T00:00:00.123456Z"
    assert "when" not in wide(lfield(8, b""))  # a zero Time is JSON null: left out


@pytest.mark.parametrize(("payload", "expected"), [
    (vfield(1, 0) + vfield(2, 8080), 8080),
    (vfield(1, 1) + lfield(3, "http"), "http"),
    (vfield(1, 0) + vfield(2, -1), -1),
])
def test_int_or_string(payload: bytes, expected: int | str) -> None:
    assert wide(lfield(10, payload))["port"] == expected


def test_quantity_raw_string_list_bytes() -> None:
    got = wide(lfield(11, entry("cpu", lfield(1, "100m")))
               + lfield(11, entry("memory", lfield(1, "1Gi")))
               + lfield(12, lfield(1, b'{"kind":"Pod","spec":{"x":[1,2]}}'))
               + lfield(13, lfield(1, "get") + lfield(1, "list"))
               + lfield(14, b"\x00\xff"))
    assert got["limits"] == {"cpu": "100m", "memory": "1Gi"}
    assert got["raw"] == {"kind": "Pod", "spec": {"x": [1, 2]}}
    assert got["verbs"] == ["get", "list"]
    assert got["blob"] == "AP8="


def test_raw_extension_holding_a_protobuf_object() -> None:
    nested = envelope("v1", "ConfigMap", lfield(1, lfield(1, "inner")) + lfield(2, entry("a", "b")))
    got = wide(lfield(12, lfield(1, nested)))
    assert got["raw"] == {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "inner"}, "data": {"a": "b"}}


def test_zero_values_dropped_unless_required_or_defaulted() -> None:
    got = wide(vfield(2, 0) + vfield(15, 0) + vfield(16, 0) + lfield(17, b"")
               + lfield(1, lfield(1, "x") + lfield(2, b"") + vfield(7, 0)))
    assert "small" not in got and "name" not in got
    assert got["mustCount"] == 0  # required by its parent
    assert got["withDefault"] is False  # absence would mean the default, true
    assert got["metadata"] == {"name": "x"}


def test_last_value_wins_and_a_later_zero_clears() -> None:
    assert wide(vfield(2, 4) + vfield(2, 9))["small"] == 9
    assert "small" not in wide(vfield(2, 4) + vfield(2, 0))


def test_embedded_struct_fields_sit_flat() -> None:
    body = envelope("v1", "Flat", lfield(2, "k") + lfield(3, lfield(1, "ref") + vfield(2, 1)))
    got = decode(body, WIDE, lambda v, k: k)
    assert got == {"apiVersion": "v1", "kind": "Flat", "key": "k", "name": "ref",
                   "optional": True}


# --- broken input: always a 400 -------------------------------------------------------------


def test_missing_envelope() -> None:
    assert "expected prefix" in bad(b'{"kind":"ConfigMap"}')
    assert "expected prefix" in bad(b"")


def test_unknown_kind() -> None:
    assert bad(envelope("v1", "Gizmo", b"")) == \
        'no kind "Gizmo" is registered for version "v1"'


def test_missing_kind() -> None:
    assert "Kind" in bad(b"k8s\x00" + lfield(1, lfield(1, "v1")))


def test_undeclared_field_number_is_named() -> None:
    message = bad(envelope("v1", "ConfigMap", lfield(1, lfield(1, "x") + vfield(99, 1))))
    assert "field number 99" in message
    assert "ConfigMap.metadata" in message


def test_wire_type_mismatch() -> None:
    assert bad(envelope("v1", "ConfigMap", lfield(1, vfield(1, 5)))).endswith(
        "ConfigMap.metadata.name: wire type varint, expected length-delimited")
    assert "length-delimited" in bad(envelope("v1", "ConfigMap", vfield(2, 5)))


def test_arbitrary_json_property_cannot_be_decoded() -> None:
    assert "arbitrary JSON" in bad(envelope("v1", "Wide", lfield(18, b"")), WIDE)


@pytest.mark.parametrize("raw", [
    b"\x0a\x05ab",  # length beyond the end
    b"\x10\xff\xff",  # truncated varint
    b"\x10" + b"\xff" * 11,  # varint too long
    b"\x0b",  # group wire type
    b"\x00\x01",  # field number 0
    b"\x0a\x02\xc3\x28",  # metadata holding bytes that are not a message
])
def test_malformed_bodies(raw: bytes) -> None:
    bad(envelope("v1", "ConfigMap", raw))


def test_invalid_utf8_string() -> None:
    assert "UTF-8" in bad(envelope("v1", "ConfigMap", lfield(1, lfield(1, b"\xff\xfe"))))


def test_invalid_raw_json() -> None:
    assert "JSON" in bad(envelope("v1", "Wide", lfield(12, lfield(1, b"{nope"))), WIDE)


def test_deep_nesting_is_refused() -> None:
    schemas = SchemaSet({"Loop": {**kind(), "properties": {
        "kind": {"type": "string"}, "apiVersion": {"type": "string"},
        "child": {"allOf": [ref("Loop")], P: 2}}}})
    raw = b""
    for _ in range(80):
        raw = lfield(2, raw)
    assert "deeper" in bad(envelope("v1", "Loop", raw), schemas)


def test_mangled_kubectl_bodies_only_ever_give_400() -> None:
    rng = random.Random(7)
    bodies = [fixture(name) for name in ("namespace", "configmap", "deployment", "service")]
    outcomes = {"ok": 0, "400": 0}
    for attempt in range(400):
        body = bytearray(rng.choice(bodies))
        if attempt % 2:
            del body[rng.randrange(4, len(body)):]
        else:
            for _ in range(3):
                body[rng.randrange(4, len(body))] = rng.randrange(256)
        try:
            decode(bytes(body), SCHEMAS, by_kind)
            outcomes["ok"] += 1
        except StatusError as exc:
            assert exc.code == 400
            outcomes["400"] += 1
    assert outcomes["400"] > 100


# --- the served schemas, once kapisup.types provides them -------------------------------------


def test_kubectl_bodies_with_served_schemas() -> None:
    types = pytest.importorskip("kapisup.types")
    schemas = SchemaSet(types.builtin_schemas())
    components = {}
    for name, schema in schemas.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            group_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            components[(group_version, gvk["kind"])] = name

    def component_for(api_version: str, kind_name: str) -> str | None:
        return components.get((api_version, kind_name))

    for name in ("namespace", "configmap", "secret", "service"):
        assert decode(fixture(name), schemas, component_for) == dry_run_json(name)
    review = decode(fixture("selfsubjectaccessreview"), schemas, component_for)
    assert review["spec"]["resourceAttributes"] == {"namespace": "default", "verb": "create",
                                                    "resource": "pods"}
