"""Field sets as server-side apply sees objects: paths of fields, list items and map entries.

A path is a tuple of kube's FieldsV1 path elements: `f:<field>`, `k:<json of list-map keys>`,
`v:<json value>` (set items), `i:<index>`. A set of paths encodes to FieldsV1 with `.` marking a
path that is itself a member and also has children, as kube writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kapisup.apimachinery.errors import bad_request
from kapisup.apimachinery.patch import shapes
from kapisup.apimachinery.patch._values import deep_copy, json_equal
from kapisup.apimachinery.schema import Schema, SchemaSet

Path = tuple[str, ...]
MISSING: Any = object()


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Comparison:
    """What changed between two objects, as field paths (kube's typed.Comparison)."""

    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


_WALKERS: dict[tuple[int, bool], tuple[SchemaSet, Walker]] = {}
_CACHE_LIMIT = 50_000


def walker_for(schemas: SchemaSet, strict: bool = False) -> Walker:
    """A long-lived walker per schema set: its child-schema caches pay off across writes."""
    hit = _WALKERS.get((id(schemas), strict))
    if hit is None or hit[0] is not schemas:
        hit = _WALKERS[(id(schemas), strict)] = (schemas, Walker(schemas, strict))
    walker = hit[1]
    if len(walker._children) > _CACHE_LIMIT:
        walker._children.clear()
        walker._defaults.clear()
    return walker


class Walker:
    """Walks JSON values with their schema; `strict` refuses list items apply cannot key."""

    def __init__(self, schemas: SchemaSet, strict: bool = False):
        self.schemas = schemas
        self.strict = strict
        # per-walk caches keyed by schema identity; the schema is kept so its id stays unique
        self._children: dict[tuple[int, str], tuple[Any, Schema | None, bool]] = {}
        self._defaults: dict[tuple[int, tuple[str, ...]], tuple[Any, dict[str, Any]]] = {}

    def _child(self, schema: Schema | None, name: str) -> tuple[Schema | None, bool]:
        cached = self._children.get((id(schema), name))
        if cached is None or cached[0] is not schema:
            sub, named = shapes.child(self.schemas, schema, name)
            cached = self._children[(id(schema), name)] = (schema, sub, named)
        return cached[1], cached[2]

    def _key_defaults(self, item_schema: Schema | None, keys: tuple[str, ...]) -> dict:
        cached = self._defaults.get((id(item_schema), keys))
        if cached is None or cached[0] is not item_schema:
            found = shapes.key_defaults(self.schemas, item_schema, keys)
            cached = self._defaults[(id(item_schema), keys)] = (item_schema, found)
        return cached[1]

    # --- structure ---------------------------------------------------------------------------

    def item_element(self, shape: shapes.ListShape, item_schema: Schema | None, item: Any,
                     index: int) -> str:
        if shape.kind == "set":
            return "v:" + _compact(item)
        if isinstance(item, dict):
            defaults = self._key_defaults(item_schema, shape.keys)
            keys = {k: item.get(k, defaults.get(k)) for k in shape.keys
                    if k in item or k in defaults}
            if len(keys) == len(shape.keys):
                return "k:" + _compact(keys)
        if self.strict:
            missing = next((k for k in shape.keys if not isinstance(item, dict) or k not in item),
                           shape.keys[0])
            raise bad_request(f"failed to create typed patch object: element {index}: "
                              "associative list with keys has an element that omits key field "
                              f'"{missing}" (and doesn\'t have default value)')
        return f"i:{index}"

    def children(self, value: Any, schema: Schema | None) -> list | None:
        """(element, value, schema, named) for each member of a granular value; None if leaf."""
        if isinstance(value, dict):
            if shapes.is_atomic_object(schema):
                return None
            found = []
            for key, child_value in value.items():
                sub, named = self._child(schema, key)
                found.append(("f:" + key, child_value, sub, named))
            return found
        if isinstance(value, list):
            shape = shapes.list_shape(schema)
            if shape.kind == "atomic":
                return None
            item_schema = shapes.items(self.schemas, schema)
            found = []
            seen: set[str] = set()
            for index, item in enumerate(value):
                element = self.item_element(shape, item_schema, item, index)
                if element in seen:
                    if self.strict:
                        raise bad_request("failed to create typed patch object: duplicate "
                                          f"entries for key {describe((element,))}")
                    continue
                seen.add(element)
                found.append((element, item, item_schema, False))
            return found
        return None

    # --- field sets --------------------------------------------------------------------------

    def to_fieldset(self, value: Any, schema: Schema | None) -> set[Path]:
        """The fields an applied configuration sets (kube's TypedValue.ToFieldSet)."""
        found: set[Path] = set()
        self._collect(value, schema, (), found)
        return found

    def _collect(self, value: Any, schema: Schema | None, path: Path, found: set[Path]) -> None:
        kids = self.children(value, schema)
        if kids is None:
            if path:
                found.add(path)
            return
        in_list = isinstance(value, list)
        for element, child_value, sub, named in kids:
            child_path = (*path, element)
            self._collect(child_value, sub, child_path, found)
            if (in_list or not named or child_value is None
                    or (isinstance(child_value, dict) and not child_value)):
                found.add(child_path)

    def _all_nodes(self, value: Any, schema: Schema | None, path: Path, found: set[Path]) -> None:
        found.add(path)
        for element, child_value, sub, _ in self.children(value, schema) or ():
            self._all_nodes(child_value, sub, (*path, element), found)

    def compare(self, old: Any, new: Any, schema: Schema | None) -> Comparison:
        result = Comparison()
        self._compare(old, new, schema, (), result)
        for paths in (result.added, result.modified, result.removed):
            paths.discard(())
        return result

    def _compare(self, old: Any, new: Any, schema: Schema | None, path: Path,
                 result: Comparison) -> None:
        if old is MISSING:
            self._all_nodes(new, schema, path, result.added)
            return
        if new is MISSING:
            self._all_nodes(old, schema, path, result.removed)
            return
        if old == new:
            # fast path; Python's == equates 1, 1.0 and true, a type change schemas forbid
            return
        same_kind = (isinstance(old, dict) and isinstance(new, dict)) or (
            isinstance(old, list) and isinstance(new, list))
        if same_kind and (old or new):
            old_kids = self.children(old, schema)
            if old_kids is not None:
                new_kids = self.children(new, schema) or []
                new_by = {e: (v, s) for e, v, s, _ in new_kids}
                old_by = {e for e, _, _, _ in old_kids}
                for element, old_value, sub, _ in old_kids:
                    new_value = new_by.get(element, (MISSING, sub))[0]
                    self._compare(old_value, new_value, sub, (*path, element), result)
                for element, new_value, sub, _ in new_kids:
                    if element not in old_by:
                        self._compare(MISSING, new_value, sub, (*path, element), result)
                return
        if not json_equal(old, new):
            result.modified.add(path)

    # --- edits -------------------------------------------------------------------------------

    def remove(self, value: Any, schema: Schema | None, paths: set[Path]) -> Any:
        """A copy of value without the given paths (and everything below them)."""
        if not paths:
            return value
        prefixes = {p[:i] for p in paths for i in range(len(p))}
        return self._remove(value, schema, (), paths, prefixes)

    def _remove(self, value: Any, schema: Schema | None, path: Path, paths: set[Path],
                prefixes: set[Path]) -> Any:
        if path not in prefixes:
            return value
        kids = self.children(value, schema)
        if kids is None:
            return value
        if isinstance(value, dict):
            return {element[2:]: self._remove(v, s, (*path, element), paths, prefixes)
                    for element, v, s, _ in kids if (*path, element) not in paths}
        return [self._remove(v, s, (*path, element), paths, prefixes)
                for element, v, s, _ in kids if (*path, element) not in paths]

    def merge(self, live: Any, config: Any, schema: Schema | None) -> Any:
        """Apply's merge of a configuration into the live object (kube's TypedValue.Merge)."""
        if isinstance(live, dict) and isinstance(config, dict) and not (
                shapes.is_atomic_object(schema)):
            merged = dict(live)
            for key, value in config.items():
                if value is None:
                    merged.pop(key, None)
                    continue
                sub, _ = self._child(schema, key)
                merged[key] = self._fresh_or_merge(live.get(key, MISSING), value, sub)
            return merged
        if isinstance(live, list) and isinstance(config, list):
            shape = shapes.list_shape(schema)
            if shape.kind != "atomic":
                return self._merge_list(live, config, shape, shapes.items(self.schemas, schema))
        return deep_copy(config)

    def _merge_list(self, live: list, config: list, shape: shapes.ListShape,
                    item_schema: Schema | None) -> list:
        loose = walker_for(self.schemas)
        left = [(loose.item_element(shape, item_schema, v, i), v) for i, v in enumerate(live)]
        right = [(self.item_element(shape, item_schema, v, i), v) for i, v in enumerate(config)]
        right_keys = {e for e, _ in right}
        if self.strict and len(right_keys) != len(right):
            duplicate = next(e for i, (e, _) in enumerate(right)
                             if e in {x for x, _ in right[:i]})
            raise bad_request("failed to create typed patch object: duplicate entries for key "
                              + describe((duplicate,)))
        live_by: dict[str, Any] = {}
        for element, value in left:
            live_by.setdefault(element, value)
        merged: list = []
        i = j = 0
        while i < len(left) or j < len(right):
            if i < len(left):
                element, value = left[i]
                i += 1
                if element not in right_keys:
                    merged.append(value)
                    continue
                if j >= len(right) or right[j][0] != element:
                    continue  # merged where the configuration places it
                j += 1
                merged.append(self.merge(value, right[j - 1][1], item_schema))
                continue
            element, value = right[j]
            j += 1
            merged.append(self._fresh_or_merge(live_by.get(element, MISSING), value,
                                               item_schema))
        return merged

    def _fresh_or_merge(self, current: Any, value: Any, schema: Schema | None) -> Any:
        if current is MISSING or current is None:
            return self.merge({} if isinstance(value, dict) else None, value, schema)
        return self.merge(current, value, schema)


# --- FieldsV1 encoding -------------------------------------------------------------------------


def encode(paths: set[Path]) -> dict:
    """kube's FieldsV1 JSON for a set of paths."""
    tree: dict = {}
    members: set[Path] = set(paths)
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return _render(tree, (), members)


def _render(node: dict, path: Path, members: set[Path]) -> dict:
    out: dict = {}
    if node and path in members:
        out["."] = {}
    for element in sorted(node):
        out[element] = _render(node[element], (*path, element), members)
    return out


def decode(fields: Any) -> set[Path]:
    """The paths of a FieldsV1 value; ValueError if it is not one."""
    found: set[Path] = set()
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 must be an object")
    _decode(fields, (), found)
    return found


def _decode(node: dict, path: Path, found: set[Path]) -> None:
    for element, sub in node.items():
        if not isinstance(sub, dict):
            raise ValueError(f"FieldsV1 member {element} must be an object")
        if element == ".":
            found.add(path)
            continue
        if element[:2] not in ("f:", "k:", "v:", "i:"):
            raise ValueError(f"unknown FieldsV1 path element {element}")
        child_path = (*path, element)
        if not sub:
            found.add(child_path)
        else:
            _decode(sub, child_path, found)


def describe(path: Path) -> str:
    """A path as kube prints it in conflicts: `.spec.containers[name="c"].image`."""
    parts: list[str] = []
    for element in path:
        kind, text = element[:2], element[2:]
        if kind == "f:":
            parts.append("." + text)
        elif kind == "k:":
            keys = json.loads(text)
            parts.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]")
        elif kind == "v:":
            parts.append(f"[={text}]")
        else:
            parts.append(f"[{text}]")
    return "".join(parts)
