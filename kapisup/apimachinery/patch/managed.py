"""metadata.managedFields: who owns which fields, as kube's fieldmanager records it.

`apply` is server-side apply (operation Apply), `record_update` the bookkeeping of every other
write (operation Update). Both take and return plain objects; the field sets are computed with
the object's schema (see fieldset.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kapisup.apimachinery.errors import Cause, StatusError, bad_request
from kapisup.apimachinery.patch._values import deep_copy, json_equal
from kapisup.apimachinery.patch.fieldset import (
    MISSING,
    Path,
    Walker,
    decode,
    describe,
    encode,
    walker_for,
)
from kapisup.apimachinery.schema import Schema, SchemaSet

APPLY = "Apply"
UPDATE = "Update"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10

# Fields kube never records as owned (its stripMeta manager): exact paths, not subtrees.
STRIPPED: frozenset[Path] = frozenset({
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *(("f:metadata", "f:" + name) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
        "generation", "managedFields", "resourceVersion")),
})

ManagerId = tuple[str, str, str, str]


@dataclass(slots=True)
class Owner:
    """One managedFields entry, decoded."""

    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str
    fields: set[Path] = field(default_factory=set)

    @property
    def ident(self) -> ManagerId:
        return _ident(self.manager, self.operation, self.api_version, self.subresource)

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                               "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _ident(manager: str, operation: str, api_version: str, subresource: str) -> ManagerId:
    """kube's manager identifier: appliers are one manager whatever version they applied."""
    return (manager, operation, "" if operation == APPLY else api_version, subresource)


def _ident_text(ident: ManagerId) -> str:
    """The JSON identifier kube sorts conflicting managers by."""
    manager, operation, api_version, subresource = ident
    shown: dict[str, str] = {"manager": manager, "operation": operation}
    if api_version:
        shown["apiVersion"] = api_version
    if subresource:
        shown["subresource"] = subresource
    return json.dumps(shown, separators=(",", ":"))


def _printed(ident: ManagerId) -> str:
    manager, operation, api_version, subresource = ident
    text = json.dumps(manager)
    if subresource:
        text += f" with subresource {json.dumps(subresource)}"
    if operation == UPDATE:
        text += f" using {api_version}"
    return text


def decode_managed_fields(entries: Any) -> dict[ManagerId, Owner] | None:
    """The owners recorded on an object; None if the list is not valid managedFields."""
    if not isinstance(entries, list):
        return None
    owners: dict[ManagerId, Owner] = {}
    try:
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("fieldsType", "FieldsV1") != "FieldsV1":
                return None
            owner = Owner(str(entry.get("manager", "")), str(entry.get("operation", "")),
                          str(entry.get("apiVersion", "")), entry.get("time"),
                          str(entry.get("subresource", "")),
                          decode(entry.get("fieldsV1") or {}))
            if owner.operation not in (APPLY, UPDATE):
                return None
            previous = owners.get(owner.ident)
            if previous is not None:
                owner.fields |= previous.fields
            owners[owner.ident] = owner
    except ValueError:
        return None
    return owners


def encode_managed_fields(owners: dict[ManagerId, Owner]) -> list[dict[str, Any]]:
    """Entries in kube's order: Apply before Update, then oldest first, then by name."""
    ordered = sorted(owners.values(), key=lambda o: (
        o.operation, o.time or "", o.manager, o.api_version, o.subresource))
    return [o.entry() for o in ordered]


def _managed_of(obj: dict) -> Any:
    metadata = obj.get("metadata")
    return metadata.get("managedFields") if isinstance(metadata, dict) else None


def _without_managed(obj: dict) -> dict:
    if "managedFields" not in (obj.get("metadata") or {}):
        return obj
    copy = dict(obj)
    copy["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return copy


def _with_managed(obj: dict, owners: dict[ManagerId, Owner], deep: bool = True) -> dict:
    """`obj` with these managedFields. Not `deep`: only the top level and metadata are new,
    the rest is shared with `obj` (record_update runs on every write)."""
    result = deep_copy(obj) if deep else dict(obj)
    entries = encode_managed_fields(owners)
    metadata = result.get("metadata")
    if not isinstance(metadata, dict):
        if not entries:
            return result
        metadata = result["metadata"] = {}
    elif not deep:
        metadata = result["metadata"] = dict(metadata)
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)
    return result


def _strip_and_drop_empty(owners: dict[ManagerId, Owner]) -> None:
    for ident in list(owners):
        owners[ident].fields -= STRIPPED
        if not owners[ident].fields:
            del owners[ident]


def _cap_update_managers(owners: dict[ManagerId, Owner]) -> None:
    """Fold the oldest Update entries into `ancient-changes` (one per version) past ten."""
    updaters = sorted((o for o in owners.values() if o.operation == UPDATE),
                      key=lambda o: (o.time or "", _ident_text(o.ident)))
    count = len(updaters)
    first_of_version: dict[str, Owner] = {}
    for owner in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        bucket_id = _ident(ANCIENT_CHANGES, UPDATE, owner.api_version, "")
        first = first_of_version.get(owner.api_version)
        if first is None:
            first_of_version[owner.api_version] = owner
            continue
        bucket = owners.get(bucket_id)
        if bucket is None:
            del owners[first.ident]
            bucket = Owner(ANCIENT_CHANGES, UPDATE, owner.api_version, first.time, "",
                           set(first.fields))
            owners[bucket_id] = bucket
        bucket.fields |= owner.fields
        bucket.time = owner.time
        if owner.ident != bucket_id:
            del owners[owner.ident]
        count -= 1


def _owners_for(new: dict, old: dict) -> dict[ManagerId, Owner]:
    """Owners from the written object if it carries any, else from the stored one (as kube)."""
    for source in (new, old):
        owners = decode_managed_fields(_managed_of(source))
        if owners:
            return owners
    return {}


