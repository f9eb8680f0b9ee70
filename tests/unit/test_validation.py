"""Name rules and object-metadata validation with kube's messages."""

from __future__ import annotations

import re

import pytest

from kapisup.apimachinery.errors import Cause, invalid
from kapisup.apimachinery.validation import (
    NAME_ALPHABET,
    generate_name,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    is_valid_path_segment_name,
    validate_object_meta,
    validate_object_meta_update,
)

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
NAME_PART_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def messages(causes: list[Cause]) -> list[str]:
    return [str(c) for c in causes]


# --- string rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "abc", "a-b", "a.b", "example.com", "1-2", "a" * 253,
                                   "a." * 126 + "a"])
def test_subdomain_accepts(value: str) -> None:
    assert is_dns1123_subdomain(value) == []


@pytest.mark.parametrize("value", ["", "A", "a_b", "-a", "a-", ".a", "a..b", "a b", "é"])
def test_subdomain_rejects_with_kube_message(value: str) -> None:
    assert is_dns1123_subdomain(value) == [SUBDOMAIN_RULE]


def test_subdomain_too_long_has_both_messages_when_also_malformed() -> None:
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_dns1123_subdomain("A" * 254) == ["must be no more than 253 characters",
                                               SUBDOMAIN_RULE]


def test_label() -> None:
    assert is_dns1123_label("kube-system") == []
    assert is_dns1123_label("0abc") == []
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("A") == [LABEL_RULE]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1035_label() -> None:
    assert is_dns1035_label("my-svc") == []
    assert is_dns1035_label("1abc") == [DNS1035_RULE]
    assert is_dns1035_label("a" * 64) == ["must be no more than 63 characters"]


@pytest.mark.parametrize("value", ["app", "App_Name.v1", "example.com/app", "a/b", "x" * 63,
                                   "kubernetes.io/role"])
def test_qualified_name_accepts(value: str) -> None:
    assert is_qualified_name(value) == []


def test_qualified_name_rejects() -> None:
    assert is_qualified_name("-a") == [NAME_PART_RULE]
    assert is_qualified_name("") == ["name part must be non-empty", NAME_PART_RULE]
    assert is_qualified_name("/a") == ["prefix part must be non-empty"]
    assert is_qualified_name("x" * 64) == ["name part must be no more than 63 characters"]
    assert is_qualified_name("Example.com/a") == ["prefix part " + SUBDOMAIN_RULE]
    assert is_qualified_name("a/b/c") == [
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]


def test_label_value() -> None:
    assert is_valid_label_value("") == []
    assert is_valid_label_value("v1.2_beta-3") == []
    assert is_valid_label_value("a b") == [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        "'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
    assert is_valid_label_value("x" * 64) == ["must be no more than 63 characters"]


def test_path_segment_names() -> None:
    assert is_valid_path_segment_name("ok") == []
    assert is_valid_path_segment_name("..") == ["may not be '..'"]
    assert is_valid_path_segment_name("a/b%c") == ["may not contain '/'", "may not contain '%'"]


# --- ObjectMeta on create --------------------------------------------------------------------


def meta(**fields: object) -> dict:
    base: dict = {"name": "web", "namespace": "default"}
    base.update(fields)
    return base


def test_valid_meta_has_no_causes() -> None:
    full = meta(labels={"app": "web", "example.com/tier": ""},
                annotations={"Example.com/Note": "x" * 1000},
                finalizers=["example.com/cleanup"],
                ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                  "uid": "u1", "controller": True}],
                generation=1)
    assert validate_object_meta(full, namespaced=True, name_check=is_dns1123_subdomain) == []


