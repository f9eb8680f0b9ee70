"""Kube's name and object-metadata validation, with the messages kube-apiserver prints.

Clients and tests match on these strings (`kubectl` shows them verbatim in 422 errors), so the
wording, regexes and examples are kube's own, from k8s.io/apimachinery's util/validation,
api/validation and apis/meta/v1/validation.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from kapisup.apimachinery.errors import (
    Cause,
    field_forbidden,
    field_invalid,
    field_required,
    field_too_long,
)

# --- strings: util/validation ----------------------------------------------------------------

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
FIELD_MANAGER_MAX_LENGTH = 128
MAX_SUBRESOURCE_NAME_LENGTH = 256

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                      "characters or '-', and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case "
                          "alphanumeric characters, '-' or '.', and must start and end with an "
                          "alphanumeric character")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or "
                      "'-', start with an alphabetic character, and end with an alphanumeric "
                      "character")
_QUALIFIED_NAME_CHAR = "[A-Za-z0-9]"
_QUALIFIED_NAME_EXT_CHAR = "[-A-Za-z0-9_.]"
_QUALIFIED_NAME_FMT = ("(" + _QUALIFIED_NAME_CHAR + _QUALIFIED_NAME_EXT_CHAR + "*)?"
                       + _QUALIFIED_NAME_CHAR)
_QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start "
                       "and end with an alphanumeric character")
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character")

_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT + r"\Z")
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT + r"\Z")
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT + r"\Z")
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FMT + r"\Z")
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT + r"\Z")


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """Kube's RegexError, down to its `'a',  or 'b', ` spacing."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{fmt}')"


def empty_error() -> str:
    return "must be non-empty"


def _length(value: str) -> int:
    """Go's len(): bytes of the UTF-8 form."""
    return len(value.encode("utf-8", "surrogatepass"))


def is_dns1123_label(value: str) -> list[str]:
    """A DNS label (RFC 1123): namespace names and most `name`s with no dots."""
    errors: list[str] = []
    if _length(value) > DNS1123_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL.match(value):
        if _DNS1123_SUBDOMAIN.match(value):
            errors.append("must not contain dots")
        else:
            errors.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT,
                                      "my-name", "123-abc"))
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    """A DNS subdomain (RFC 1123): the name rule of most kube objects."""
    errors: list[str] = []
    if _length(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN.match(value):
        errors.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_dns1035_label(value: str) -> list[str]:
    """A DNS label (RFC 1035), starting with a letter: service names."""
    errors: list[str] = []
    if _length(value) > DNS1035_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL.match(value):
        errors.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errors


def is_qualified_name(value: str) -> list[str]:
    """`[prefix/]name`: label keys, annotation keys, finalizers."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part " + empty_error())
        else:
            errors.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                          "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errors.append("name part " + empty_error())
    elif _length(name) > QUALIFIED_NAME_MAX_LENGTH:
        errors.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _QUALIFIED_NAME.match(name):
        errors.append("name part " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT,
                                                 "MyName", "my.name", "123-abc"))
    return errors


def is_valid_label_value(value: str) -> list[str]:
    """A label value: empty, or a qualified name's name part."""
    errors: list[str] = []
    if _length(value) > LABEL_VALUE_MAX_LENGTH:
        errors.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE.match(value):
        errors.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value",
                                  "12345"))
    return errors


