"""The decode-time JSON type check of built-in kinds (kube's typed decoding)."""

from __future__ import annotations

from kapisup.apimachinery.schema import SchemaSet
from kapisup.apimachinery.typecheck import decode_errors
from kapisup.types import builtin_schemas

SCHEMAS = SchemaSet(builtin_schemas())
POD = SCHEMAS.get("io.k8s.api.core.v1.Pod")
SECRET = SCHEMAS.get("io.k8s.api.core.v1.Secret")


def _fields(obj, schema) -> list[str]:
    return [c.field for c in decode_errors(obj, schema, SCHEMAS)]


def test_a_well_typed_pod_passes_with_quantities_int_or_strings_and_nulls():
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "creationTimestamp": None, "labels": {"a": "b"}},
           "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}],
                                    "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                                    "livenessProbe": {"httpGet": {"port": "http"}}}]}}
    assert _fields(pod, POD) == []


def test_wrong_json_types_are_reported_with_their_paths():
    pod = {"metadata": {"labels": "x"},
           "spec": {"containers": [{"name": 3, "ports": [{"containerPort": "80"}]}]}}
    assert _fields(pod, POD) == ["metadata.labels", "spec.containers[0].name",
                                 "spec.containers[0].ports[0].containerPort"]
    assert _fields({"spec": []}, POD) == ["spec"]


def test_integers_in_float_form_pass_and_fractions_do_not():
    assert _fields({"spec": {"terminationGracePeriodSeconds": 30.0}}, POD) == []
    assert _fields({"spec": {"terminationGracePeriodSeconds": 1.5}}, POD) == [
        "spec.terminationGracePeriodSeconds"]


def test_secret_data_must_be_base64():
    assert _fields({"data": {"k": "dmFsdWU="}}, SECRET) == []
    assert _fields({"data": {"k": "not base64!"}}, SECRET) == ["data.k"]