def test_name_required_and_checked() -> None:
    causes = validate_object_meta({"namespace": "default"}, namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert messages(causes) == ["metadata.name: Required value: name or generateName is required"]
    assert causes[0].reason == "FieldValueRequired"
    causes = validate_object_meta(meta(name="Web"), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert messages(causes) == [f'metadata.name: Invalid value: "Web": {SUBDOMAIN_RULE}']
    assert causes[0].reason == "FieldValueInvalid"


def test_name_check_is_the_callers() -> None:
    causes = validate_object_meta(meta(name="a.b"), namespaced=True, name_check=is_dns1035_label)
    assert messages(causes) == [f'metadata.name: Invalid value: "a.b": {DNS1035_RULE}']


def test_generate_name_is_checked_with_its_trailing_dash_masked() -> None:
    ok = meta(name="web-x7k2p", generateName="web-")
    assert validate_object_meta(ok, namespaced=True, name_check=is_dns1123_subdomain) == []
    bad = meta(name="web-x7k2p", generateName="Web-")
    assert messages(validate_object_meta(bad, namespaced=True,
                                         name_check=is_dns1123_subdomain)) == [
        f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN_RULE}']


def test_namespace_rules() -> None:
    causes = validate_object_meta({"name": "x"}, namespaced=True, name_check=is_dns1123_subdomain)
    assert messages(causes) == ["metadata.namespace: Required value"]
    causes = validate_object_meta(meta(namespace="a.b"), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert messages(causes) == ['metadata.namespace: Invalid value: "a.b": must not contain dots']
    causes = validate_object_meta(meta(), namespaced=False, name_check=is_dns1123_subdomain)
    assert messages(causes) == ["metadata.namespace: Forbidden: not allowed on this type"]
    assert causes[0].reason == "FieldValueForbidden"


def test_labels_keys_and_values() -> None:
    causes = validate_object_meta(meta(labels={"-bad": "ok", "good": "bad value"}),
                                  namespaced=True, name_check=is_dns1123_subdomain)
    assert messages(causes) == [
        f'metadata.labels: Invalid value: "-bad": {NAME_PART_RULE}',
        'metadata.labels: Invalid value: "bad value": ' + is_valid_label_value("bad value")[0]]


def test_annotations_keys_case_insensitive_and_total_size() -> None:
    assert validate_object_meta(meta(annotations={"Upper.Case/Key": "v"}), namespaced=True,
                                name_check=is_dns1123_subdomain) == []
    causes = validate_object_meta(meta(annotations={"a b": "v"}), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert messages(causes) == [f'metadata.annotations: Invalid value: "a b": {NAME_PART_RULE}']
    limit = 256 * 1024
    at_limit = {"k": "x" * (limit - 1)}
    assert validate_object_meta(meta(annotations=at_limit), namespaced=True,
                                name_check=is_dns1123_subdomain) == []
    causes = validate_object_meta(meta(annotations={"k": "x" * limit}), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert [c.reason for c in causes] == ["FieldValueTooLong"]
    assert causes[0].field == "metadata.annotations"
    assert "262144" in causes[0].message


def test_finalizers() -> None:
    causes = validate_object_meta(meta(finalizers=["a b"]), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert messages(causes) == [f'metadata.finalizers: Invalid value: "a b": {NAME_PART_RULE}']
    causes = validate_object_meta(meta(finalizers=["orphan", "foregroundDeletion"]),
                                  namespaced=True, name_check=is_dns1123_subdomain)
    assert messages(causes) == [
        'metadata.finalizers: Invalid value: ["orphan","foregroundDeletion"]: finalizer orphan '
        "and foregroundDeletion cannot be both set"]


def test_owner_references() -> None:
    refs = [{"apiVersion": "", "kind": "", "name": "", "uid": ""}]
    causes = validate_object_meta(meta(ownerReferences=refs), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert messages(causes) == [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty']
    two_controllers = [
        {"apiVersion": "v1", "kind": "Pod", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "v1", "kind": "Pod", "name": "b", "uid": "2", "controller": True}]
    causes = validate_object_meta(meta(ownerReferences=two_controllers), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert len(causes) == 1
    assert causes[0].field == "metadata.ownerReferences"
    assert causes[0].message.endswith(
        'Only one reference can have Controller set to true. Found "true" in references for '
        "Pod/a and Pod/b")
    event_owner = [{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}]
    causes = validate_object_meta(meta(ownerReferences=event_owner), namespaced=True,
                                  name_check=is_dns1123_subdomain)
    assert causes[0].message.endswith("/v1, Kind=Event is disallowed from being an owner")


def test_negative_generation_and_bad_managed_fields() -> None:
    causes = validate_object_meta(
        meta(generation=-1, managedFields=[{"manager": "kubectl", "operation": "Patch",
                                            "fieldsType": "FieldsV2"}]),
        namespaced=True, name_check=is_dns1123_subdomain)
    assert messages(causes) == [
        "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
        'metadata.managedFields[0].operation: Invalid value: "Patch": must be `Apply` or '
        "`Update`",
        'metadata.managedFields[0].fieldsType: Invalid value: "FieldsV2": must be `FieldsV1`']


def test_causes_build_kubes_invalid_status() -> None:
    causes = validate_object_meta({"name": "Bad", "namespace": "default"}, namespaced=True,
                                  name_check=is_dns1123_subdomain)
    error = invalid("ConfigMap", "Bad", causes)
    assert error.code == 422
    assert error.message == f'ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": ' \
                            f"{SUBDOMAIN_RULE}"


# --- ObjectMeta on update --------------------------------------------------------------------

STORED = {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
          "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 3}


def updated(**changes: object) -> dict:
    new = dict(STORED)
    new.update(changes)
    return {k: v for k, v in new.items() if v is not None}


def test_unchanged_update_is_valid() -> None:
    assert validate_object_meta_update(updated(labels={"a": "b"}), STORED) == []


def test_identity_and_timestamps_are_immutable() -> None:
    causes = validate_object_meta_update(
        updated(name="other", namespace="ns2", uid="u-2", creationTimestamp=None), STORED)
    assert messages(causes) == [
        'metadata.name: Invalid value: "other": field is immutable',
        'metadata.namespace: Invalid value: "ns2": field is immutable',
        'metadata.uid: Invalid value: "u-2": field is immutable',
        "metadata.creationTimestamp: Invalid value: null: field is immutable"]


def test_resource_version_required_and_generation_monotonic() -> None:
    causes = validate_object_meta_update(updated(resourceVersion=None, generation=2), STORED)
    assert messages(causes) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update',
        "metadata.generation: Invalid value: 2: must not be decremented"]


def test_no_new_finalizers_while_deleting() -> None:
    old = dict(STORED, deletionTimestamp="2026-01-02T00:00:00Z", finalizers=["a.io/x"])
    new = dict(old, finalizers=["a.io/x", "b.io/y", "a.io/z"])
    causes = validate_object_meta_update(new, old)
    assert messages(causes) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"a.io/z", "b.io/y"}']
    # Removing finalizers while deleting is how deletion completes.
    assert validate_object_meta_update(dict(old, finalizers=[]), old) == []


def test_update_revalidates_labels_and_annotations() -> None:
    causes = validate_object_meta_update(updated(labels={"a": "-x"}), STORED)
    assert [c.field for c in causes] == ["metadata.labels"]


# --- generated names -------------------------------------------------------------------------


def test_generate_name_appends_five_characters_from_kubes_alphabet() -> None:
    seen = set()
    for _ in range(50):
        name = generate_name("web-")
        assert re.fullmatch(f"web-[{NAME_ALPHABET}]{{5}}", name)
        seen.add(name)
    assert len(seen) > 1


def test_generate_name_trims_long_prefixes_to_63() -> None:
    prefix = "p" * 80
    name = generate_name(prefix)
    assert len(name) == 63
    assert name.startswith("p" * 58)
    assert is_dns1123_label(name) == []