def _take_changes(owners: dict[ManagerId, Owner], me: Owner, walker: Walker, old: Any,
                  new: dict, schema: Schema | None, now: str) -> None:
    comparison = walker.compare(old, new, schema)
    changed = comparison.added | comparison.modified
    for owner in owners.values():
        owner.fields -= changed
        owner.fields -= comparison.removed
    taken = changed - STRIPPED
    if taken:
        current = owners.setdefault(me.ident, me)
        current.fields |= taken
        current.time = now
        current.api_version = me.api_version


def record_update(old: dict, new: dict, manager: str, operation: str, schema: Schema | None,
                  schemas: SchemaSet, *, now: str, api_version: str,
                  subresource: str = "") -> dict:
    """`new` with managedFields updated for a non-apply write by `manager`.

    The manager takes the fields this write added or changed (from anyone); fields it removed
    leave every owner. `old` is {} for a create. The result shares everything but its top
    level and metadata with `new`; `new` itself is not changed.
    """
    owners = _owners_for(new, old)
    walker = walker_for(schemas)
    resolved = schemas.resolve(schema)
    me = Owner(manager, operation, api_version, now, subresource)
    bare = _without_managed(new)
    _take_changes(owners, me, walker, _without_managed(old) if old else MISSING, bare,
                  resolved, now)
    _strip_and_drop_empty(owners)
    _cap_update_managers(owners)
    return _with_managed(bare, owners, deep=False)


def apply(live: dict, applied: Any, manager: str, schema: Schema | None, schemas: SchemaSet,
          *, force: bool = False, now: str, api_version: str, subresource: str = "") -> dict:
    """Server-side apply of `applied` by `manager` onto `live` ({} to create).

    Raises 409 Conflict (kube's message and FieldManagerConflict causes) when the apply changes
    fields another manager owns, unless `force`, which takes them over.
    """
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: the applied configuration is not an object")
    version = applied.get("apiVersion", "")
    if version != api_version:
        raise bad_request("Incorrect version specified in apply patch. Specified patch version: "
                          f"{version}, expected: {api_version}")
    if _managed_of(applied) is not None:
        raise bad_request("metadata.managedFields must be nil")
    resolved = schemas.resolve(schema)
    loose, strict = walker_for(schemas), walker_for(schemas, strict=True)
    current = _without_managed(live)
    owners = decode_managed_fields(_managed_of(live)) or {}
    if current and not owners:
        first = Owner(BEFORE_FIRST_APPLY, UPDATE, api_version, now, subresource)
        _take_changes(owners, first, loose, MISSING, current, resolved, now)
    me = _ident(manager, APPLY, api_version, subresource)
    previous = owners.get(me)
    applied_set = strict.to_fieldset(applied, resolved)
    merged = strict.merge(current, applied, resolved)
    if previous is not None:
        merged = _prune(loose, merged, resolved, previous.fields, applied_set,
                        [o.fields for i, o in owners.items() if i != me])
    comparison = loose.compare(current if current else MISSING, merged, resolved)
    changed = comparison.added | comparison.modified
    conflicts = {ident: owner.fields & changed for ident, owner in owners.items()
                 if ident != me and owner.fields & changed}
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for ident, owner in owners.items():
        if ident != me:
            owner.fields -= conflicts.get(ident, set())
            owner.fields -= comparison.removed
    fields = applied_set - STRIPPED
    unchanged = previous is not None and previous.fields == fields and json_equal(current,
                                                                                  merged)
    owners[me] = Owner(manager, APPLY, api_version,
                       previous.time if unchanged and previous else now, subresource, fields)
    _strip_and_drop_empty(owners)
    _cap_update_managers(owners)
    return _with_managed(merged, owners)


def _prune(walker: Walker, merged: dict, schema: Schema | None, last: set[Path],
           applied: set[Path], others: list[set[Path]]) -> dict:
    """Remove what this manager applied before, omits now, and nobody else owns."""
    owned = set(applied).union(*others) if others else set(applied)
    protected = owned | {p[:i] for p in owned for i in range(1, len(p))} | STRIPPED
    doomed = {p for p in last if p not in protected}
    pruned = walker.remove(merged, schema, doomed)
    # kube also counts the named fields above what it applied as applied; left empty, they go
    emptied = {p[:i] for p in doomed for i in range(1, len(p))
               if p[i - 1].startswith("f:")} - protected
    if emptied:
        pruned = walker.remove(pruned, schema, {p for p in emptied if _empty_at(pruned, p)})
    return pruned


def _empty_at(obj: Any, path: Path) -> bool:
    node = obj
    for element in path:
        if not isinstance(node, dict) or not element.startswith("f:"):
            return False
        node = node.get(element[2:], MISSING)
    return isinstance(node, (dict, list)) and not node


def _conflict_error(conflicts: dict[ManagerId, set[Path]]) -> StatusError:
    ordered = sorted(conflicts, key=_ident_text)
    pairs = [(ident, path) for ident in ordered for path in sorted(conflicts[ident])]
    causes = [Cause("FieldManagerConflict", describe(path), f"conflict with {_printed(ident)}")
              for ident, path in pairs]
    if len(pairs) == 1:
        ident, path = pairs[0]
        message = (f"Apply failed with 1 conflict: conflict with {_printed(ident)}: "
                   f"{describe(path)}")
    else:
        lines: list[str] = []
        for ident in ordered:
            lines.append(f"conflicts with {_printed(ident)}:")
            lines.extend(f"- {describe(path)}" for path in sorted(conflicts[ident]))
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": [c.as_dict() for c in causes]})
