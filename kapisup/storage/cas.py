"""The compare-and-swap loops every backend runs for guaranteed updates and deletes.

A backend supplies how it stores (encode/decode) and one conditional write ("only if the key is
still at revision N"); the retry rules, precondition checks and no-op detection live here once,
so SQLite and etcd cannot drift apart on kube's GuaranteedUpdate semantics.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kapisup.storage.interface import (
    ConflictError,
    KeyNotFoundError,
    Object,
    Preconditions,
    UpdateFunc,
    check_preconditions,
)

#: a stored value as the backend keeps it (JSON text or bytes) and its revision
Stored = tuple[Any, int]


@dataclass(frozen=True, slots=True)
class Swapped:
    """The outcome of one conditional write."""

    written: bool
    revision: int = 0  # the write's revision, when written
    current: Stored | None = None  # what the key holds now, when the write lost the race
    previous: Any = None  # deletes: the value removed, when the backend returns it


def stored_json(obj: Object) -> str:
    """The stored form of every backend: compact JSON without `metadata.resourceVersion` (the
    revision of the key is the version). The caller's dict is left untouched."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        obj = {**obj, "metadata": {}}
    elif "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def decode(stored: str | bytes, revision: int) -> Object:
    """A stored value back as an object stamped with its revision."""
    obj = json.loads(stored)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj


@dataclass(frozen=True, slots=True)
class Codec:
    encode: Callable[[Object], Any]
    decode: Callable[[Any, int], Object]


def update(key: str, current: Stored | None, try_update: UpdateFunc, codec: Codec,
           put: Callable[[Any, int], Swapped], *, attempts: int,
           preconditions: Preconditions | None = None,
           ignore_not_found: bool = False) -> Object:
    """kube's GuaranteedUpdate: `put(value, expected_revision)` writes only if the key is still
    at `expected_revision` (0: absent) and reports what it found otherwise."""
    for _ in range(attempts):
        if current is None:
            if not ignore_not_found:
                raise KeyNotFoundError(key)
            if preconditions is not None:
                check_preconditions(key, {"metadata": {}}, preconditions)
            stored, expected, base = None, 0, {}
        else:
            stored, expected = current
            base = codec.decode(stored, expected)
            check_preconditions(key, base, preconditions)
        updated = try_update(base)
        if updated is None:
            if stored is None:
                raise KeyNotFoundError(key)
            return codec.decode(stored, expected)
        value = codec.encode(updated)
        if stored is not None and (value == stored or json.loads(value) == json.loads(stored)):
            return codec.decode(stored, expected)
        outcome = put(value, expected)
        if outcome.written:
            return codec.decode(value, outcome.revision)
        current = outcome.current
    raise ConflictError(key, f"gave up after {attempts} concurrent modifications; please apply "
                             "your changes to the latest version",
                        None if current is None else codec.decode(*current))


def delete(key: str, current: Stored | None, codec: Codec,
           remove: Callable[[int], Swapped], *, attempts: int,
           preconditions: Preconditions | None = None,
           validate: Callable[[Object], None] | None = None) -> Object:
    """Delete only the revision that was checked; the last state comes back stamped with the
    deletion's revision."""
    for _ in range(attempts):
        if current is None:
            raise KeyNotFoundError(key)
        stored, expected = current
        check_preconditions(key, codec.decode(stored, expected), preconditions)
        if validate is not None:
            validate(codec.decode(stored, expected))
        outcome = remove(expected)
        if outcome.written:
            last = outcome.previous if outcome.previous is not None else stored
            return codec.decode(last, outcome.revision)
        current = outcome.current
    raise ConflictError(key, f"gave up deleting after {attempts} concurrent modifications")
