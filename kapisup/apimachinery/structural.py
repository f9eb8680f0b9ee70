"""Objects against OpenAPI v3 schemas: unknown fields, pruning, validation, defaults.

One walk per job, linear in the size of the object. Semantics and messages follow kube: strict
decoding (`strict decoding error: unknown field "spec.foo"`), CRD structural pruning (a
`type: object` node without properties keeps nothing unless `x-kubernetes-preserve-unknown-fields`),
kube-openapi's validator as apiextensions-apiserver turns its results into field errors, CRD
defaulting, and the structural-schema rules a CRD's openAPIV3Schema must meet.

A node without `type`, `properties`, `items` or `additionalProperties` (like kube's `JSON`) takes
any value. Schemas are resolved through the `SchemaSet`, so builtin `$ref`s work everywhere.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kapisup.apimachinery.errors import (
    Cause,
    StatusError,
    bad_request,
    field_duplicate,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
    field_too_long,
    field_type_invalid,
)
from kapisup.apimachinery.schema import OBJECT_META, Schema, SchemaSet

PRESERVE = "x-kubernetes-preserve-unknown-fields"
EMBEDDED = "x-kubernetes-embedded-resource"
INT_OR_STRING = "x-kubernetes-int-or-string"
_TYPE_KEYWORDS = ("properties", "items", "additionalProperties")


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """A problem at one field path that is reported rather than refused (fieldValidation=Warn)."""

    path: str
    message: str


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- unknown fields and pruning --------------------------------------------------------------


def unknown_fields(obj: dict[str, Any], schema: Schema, schemas: SchemaSet) -> list[str]:
    """JSON paths of the fields the schema does not declare, in document order."""
    found: list[str] = []
    _Pruner(schemas, found, remove=False).node(obj, schema, "", root=True)
    return found


def prune(obj: dict[str, Any], schema: Schema, schemas: SchemaSet) -> list[str]:
    """Remove the fields the schema does not declare, in place; return their paths."""
    found: list[str] = []
    _Pruner(schemas, found, remove=True).node(obj, schema, "", root=True)
    return found


def strict_decoding_error(paths: Iterable[str]) -> StatusError:
    """The 400 kube answers fieldValidation=Strict with."""
    return bad_request("strict decoding error: "
                       + ", ".join(f'unknown field "{path}"' for path in paths))


def unknown_field_issues(paths: Iterable[str]) -> list[FieldIssue]:
    """One warning per unknown field, for fieldValidation=Warn."""
    return [FieldIssue(path, f'unknown field "{path}"') for path in paths]


class _Pruner:
    def __init__(self, schemas: SchemaSet, found: list[str], remove: bool):
        self.schemas = schemas
        self.found = found
        self.remove = remove

    def node(self, value: Any, raw: Schema | None, path: str, root: bool = False) -> None:
        schema = self.schemas.resolve(raw) if raw is not None else None
        if schema is None:
            return
        if isinstance(value, dict):
            self.object(value, schema, path, root)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for index, item in enumerate(value):
                    self.node(item, items, f"{path}[{index}]")

    def object(self, value: dict[str, Any], schema: Schema, path: str, root: bool) -> None:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        additional = schema.get("additionalProperties")
        preserve = schema.get(PRESERVE) is True
        resource = root or schema.get(EMBEDDED) is True
        if schema.get(INT_OR_STRING) is True:
            return
        if (not properties and additional is None and not resource
                and schema.get("type") != "object"):
            return  # no structure declared: any value
        for key in list(value):
            child = _child(path, key)
            if resource and key == "metadata":
                self.node(value[key], self._metadata_schema(properties.get(key)), child)
            elif key in properties:
                self.node(value[key], properties[key], child)
            elif isinstance(additional, dict):
                self.node(value[key], additional, child)
            elif additional is True or preserve or (resource and key in ("apiVersion", "kind")):
                continue
            else:
                self.found.append(child)
                if self.remove:
                    del value[key]

    def _metadata_schema(self, declared: Schema | None) -> Schema | None:
        """metadata of a resource is ObjectMeta, whatever a CRD says about it."""
        resolved = self.schemas.resolve(declared) if declared is not None else None
        if resolved is not None and resolved.get("properties"):
            return resolved
        if OBJECT_META in self.schemas:
            return self.schemas.get(OBJECT_META)
        return {"type": "object", PRESERVE: True}


# --- validation ------------------------------------------------------------------------------


def validate(obj: Any, schema: Schema, schemas: SchemaSet, *, root_path: str = "") -> list[Cause]:
    """Field errors of obj against schema, worded as kube's CRD validation words them.

    Messages name paths relative to obj (kube-openapi's view); causes carry root_path + path.
    """
    validator = _Validator(schemas, root_path)
    validator.node(obj, schema, "")
    return validator.causes


_JSON_TYPES = {bool: "boolean", str: "string", int: "integer", float: "number",
               dict: "object", list: "array", type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "object")


def _type_matches(wanted: list[str], value: Any) -> bool:
    actual = _json_type(value)
    if actual in wanted:
        return True
    if actual == "number" and "integer" in wanted and math.isfinite(value):
        return float(value).is_integer()
    return actual == "integer" and "number" in wanted


def _go_float(value: float) -> str:
    """How Go's %v prints a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    if not math.isfinite(value):
        return "+Inf" if value > 0 else ("-Inf" if value < 0 else "NaN")
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(float(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    point = len(digit_tuple) + int(exponent)  # digits before the decimal point
    prefix = "-" if sign else ""
    power = point - 1
    if power < -4 or power >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _number_text(value: float | int) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 2 ** 63):
        return str(int(value))
    return _go_float(value)


def _go_value(value: Any) -> str:
    """Go's %#v of a JSON value inside interface{}, as kube prints map-list duplicate keys."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, (int, float)):
        return _number_text(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}:{_go_value(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_value(v) for v in value) + "}"
    return str(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern(text: str) -> re.Pattern[str] | None:
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = re.compile(text)
        except re.error:
            _PATTERNS[text] = None
    return _PATTERNS[text]


_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}([:-]|$)){6,20}$|^([0-9A-Fa-f]{4}\.){2,9}[0-9A-Fa-f]{4}$")


def _valid_date_time(text: str) -> bool:
    if not _DATE_TIME.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _valid_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _valid_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _valid_ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False
    return check


def _valid_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


# The formats kube's CRD validation checks; every other format is accepted as it is.
_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _valid_date_time, "datetime": _valid_date_time, "date": _valid_date,
    "byte": _valid_byte, "uuid": _valid_uuid, "uuid3": _valid_uuid, "uuid4": _valid_uuid,
    "uuid5": _valid_uuid, "ipv4": _valid_ip(4), "ipv6": _valid_ip(6), "cidr": _valid_cidr,
    "mac": lambda text: bool(_MAC.match(text)),
}


class _Validator:
    def __init__(self, schemas: SchemaSet, root_path: str):
        self.schemas = schemas
        self.root_path = root_path
        self.causes: list[Cause] = []

    def field(self, path: str) -> str:
        if self.root_path and path:
            return self.root_path + ("" if path.startswith("[") else ".") + path
        return self.root_path or path

    def node(self, value: Any, raw: Schema | None, path: str) -> None:
        schema = self.schemas.resolve(raw) if raw is not None else None
        if schema is None:
            return
        if not self.type_ok(value, schema, path):
            return
        if value is None:
            return
        self.junctors(value, schema, path)
        if isinstance(value, str):
            self.string(value, schema, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.number(value, schema, path)
        elif isinstance(value, list):
            self.array(value, schema, path)
        if "enum" in schema and isinstance(schema["enum"], list):
            self.enum(value, schema["enum"], path)
        if isinstance(value, dict):
            self.object(value, schema, path)

    def type_ok(self, value: Any, schema: Schema, path: str) -> bool:
        if schema.get(INT_OR_STRING) is True:
            wanted = ["integer", "string"]
        else:
            declared = schema.get("type")
            if not declared:
                return True
            wanted = declared if isinstance(declared, list) else [declared]
        if value is None:
            if schema.get("nullable") is True or "null" in wanted:
                return True
        elif _type_matches(wanted, value):
            return True
        actual = _json_type(value)
        self.causes.append(field_type_invalid(
            self.field(path), actual,
            f'{path} in body must be of type {",".join(wanted)}: "{actual}"'))
        return False

    def junctors(self, value: Any, schema: Schema, path: str) -> None:
        """allOf / anyOf / oneOf / not, reported as kube-openapi's composite errors."""
        field = self.field("") or "<nil>"
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of and "$ref" not in all_of[0]:
            failed = 0
            for sub in all_of:
                errors = self.trial(value, sub, path)
                failed += bool(errors)
                self.causes.extend(errors)
            if failed:
                more = ". None validated" if failed == len(all_of) else ""
                self.causes.append(field_invalid(
                    field, "", f"{json.dumps(path)} must validate all the schemas (allOf){more}"))
        any_of = schema.get("anyOf")
        if isinstance(any_of, list) and any_of:
            results = [self.trial(value, sub, path) for sub in any_of]
            if all(results):
                self.causes.append(field_invalid(
                    field, "", f"{json.dumps(path)} must validate at least one schema (anyOf)"))
                self.causes.extend(min(results, key=_closeness))
        one_of = schema.get("oneOf")
        if isinstance(one_of, list) and one_of:
            results = [self.trial(value, sub, path) for sub in one_of]
            valid = sum(1 for errors in results if not errors)
            if valid != 1:
                more = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                self.causes.append(field_invalid(
                    field, "", f"{json.dumps(path)} must validate one and only one schema "
                    f"(oneOf). {more}"))
                if valid == 0:
                    self.causes.extend(min(results, key=_closeness))
        not_schema = schema.get("not")
        if isinstance(not_schema, dict) and not self.trial(value, not_schema, path):
            self.causes.append(field_invalid(
                field, "", f"{json.dumps(path)} must not validate the schema (not)"))

    def trial(self, value: Any, schema: Schema, path: str) -> list[Cause]:
        sub = _Validator(self.schemas, self.root_path)
        sub.node(value, schema, path)
        return sub.causes

    def string(self, value: str, schema: Schema, path: str) -> None:
        field = self.field(path)
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(value) > max_length:
            self.causes.append(field_too_long(field, value, max_length))
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(value) < min_length:
            self.causes.append(field_invalid(
                field, value, f"{path} in body should be at least {min_length} chars long"))
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            compiled = _pattern(pattern)
            if compiled is not None and not compiled.search(value):
                self.causes.append(field_invalid(
                    field, value, f"{path} in body should match '{pattern}'"))
        check = _FORMATS.get(schema.get("format") or "")
        if check is not None and not check(value):
            self.causes.append(field_type_invalid(
                field, value, f"{path} in body must be of type {schema['format']}: "
                f"{json.dumps(value)}"))

    def number(self, value: float, schema: Schema, path: str) -> None:
        field = self.field(path)
        maximum = schema.get("maximum")
        if isinstance(maximum, (int, float)) and not isinstance(maximum, bool):
            exclusive = schema.get("exclusiveMaximum") is True
            if value > maximum or (exclusive and value == maximum):
                word = "less than" if exclusive else "less than or equal to"
                self.causes.append(field_invalid(
                    field, value, f"{path} in body should be {word} {self.bound(value, maximum)}"))
        minimum = schema.get("minimum")
        if isinstance(minimum, (int, float)) and not isinstance(minimum, bool):
            exclusive = schema.get("exclusiveMinimum") is True
            if value < minimum or (exclusive and value == minimum):
                word = "greater than" if exclusive else "greater than or equal to"
                self.causes.append(field_invalid(
                    field, value,
                    f"{path} in body should be {word} {self.bound(value, minimum)}"))
        factor = schema.get("multipleOf")
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and factor > 0:
            quotient = value / factor
            if not math.isfinite(quotient) or abs(quotient - round(quotient)) > 1e-9:
                self.causes.append(field_invalid(
                    field, value,
                    f"{path} in body should be a multiple of {self.bound(value, factor)}"))

    @staticmethod
    def bound(value: float, limit: float) -> str:
        if isinstance(value, int) and float(limit).is_integer():
            return str(int(limit))
        return _go_float(float(limit))

    def array(self, value: list[Any], schema: Schema, path: str) -> None:
        field = self.field(path)
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                self.node(item, items, f"{path}[{index}]")
        min_items = schema.get("minItems")
        if isinstance(min_items, int) and len(value) < min_items:
            self.causes.append(field_invalid(
                field, len(value), f"{path} in body should have at least {min_items} items"))
        max_items = schema.get("maxItems")
        if isinstance(max_items, int) and len(value) > max_items:
            self.causes.append(_too_many(field, len(value), max_items))
        if schema.get("uniqueItems") is True and len({_canonical(v) for v in value}) < len(value):
            self.causes.append(field_invalid(
                field, "", f"{path} in body shouldn't contain duplicates"))
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            self.set_items(value, path)
        elif list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            self.map_items(value, keys, self.schemas.resolve(items) if isinstance(items, dict)
                           else None, path)

    def set_items(self, value: list[Any], path: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(value):
            key = _canonical(item)
            if key in seen:
                self.causes.append(field_duplicate(self.field(f"{path}[{index}]"), item))
            seen.add(key)

    def map_items(self, value: list[Any], keys: list[str], item_schema: Schema | None,
                  path: str) -> None:
        properties = (item_schema or {}).get("properties") or {}
        seen: set[str] = set()
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            identity: dict[str, Any] = {}
            for key in keys:
                if key in item:
                    identity[key] = item[key]
                else:
                    prop = self.schemas.resolve(properties.get(key)) if key in properties \
                        else None
                    if prop is not None and "default" in prop:
                        identity[key] = prop["default"]
            text = _canonical(identity)
            if text in seen:
                self.causes.append(Cause("FieldValueDuplicate",
                                         self.field(f"{path}[{index}]"),
                                         f"Duplicate value: {_go_value(identity)}"))
            seen.add(text)

    def enum(self, value: Any, allowed: list[Any], path: str) -> None:
        wanted = _canonical(value)
        if any(_canonical(option) == wanted or (_numbers_equal(option, value))
               for option in allowed):
            return
        shown = [option if isinstance(option, str) else _canonical(option) for option in allowed]
        self.causes.append(field_not_supported(self.field(path), value, shown))

    def object(self, value: dict[str, Any], schema: Schema, path: str) -> None:
        field = self.field(path)
        min_properties = schema.get("minProperties")
        if isinstance(min_properties, int) and len(value) < min_properties:
            self.causes.append(field_invalid(
                field, len(value),
                f"{path} in body should have at least {min_properties} properties"))
            return
        max_properties = schema.get("maxProperties")
        if isinstance(max_properties, int) and len(value) > max_properties:
            self.causes.append(_too_many(field, len(value), max_properties))
            return
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        additional = schema.get("additionalProperties")
        for key, prop in properties.items():
            if key in value:
                self.node(value[key], prop, _child(path, key))
        if isinstance(additional, dict):
            for key, item in value.items():
                if key not in properties:
                    self.node(item, additional, _child(path, key))
        elif additional is False:
            for key in value:
                if key not in properties:
                    self.causes.append(field_invalid(
                        self.field(_child(path, key)), "",
                        f"{path}.{key} in body is a forbidden property"))
        for key in schema.get("required") or ():
            if key not in value:
                self.causes.append(field_required(self.field(_child(path, key))))
        if schema.get(EMBEDDED) is True:
            for key in ("apiVersion", "kind"):
                if not value.get(key):
                    self.causes.append(field_required(self.field(_child(path, key)),
                                                      "must not be empty"))


def _closeness(errors: list[Cause]) -> tuple[bool, int]:
    """Which failed branch to explain, like kube-openapi's best MatchCount: types matched first."""
    return any(cause.reason == "FieldValueTypeInvalid" for cause in errors), len(errors)


def _numbers_equal(a: Any, b: Any) -> bool:
    numeric = (int, float)
    return (isinstance(a, numeric) and isinstance(b, numeric) and not isinstance(a, bool)
            and not isinstance(b, bool) and a == b)


def _too_many(field: str, actual: int, limit: int) -> Cause:
    noun = "item" if limit == 1 else "items"
    return Cause("FieldValueTooMany", field,
                 f"Too many: {actual}: must have at most {limit} {noun}")


# --- defaults --------------------------------------------------------------------------------


def apply_defaults(obj: Any, schema: Schema, schemas: SchemaSet) -> None:
    """Set `default`s of missing fields in place, as CRD defaulting does.

    First, as kube does, a null in a non-nullable field is replaced by its default or dropped.
    Defaulted values are walked too, so defaults inside defaults apply.
    """
    _default(obj, schema, schemas, depth=0)


def _default(value: Any, raw: Schema | None, schemas: SchemaSet, depth: int) -> None:
    if depth > 200:
        return
    schema = schemas.resolve(raw) if raw is not None else None
    if schema is None:
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        for key, prop_raw in properties.items():
            prop = schemas.resolve(prop_raw)
            if prop is None:
                continue
            if key not in value:
                if "default" in prop:
                    value[key] = copy.deepcopy(prop["default"])
            elif value[key] is None and prop.get("nullable") is not True:
                if "default" in prop:
                    value[key] = copy.deepcopy(prop["default"])
                else:
                    del value[key]
        additional = schema.get("additionalProperties")
        for key in list(value):
            if key in properties:
                _default(value[key], properties[key], schemas, depth + 1)
            elif isinstance(additional, dict):
                item = schemas.resolve(additional)
                if value[key] is None and item is not None and item.get("nullable") is not True:
                    if "default" in item:
                        value[key] = copy.deepcopy(item["default"])
                    else:
                        del value[key]
                        continue
                _default(value[key], additional, schemas, depth + 1)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                _default(item, items, schemas, depth + 1)


# --- CRD schemas -----------------------------------------------------------------------------

_JUNCTORS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def validate_schema(schema: Any, path: str = "spec.versions[0].schema.openAPIV3Schema"
                    ) -> list[Cause]:
    """Why a CRD's openAPIV3Schema cannot be served (kube's main structural rules), sorted."""
    causes: list[Cause] = []
    if not isinstance(schema, dict):
        return [field_required(path, "")]
    _check_node(schema, path, "root", causes, depth=0)
    causes.sort(key=str)
    return causes


def _key(path: str, name: str) -> str:
    return f"{path}.properties[{name}]"


def _check_node(schema: dict[str, Any], path: str, level: str, causes: list[Cause],
                depth: int) -> None:
    if depth > 100:
        causes.append(field_forbidden(path, "schema nested too deeply"))
        return
    kind = schema.get("type")
    preserve = schema.get(PRESERVE)
    int_or_string = schema.get(INT_OR_STRING) is True
    embedded = schema.get(EMBEDDED) is True
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    additional = schema.get("additionalProperties")
    items = schema.get("items")

    if "$ref" in schema:
        causes.append(field_forbidden(f"{path}.$ref", "$ref is not supported"))
    if schema.get("uniqueItems") is True:
        causes.append(field_forbidden(
            f"{path}.uniqueItems",
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    if additional is not None:
        if properties and (additional is False or isinstance(additional, dict)):
            causes.append(field_forbidden(f"{path}.additionalProperties",
                                          "additionalProperties and properties are mutual "
                                          "exclusive"))
        if additional is False:
            causes.append(field_forbidden(f"{path}.additionalProperties",
                                          "additionalProperties cannot be set to false"))
        if level == "root":
            causes.append(field_forbidden(f"{path}.additionalProperties",
                                          "must not be used at the root"))
        if embedded:
            causes.append(field_forbidden(f"{path}.additionalProperties",
                                          "must not be used if x-kubernetes-embedded-resource "
                                          "is set"))
        if isinstance(additional, dict):
            _check_node(additional, f"{path}.additionalProperties", "field", causes, depth + 1)
    if preserve is False:
        causes.append(field_invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False,
                                    "must be true or undefined"))
    if int_or_string and preserve is True:
        causes.append(field_invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                                    "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        causes.append(field_invalid(f"{path}.x-kubernetes-embedded-resource", True,
                                    "must be false if x-kubernetes-int-or-string is true"))

    if embedded and kind != "object":
        if not kind:
            causes.append(field_required(f"{path}.type",
                                         "must be object if x-kubernetes-embedded-resource is "
                                         "true"))
        else:
            causes.append(field_invalid(f"{path}.type", kind,
                                        "must be object if x-kubernetes-embedded-resource is "
                                        "true"))
    elif not kind and not int_or_string and preserve is not True:
        detail = {"root": "must not be empty at the root",
                  "item": "must not be empty for specified array items",
                  "field": "must not be empty for specified object fields"}[level]
        causes.append(field_required(f"{path}.type", detail))
    if level == "root" and kind and kind != "object":
        causes.append(field_invalid(f"{path}.type", kind, "must be object at the root"))
    if kind and kind not in ("object", "array", "string", "integer", "number", "boolean"):
        causes.append(field_not_supported(f"{path}.type", kind,
                                          ["array", "boolean", "integer", "number", "object",
                                           "string"]))
    if embedded and preserve is not True and not properties:
        causes.append(field_required(f"{path}.properties",
                                     "must not be empty if x-kubernetes-embedded-resource is "
                                     "true without x-kubernetes-preserve-unknown-fields"))

    if kind == "array" and items is None:
        causes.append(field_required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _check_node(items, f"{path}.items", "item", causes, depth + 1)
    elif isinstance(items, list):
        causes.append(field_forbidden(f"{path}.items",
                                      "items must be a schema object and not an array"))

    resource = level == "root" or embedded
    for name, prop in properties.items():
        child = _key(path, name)
        if not isinstance(prop, dict):
            causes.append(field_invalid(child, prop, "must be a schema object"))
            continue
        _check_node(prop, child, "field", causes, depth + 1)
        if resource and name in ("apiVersion", "kind") and prop.get("type") != "string":
            causes.append(field_invalid(f"{child}.type", prop.get("type") or "",
                                        "must be string"))
        if resource and name == "metadata":
            if prop.get("type") != "object":
                causes.append(field_invalid(f"{child}.type", prop.get("type") or "",
                                            "must be object"))
            if level == "root" and not _only_names(prop):
                causes.append(field_forbidden(child,
                                              "must not specify anything other than name and "
                                              "generateName, but metadata is implicitly "
                                              "specified"))

    _check_list_and_map_types(schema, path, causes)
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and _pattern(pattern) is None:
        causes.append(field_invalid(f"{path}.pattern", pattern,
                                    "must be a valid regular expression"))

    skip_any_of = schema.get("anyOf") == _INT_OR_STRING_ANY_OF
    for junctor in _JUNCTORS:
        branches = schema.get(junctor)
        if not isinstance(branches, list):
            continue
        for index, branch in enumerate(branches):
            if junctor == "anyOf" and skip_any_of:
                continue
            if isinstance(branch, dict):
                _check_nested(branch, f"{path}.{junctor}[{index}]", causes, depth + 1)
    if isinstance(schema.get("not"), dict):
        _check_nested(schema["not"], f"{path}.not", causes, depth + 1)


def _only_names(metadata: dict[str, Any]) -> bool:
    """metadata at a CRD's root may only restrict name and generateName."""
    allowed = {"type", "properties", "description"}
    if set(metadata) - allowed:
        return False
    return set(metadata.get("properties") or {}) <= {"name", "generateName"}


def _check_list_and_map_types(schema: dict[str, Any], path: str, causes: list[Cause]) -> None:
    kind = schema.get("type")
    list_type = schema.get("x-kubernetes-list-type")
    map_keys = schema.get("x-kubernetes-list-map-keys") or []
    map_type = schema.get("x-kubernetes-map-type")
    if map_type is not None:
        if kind != "object":
            causes.append(field_required(f"{path}.type", "must be object if "
                                         "x-kubernetes-map-type is specified") if not kind
                          else field_invalid(f"{path}.type", kind, "must be object if "
                                             "x-kubernetes-map-type is specified"))
        if map_type not in ("atomic", "granular"):
            causes.append(field_not_supported(f"{path}.x-kubernetes-map-type", map_type,
                                              ["atomic", "granular"]))
    if list_type is not None:
        if kind != "array":
            causes.append(field_required(f"{path}.type", "must be array if "
                                         "x-kubernetes-list-type is specified") if not kind
                          else field_invalid(f"{path}.type", kind, "must be array if "
                                             "x-kubernetes-list-type is specified"))
        if list_type not in ("atomic", "set", "map"):
            causes.append(field_not_supported(f"{path}.x-kubernetes-list-type", list_type,
                                              ["atomic", "set", "map"]))
    if map_keys and list_type != "map":
        causes.append(field_required(f"{path}.x-kubernetes-list-type",
                                     "must be map if x-kubernetes-list-map-keys is non-empty")
                      if list_type is None else
                      field_invalid(f"{path}.x-kubernetes-list-type", list_type,
                                    "must be map if x-kubernetes-list-map-keys is non-empty"))
    if list_type == "map":
        items = schema.get("items")
        if not map_keys:
            causes.append(field_required(f"{path}.x-kubernetes-list-map-keys",
                                         "must not be empty if x-kubernetes-list-type is map"))
        if not isinstance(items, dict):
            causes.append(field_required(f"{path}.items",
                                         "must have a schema if x-kubernetes-list-type is map"))
        elif items.get("type") != "object":
            causes.append(field_invalid(f"{path}.items.type", items.get("type") or "",
                                        "must be object if parent array's "
                                        "x-kubernetes-list-type is map"))
        else:
            item_properties = items.get("properties") or {}
            if len(set(map_keys)) != len(map_keys):
                causes.append(field_invalid(f"{path}.x-kubernetes-list-map-keys", map_keys,
                                            "must not contain duplicate entries"))
            for key in map_keys:
                prop = item_properties.get(key)
                if not isinstance(prop, dict):
                    causes.append(field_invalid(f"{path}.x-kubernetes-list-map-keys", map_keys,
                                                "entries must all be names of item properties"))
                elif prop.get("type") in ("array", "object"):
                    causes.append(field_invalid(f"{path}.items.properties[{key}].type",
                                                "object", "must be a scalar type if parent "
                                                "array's x-kubernetes-list-type is map"))


_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    (PRESERVE, "must be false to be structural"),
    (EMBEDDED, "must be false to be structural"),
    (INT_OR_STRING, "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
)


def _check_nested(schema: dict[str, Any], path: str, causes: list[Cause], depth: int) -> None:
    """A schema under allOf/anyOf/oneOf/not may only validate values, not declare structure."""
    if depth > 100:
        return
    for key, detail in _NESTED_FORBIDDEN:
        present = schema.get(key)
        if present not in (None, False, "", []):
            causes.append(field_forbidden(f"{path}.{key}", detail))
    if "$ref" in schema:
        causes.append(field_forbidden(f"{path}.$ref", "$ref is not supported"))
    properties = schema.get("properties")
    if isinstance(properties, dict):
        if "metadata" in properties:
            causes.append(field_forbidden(_key(path, "metadata"),
                                          "must not be specified in a nested context"))
        for name, prop in properties.items():
            if isinstance(prop, dict):
                _check_nested(prop, _key(path, name), causes, depth + 1)
    if isinstance(schema.get("items"), dict):
        _check_nested(schema["items"], f"{path}.items", causes, depth + 1)
    for junctor in _JUNCTORS:
        branches = schema.get(junctor)
        if isinstance(branches, list):
            for index, branch in enumerate(branches):
                if isinstance(branch, dict):
                    _check_nested(branch, f"{path}.{junctor}[{index}]", causes, depth + 1)
    if isinstance(schema.get("not"), dict):
        _check_nested(schema["not"], f"{path}.not", causes, depth + 1)
