"""Strategic merge patch as kube's strategicpatch package applies it (StrategicMergeMapPatch).

The schema's `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` decide how a
property merges: lists with strategy `merge` merge by their merge key (or as sets of scalars),
other lists are replaced, maps merge unless their strategy is `replace`. Patch directives:
`$patch: replace|delete` on maps and list items, `$retainKeys`, `$deleteFromPrimitiveList/<f>`,
`$setElementOrder/<f>`. A null deletes a key.

Errors follow kube's handler: malformed directives are 400, lists of lists 422, the library's
other complaints are a reason-less 500 from kube-apiserver and a 400 BadRequest here.

Deviation, on purpose: a value the original lacks (a new key, a new list item) is merged into an
empty value rather than copied verbatim, so directives and nulls inside it never leak into the
stored object. Kube copies it and lets typed decoding drop the debris.
"""

from __future__ import annotations

from typing import Any

from kapisup.apimachinery.errors import StatusError, bad_request
from kapisup.apimachinery.patch import shapes
from kapisup.apimachinery.patch._values import (
    deep_copy,
    generic_invalid,
    go_format,
    go_type,
    json_kind,
    scalar_key,
)
from kapisup.apimachinery.schema import Schema, SchemaSet

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVES = "$deleteFromPrimitiveList"
SET_ORDER = "$setElementOrder"

ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ORDER = "invalid patch format of setElementOrder list"
ERR_LIST_OF_LISTS = "lists of lists are not supported"


def strategic_merge_patch(obj: dict, patch: Any, schema: Schema | None,
                          schemas: SchemaSet) -> dict:
    """Apply a decoded strategic merge patch to a copy of `obj`.

    Kube refuses this patch type for custom resources (415); the caller decides that, this
    function treats a missing schema as "maps merge, lists are replaced".
    """
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_kind(patch)} into Go value of type "
                          "map[string]interface {}")
    merger = _Merger(schemas)
    return merger.merge_map(deep_copy(obj), deep_copy(patch), schemas.resolve(schema))


def _strategy(schema: Schema | None) -> str:
    """The non-retainKeys strategy of a property (kube's extractRetainKeysPatchStrategy)."""
    found = shapes.strategies(schema)
    if len(found) <= 1:
        return "" if not found or found[0] == "retainKeys" else found[0]
    if len(found) == 2 and "retainKeys" in found:
        return found[1] if found[0] == "retainKeys" else found[0]
    raise bad_request(f"unexpected patch strategy: {go_format(found)}")


def _category(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "nil"


def _discard_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(v) for v in value]
    return value


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise bad_request(ERR_BAD_PRIMITIVE_LIST if prefix == DELETE_PRIMITIVES
                          else ERR_BAD_SET_ORDER)
    return rest


def _no_merge_key(item: Any, key: str) -> StatusError:
    return bad_request(f"map: {go_format(item)} does not contain declared merge key: {key}")


def _bad_arg(expected: str, actual: Any) -> StatusError:
    return bad_request(f"expected a {expected}, but received a {go_type(actual)}")


def _element_kind(*lists: list) -> str:
    """kube's sliceElementType: one element type across the lists, never a list."""
    seen = ""
    for values in lists:
        for value in values:
            kind = _category(value)
            if not seen:
                if kind == "slice":
                    raise generic_invalid(ERR_LIST_OF_LISTS)
                seen = kind
            elif kind != seen:
                raise bad_request("list element types are not identical: "
                                    + go_format(list(lists)))
    if not seen:
        raise bad_request("no elements in any of the given slices")
    return seen


