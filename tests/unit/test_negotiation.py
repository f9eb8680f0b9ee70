"""Request bodies and Accept headers: what kubectl and the Python client send must decode, and
anything else must be a 4xx Status, never a crash."""

from __future__ import annotations

import io

import pytest

from kapisup.apimachinery.errors import StatusError
from kapisup.endpoints.negotiation import (
    MAX_BODY_BYTES,
    decode_json,
    decode_object,
    decode_patch,
    decode_yaml,
    negotiate,
    read_body,
)


def _environ(content_type: str | None = None, body: bytes = b"") -> dict:
    env = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    if content_type is not None:
        env["CONTENT_TYPE"] = content_type
    return env


def _code(call, *args) -> int:
    with pytest.raises(StatusError) as caught:
        call(*args)
    return caught.value.code


def test_yaml_keeps_dates_as_strings_and_keys_as_json_keys():
    assert decode_yaml(b"a: 2026-01-01T00:00:00Z\nb: 2020-01-01\n1: x\n") == {
        "a": "2026-01-01T00:00:00Z", "b": "2020-01-01", "1": "x"}


@pytest.mark.parametrize("body", [b"f: !!binary aGk=", b"x: .nan", b"? [a]\n: b", b"a: [",
                                  b"x: -.inf"])
def test_yaml_that_json_cannot_carry_is_a_400(body):
    assert _code(decode_yaml, body) == 400


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": Infinity}', b"{", b"\xff\xfe"])
def test_json_that_is_not_json_is_a_400(body):
    assert _code(decode_json, body) == 400


def test_a_body_without_content_type_is_json():
    assert decode_object(_environ(None, b'{"kind":"ConfigMap"}'), b'{"kind":"ConfigMap"}',
                         lambda b: {}) == {"kind": "ConfigMap"}


def test_unknown_body_types_are_415_and_non_objects_400():
    assert _code(decode_object, _environ("text/xml"), b"<a/>", lambda b: {}) == 415
    assert _code(decode_object, _environ("application/json"), b"[1]", lambda b: {}) == 400
    assert _code(decode_object, _environ("application/json"), b"  ", lambda b: {}) == 400


def test_bodies_over_the_limit_are_413_whether_or_not_their_length_is_declared():
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert _code(read_body, _environ("application/json", big)) == 413
    env = {"wsgi.input": io.BytesIO(big)}
    assert _code(read_body, env) == 413
    assert read_body(_environ("application/json", b"{}")) == b"{}"


def test_patch_types_and_their_shapes():
    assert decode_patch(_environ("application/json-patch+json"), b"[]") == ("json", [])
    assert decode_patch(_environ("application/merge-patch+json"), b"{}") == ("merge", {})
    assert decode_patch(_environ("application/apply-patch+yaml"), b"a: b") == ("apply",
                                                                               {"a": "b"})
    assert _code(decode_patch, _environ("application/json-patch+json"), b"{}") == 400
    assert _code(decode_patch, _environ("application/json"), b"{}") == 415


def test_accept_picks_table_yaml_or_json_and_refuses_only_what_has_no_json_form():
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    assert negotiate(table).table == "v1"
    assert negotiate("application/yaml").yaml
    assert negotiate("application/vnd.kubernetes.protobuf,application/json") == negotiate("")
    assert negotiate("application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,*/*").table \
        == ""
    assert _code(negotiate, "text/html") == 406