def is_valid_path_segment_name(value: str) -> list[str]:
    """A name that is safe in a URL path segment (kube checks every name it serves)."""
    for bad in (".", ".."):
        if value == bad:
            return [f"may not be '{bad}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


def is_valid_path_segment_prefix(value: str) -> list[str]:
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


# --- object metadata: api/validation ---------------------------------------------------------

NameCheck = Callable[[str], list[str]]
IMMUTABLE = "field is immutable"
FINALIZER_ORPHAN = "orphan"
FINALIZER_DELETE_DEPENDENTS = "foregroundDeletion"
_BANNED_OWNERS = {("", "v1", "Event")}


def _mask_trailing_dash(name: str) -> str:
    """Kube validates a generateName as if a suffix followed: its trailing dash is masked."""
    return name[:-2] + "a" if name.endswith("-") else name


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def validate_labels(labels: Mapping[str, Any] | None, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in (labels or {}).items():
        causes.extend(field_invalid(path, key, m) for m in is_qualified_name(key))
        text = value if isinstance(value, str) else ""
        causes.extend(field_invalid(path, value, m) for m in is_valid_label_value(text))
    return causes


def validate_annotations(annotations: Mapping[str, Any] | None, path: str) -> list[Cause]:
    """Keys as qualified names (case-insensitively); keys plus values at most 256 KiB."""
    causes: list[Cause] = []
    total = 0
    for key, value in (annotations or {}).items():
        causes.extend(field_invalid(path, key, m) for m in is_qualified_name(key.lower()))
        total += _length(key) + _length(_text(value))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(field_too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def _group_version(api_version: str) -> tuple[str, str] | None:
    """Kube's ParseGroupVersion: `v1`, `group/v1`; None when it has more slashes."""
    if not api_version:
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", api_version
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def validate_owner_references(refs: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    first_controller = ""
    for ref in refs:
        ref = _mapping(ref)
        api_version, kind = _text(ref.get("apiVersion")), _text(ref.get("kind"))
        group_version = _group_version(api_version) or ("", "")
        if not group_version[1]:
            causes.append(field_invalid(_child(path, "apiVersion"), api_version,
                                        "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not _text(ref.get(key)):
                causes.append(field_invalid(_child(path, key), _text(ref.get(key)),
                                            "must not be empty"))
        group, version = group_version
        if (group, version, kind) in _BANNED_OWNERS:
            causes.append(field_invalid(
                path, ref, f"{group}/{version}, Kind={kind} is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{_text(ref.get('name'))}"
            if first_controller:
                causes.append(field_invalid(
                    path, refs, "Only one reference can have Controller set to true. Found "
                    f'"true" in references for {first_controller} and {current}'))
            else:
                first_controller = current
    return causes


def validate_finalizers(finalizers: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for finalizer in finalizers:
        text = _text(finalizer)
        causes.extend(field_invalid(path, finalizer, m) for m in is_qualified_name(text))
    if FINALIZER_ORPHAN in finalizers and FINALIZER_DELETE_DEPENDENTS in finalizers:
        causes.append(field_invalid(
            path, finalizers, f"finalizer {FINALIZER_ORPHAN} and {FINALIZER_DELETE_DEPENDENTS} "
            "cannot be both set"))
    return causes


def validate_managed_fields(entries: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for index, entry in enumerate(entries):
        entry = _mapping(entry)
        here = f"{path}[{index}]"
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            causes.append(field_invalid(_child(here, "operation"), operation,
                                        "must be `Apply` or `Update`"))
        fields_type = _text(entry.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            causes.append(field_invalid(_child(here, "fieldsType"), fields_type,
                                        "must be `FieldsV1`"))
        causes.extend(validate_field_manager(_text(entry.get("manager")),
                                             _child(here, "manager")))
        if _length(_text(entry.get("subresource"))) > MAX_SUBRESOURCE_NAME_LENGTH:
            causes.append(field_too_long(_child(here, "subresource"), "",
                                         MAX_SUBRESOURCE_NAME_LENGTH))
    return causes


def validate_field_manager(manager: str, path: str) -> list[Cause]:
    """At most 128 bytes, printable characters only (`?fieldManager=` and managedFields)."""
    causes: list[Cause] = []
    if _length(manager) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(field_too_long(path, manager, FIELD_MANAGER_MAX_LENGTH))
    position = 0
    for char in manager:
        if not char.isprintable():
            causes.append(field_invalid(
                path, manager,
                f"invalid character U+{ord(char):04X} (at position {position})"))
        position += _length(char)
    return causes


def validate_object_meta(meta: Mapping[str, Any], *, namespaced: bool, name_check: NameCheck,
                         path: str = "metadata") -> list[Cause]:
    """Kube's ValidateObjectMeta, after name generation: the causes of a 422, in kube's order."""
    causes: list[Cause] = []
    generate = _text(meta.get("generateName"))
    if generate:
        causes.extend(field_invalid(_child(path, "generateName"), generate, m)
                      for m in name_check(_mask_trailing_dash(generate)))
    name = _text(meta.get("name"))
    if not name:
        causes.append(field_required(_child(path, "name"), "name or generateName is required"))
    else:
        causes.extend(field_invalid(_child(path, "name"), name, m) for m in name_check(name))
    namespace = _text(meta.get("namespace"))
    if namespaced:
        if not namespace:
            causes.append(field_required(_child(path, "namespace")))
        else:
            causes.extend(field_invalid(_child(path, "namespace"), namespace, m)
                          for m in is_dns1123_label(namespace))
    elif namespace:
        causes.append(field_forbidden(_child(path, "namespace"), "not allowed on this type"))
    causes.extend(_common(meta, path))
    return causes


def _common(meta: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    generation = meta.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation < 0:
        causes.append(field_invalid(_child(path, "generation"), generation,
                                    "must be greater than or equal to 0"))
    causes.extend(validate_labels(_mapping(meta.get("labels")), _child(path, "labels")))
    causes.extend(validate_annotations(_mapping(meta.get("annotations")),
                                       _child(path, "annotations")))
    causes.extend(validate_owner_references(_sequence(meta.get("ownerReferences")),
                                            _child(path, "ownerReferences")))
    causes.extend(validate_finalizers(_sequence(meta.get("finalizers")),
                                      _child(path, "finalizers")))
    causes.extend(validate_managed_fields(_sequence(meta.get("managedFields")),
                                          _child(path, "managedFields")))
    return causes


def _go_string_slice(values: list[str]) -> str:
    """How Go's %#v prints a []string."""
    return "[]string{" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "}"


def validate_object_meta_update(new: Mapping[str, Any], old: Mapping[str, Any],
                                path: str = "metadata") -> list[Cause]:
    """Kube's ValidateObjectMetaUpdate: identity and timestamps fixed, generation monotonic.

    As in kube, the caller first carries the stored uid, creationTimestamp, deletion fields and
    (for an unconditional update) resourceVersion over to the new object, so only a client that
    sets them to something else is refused.
    """
    causes: list[Cause] = []
    if old.get("deletionTimestamp"):
        old_finalizers = {_text(f) for f in _sequence(old.get("finalizers"))}
        added = sorted({_text(f) for f in _sequence(new.get("finalizers"))} - old_finalizers)
        if added:
            causes.append(field_forbidden(
                _child(path, "finalizers"),
                "no new finalizers can be added if the object is being deleted, found new "
                f"finalizers {_go_string_slice(added)}"))
    if not _text(new.get("resourceVersion")):
        causes.append(field_invalid(_child(path, "resourceVersion"), "",
                                    "must be specified for an update"))
    new_generation, old_generation = new.get("generation") or 0, old.get("generation") or 0
    if isinstance(new_generation, int) and isinstance(old_generation, int) and \
            new_generation < old_generation:
        causes.append(field_invalid(_child(path, "generation"), new_generation,
                                    "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        if _text(new.get(key)) != _text(old.get(key)):
            causes.append(field_invalid(_child(path, key), _text(new.get(key)), IMMUTABLE))
    for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if new.get(key) != old.get(key):
            causes.append(field_invalid(_child(path, key), new.get(key), IMMUTABLE))
    causes.extend(_common(new, path))
    return causes


# --- generated names -------------------------------------------------------------------------

MAX_NAME_LENGTH = 63
RANDOM_LENGTH = 5
MAX_GENERATED_PREFIX_LENGTH = MAX_NAME_LENGTH - RANDOM_LENGTH
# Kube's random-string alphabet: no vowels (no accidental words) and no look-alikes (0/o, 1/l).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def generate_name(prefix: str) -> str:
    """`generateName` plus five random characters, the prefix cut so the whole stays ≤ 63."""
    return prefix[:MAX_GENERATED_PREFIX_LENGTH] + "".join(
        secrets.choice(NAME_ALPHABET) for _ in range(RANDOM_LENGTH))