class _Merger:
    def __init__(self, schemas: SchemaSet):
        self.schemas = schemas

    # --- maps --------------------------------------------------------------------------------

    def merge_map(self, original: dict, patch: dict, schema: Schema | None) -> dict:
        if DIRECTIVE in patch:
            return _map_directive(patch[DIRECTIVE], patch)
        self._retain_keys(original, patch)
        self._set_element_order(original, patch, schema)
        for key, value in list(patch.items()):
            delete_list = key.startswith(DELETE_PRIMITIVES)
            if delete_list:
                key = _extract_key(key, DELETE_PRIMITIVES)
            if value is None:
                original.pop(key, None)
                continue
            sub, _ = shapes.child(self.schemas, schema, key)
            if key not in original:
                if not delete_list:
                    original[key] = self._fresh(value, sub)
                continue
            current = original[key]
            if _category(current) != _category(value):
                if not delete_list:
                    original[key] = self._fresh(value, sub)
                continue
            if isinstance(value, dict):
                if _strategy(sub) == "replace":
                    original[key] = value
                else:
                    original[key] = self.merge_map(current, value, sub)
            elif isinstance(value, list):
                original[key] = self._merge_list_field(current, value, sub, delete_list)
            else:
                original[key] = value
        return original

    def _fresh(self, value: Any, schema: Schema | None) -> Any:
        """A patch value the original lacks, with directives applied to an empty value."""
        if isinstance(value, dict):
            if _strategy(schema) == "replace":
                return _discard_nulls(value)
            return self.merge_map({}, value, schema)
        if isinstance(value, list):
            if _strategy(schema) == "merge" and value:
                return self._merge_list_field([], value, schema, False)
            return _discard_nulls(value)
        return value

    def _retain_keys(self, original: dict, patch: dict) -> None:
        if RETAIN_KEYS not in patch:
            return
        retained = patch.pop(RETAIN_KEYS)
        if not isinstance(retained, list):
            raise bad_request(ERR_BAD_RETAIN_KEYS)
        keep = {scalar_key(v) for v in retained}
        for key, value in patch.items():
            if value is None or key.startswith((DELETE_PRIMITIVES, SET_ORDER)):
                continue
            if scalar_key(key) not in keep:
                raise bad_request(ERR_BAD_RETAIN_KEYS)
        for key in list(original):
            if scalar_key(key) not in keep:
                del original[key]

    def _set_element_order(self, original: dict, patch: dict, schema: Schema | None) -> None:
        for key in [k for k in patch if k.startswith(SET_ORDER)]:
            order = patch.pop(key)
            if not isinstance(order, list):
                raise _bad_arg("[]interface {}", order)
            field = _extract_key(key, SET_ORDER)
            has_original, has_patch = field in original, field in patch
            live_list = original.get(field) if has_original else []
            patch_list = patch.get(field) if has_patch else []
            if not isinstance(live_list, list):
                raise _bad_arg("[]interface {}", live_list)
            if not isinstance(patch_list, list):
                raise _bad_arg("[]interface {}", patch_list)
            sub, _ = shapes.child(self.schemas, schema, field)
            key_name = shapes.merge_key(sub)
            _validate_order(patch_list, order, key_name)
            if not has_original and not has_patch:
                continue
            if has_original and has_patch:
                merged = self._merge_list_field(live_list, patch_list, sub, False)
            else:
                merged = live_list if has_original else patch_list
            if key_name:
                in_order, server_only = _partition_maps(merged, order, key_name)
            else:
                in_order, server_only = _partition_scalars(merged, order)
            is_map = _element_kind(live_list, patch_list) == "map"
            original[field] = _normalize(in_order, server_only, order, live_list, key_name,
                                         is_map)
            patch.pop(field, None)

    # --- lists -------------------------------------------------------------------------------

    def _merge_list_field(self, current: list, value: list, schema: Schema | None,
                          delete_list: bool) -> list:
        if _strategy(schema) != "merge":
            return value
        item_schema = shapes.items(self.schemas, schema)
        return self._merge_slice(current, value, item_schema, shapes.merge_key(schema),
                                 delete_list)

    def _merge_slice(self, original: list, patch: list, item_schema: Schema | None,
                     key_name: str, delete_list: bool) -> list:
        if not original and not patch:
            return original
        is_map = _element_kind(original, patch) == "map"
        if not is_map:
            if delete_list:
                gone = {scalar_key(v) for v in patch}
                return [v for v in original if scalar_key(v) not in gone]
            merged: list = []
            seen: set = set()
            for value in original + patch:
                marker = scalar_key(value)
                if marker not in seen:
                    seen.add(marker)
                    merged.append(value)
            in_patch, server_only = _partition_scalars(merged, patch)
        else:
            if not key_name:
                raise bad_request("cannot merge lists without merge key for type struct")
            original, patch = _special_elements(original, patch, key_name)
            merged = self._merge_by_key(original, patch, item_schema, key_name)
            in_patch, server_only = _partition_maps(merged, patch, key_name)
        return _normalize(in_patch, server_only, patch, original, key_name, is_map)

    def _merge_by_key(self, original: list, patch: list, item_schema: Schema | None,
                      key_name: str) -> list:
        for item in patch:
            if key_name not in item:
                raise _no_merge_key(item, key_name)
            index = _find_by_key(original, key_name, item[key_name])
            if index is None:
                original.append(self.merge_map({}, item, item_schema))
            else:
                original[index] = self.merge_map(original[index], item, item_schema)
        return original


def _map_directive(directive: Any, patch: dict) -> dict:
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != DIRECTIVE}
    if directive == "delete":
        return {}
    shown = directive if isinstance(directive, str) else go_format(directive)
    raise bad_request(f"unknown patch type: {shown} in map: {go_format(patch)}")


def _special_elements(original: list, patch: list, key_name: str) -> tuple[list, list]:
    """Handle `$patch` list items: delete by key, or replace the whole list."""
    plain: list = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if key_name not in item:
                raise _no_merge_key(item, key_name)
            marker = scalar_key(item[key_name])
            original = [v for v in original
                        if not (isinstance(v, dict) and key_name in v
                                and scalar_key(v[key_name]) == marker)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise bad_request("merging lists cannot yet be specified in the patch")
        else:
            shown = directive if isinstance(directive, str) else go_format(directive)
            raise bad_request(f"unknown patch type: {shown} in map: {go_format(item)}")
    if replace:
        return plain, []
    return original, plain


def _find_by_key(values: list, key_name: str, key_value: Any) -> int | None:
    marker = scalar_key(key_value)
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            raise bad_request(f"value for key {index} is not a map.")
        if key_name in value and scalar_key(value[key_name]) == marker:
            return index
    return None


def _partition_scalars(values: list, by: list) -> tuple[list, list]:
    wanted = {scalar_key(v) for v in by}
    inside = [v for v in values if scalar_key(v) in wanted]
    outside = [v for v in values if scalar_key(v) not in wanted]
    return inside, outside


def _partition_maps(values: list, by: list, key_name: str) -> tuple[list, list]:
    inside: list = []
    outside: list = []
    for value in values:
        if not isinstance(value, dict):
            raise _bad_arg("map[string]interface {}", value)
        if key_name not in value:
            raise _no_merge_key(value, key_name)
        found = _find_by_key(by, key_name, value[key_name])
        (inside if found is not None else outside).append(value)
    return inside, outside


def _identity(value: Any, key_name: str, is_map: bool) -> Any:
    if is_map:
        return scalar_key(value.get(key_name)) if isinstance(value, dict) else None
    return scalar_key(value)


def _position(order: list, value: Any, key_name: str, is_map: bool) -> int:
    wanted = _identity(value, key_name, is_map)
    for index, item in enumerate(order):
        if _identity(item, key_name, is_map) == wanted:
            return index
    return -1


def _normalize_slice(values: list, order: list, key_name: str, is_map: bool) -> list:
    deleted: list = []
    if is_map:
        for value in [*values, *order]:
            if not isinstance(value, dict):
                raise _bad_arg("map[string]interface {}", value)
            if key_name not in value:
                raise _no_merge_key(value, key_name)
        deleted = [v for v in values if v.get(DIRECTIVE) == "delete"]
        values = [v for v in values if v.get(DIRECTIVE) != "delete"]

    def rank(value: Any) -> int:
        found = _position(order, value, key_name, is_map)
        return found if found >= 0 else len(order)

    return sorted(values, key=rank) + deleted


def _normalize(in_patch: list, server_only: list, patch_order: list, server_order: list,
               key_name: str, is_map: bool) -> list:
    """Patch items in patch order, server-only items in live order, interleaved as kube does."""
    right = _normalize_slice(in_patch, patch_order, key_name, is_map)
    left = _normalize_slice(server_only, server_order, key_name, is_map)
    merged: list = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            merged.append(right[j])
            j += 1
        elif j >= len(right):
            merged.append(left[i])
            i += 1
        else:
            li = _position(server_order, left[i], key_name, is_map)
            ri = _position(server_order, right[j], key_name, is_map)
            if li >= 0 and ri >= 0 and li < ri:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                j += 1
    return merged


def _validate_order(patch_list: list, order: list, key_name: str) -> None:
    """kube's validatePatchWithSetOrderList: patch items appear in the order list's order."""
    if not order or not patch_list:
        return
    kept = patch_list
    if key_name:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg("map[string]interface {}", item)
        kept = [v for v in patch_list if v.get(DIRECTIVE) != "delete"]
    p = s = 0
    while p < len(kept) and s < len(order):
        if isinstance(kept[p], dict) and DIRECTIVE in kept[p]:
            p += 1
            continue
        if _keys_equal(kept[p], order[s], key_name):
            p += 1
        s += 1
    if p < len(kept) and s >= len(order):
        raise bad_request(f"The order in patch list:\n{go_format(patch_list)}\n doesn't match "
                            f"{SET_ORDER} list:\n{go_format(order)}\n")


def _keys_equal(left: Any, right: Any, key_name: str) -> bool:
    if not key_name:
        return scalar_key(left) == scalar_key(right)
    for value in (left, right):
        if not isinstance(value, dict):
            raise _bad_arg("map[string]interface {}", value)
        if key_name not in value:
            raise _no_merge_key(value, key_name)
    return scalar_key(left[key_name]) == scalar_key(right[key_name])
