"""What the registry asks of a key-value store: kube's `storage.Interface`, backend-neutral.

Objects are JSON-shaped dicts carrying a `metadata` dict, kept under string keys such as
`/registry/configmaps/demo/cm1`. Every change gets the next value of one global, monotonic
revision; an object's `metadata.resourceVersion` is `str(revision of its last change)`. Nothing
here names SQLite, so an etcd backend implements the same contract.

Ownership: every dict a call returns is the caller's to mutate. The one exception is
`Event.object`: a single event is fanned out to many watchers, so its object is shared and
must be treated as read-only (copy it before changing it).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Object = dict[str, Any]

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


class StorageError(Exception):
    """Base of every error a backend raises (try_update/validate errors pass through as-is)."""


class KeyExistsError(StorageError):
    def __init__(self, key: str):
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str):
        super().__init__(f"key not found: {key}")
        self.key = key


class ConflictError(StorageError):
    """A precondition (uid, resourceVersion) failed, or a compare-and-swap kept losing races."""

    def __init__(self, key: str, message: str, current: Object | None = None):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
        self.current = current


class CompactedError(StorageError):
    """The revision asked for is older than the history kept (kube answers 410 Gone).

    `compacted` is the newest revision that can no longer be answered (oldest answerable - 1).
    """

    def __init__(self, requested: int, compacted: int):
        super().__init__(f"revision {requested} has been compacted (compacted up to {compacted})")
        self.requested = requested
        self.compacted = compacted


class TooLargeRevisionError(StorageError):
    """A list asked for a revision the store has not reached (kube: ResourceVersionTooLarge)."""

    def __init__(self, requested: int, current: int):
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


class UnavailableError(StorageError):
    """The backend cannot serve now (locked too long, I/O error, closed); the API answers 503."""


class StorageTimeoutError(UnavailableError):
    """The backend did not answer in time, so a write's outcome is unknown; the API answers
    504 (kube's Timeout) rather than 503."""


class WatchClosed(StorageError):
    """The storage ended a watcher (it fell too far behind, history vanished, or shutdown).

    The client resumes by watching again from the last revision it saw.
    """


@dataclass(frozen=True, slots=True)
class Preconditions:
    uid: str | None = None
    resource_version: str | None = None


@dataclass(slots=True)
class Event:
    """One change. `object` has `metadata.resourceVersion == str(revision)`; for DELETED it is
    the last state before the deletion, stamped with the deletion's revision (as kube does).
    `object` is shared between watchers: read-only."""

    type: str
    key: str
    object: Object
    revision: int


# An object as stored: compact JSON text without metadata.resourceVersion, and its revision.
RawObject = tuple[str, int]


@dataclass(slots=True)
class ListResult:
    """One page. `continue_key` is the last key examined when more keys follow (the next page
    starts after it; kube builds the opaque continue token from `(revision, continue_key)`);
    `remaining` counts the keys after this page when no predicate filtered it, else None."""

    items: list[Object]
    revision: int
    continue_key: str | None
    remaining: int | None


class Watcher(ABC):
    """A stream of events for one key prefix, in revision order."""

    @property
    @abstractmethod
    def revision(self) -> int:
        """How far this watcher is known to be consistent: every matching event up to here has
        been returned by `next`. Advances without matching events (for BOOKMARKs)."""

    @abstractmethod
    def next(self, timeout: float | None = None) -> Event | None:
        """The next event; None when `timeout` seconds pass first; raises WatchClosed."""

    @abstractmethod
    def stop(self) -> None:
        """Stop delivering; later `next` calls raise WatchClosed. Idempotent."""


UpdateFunc = Callable[[Object], Object | None]


class Storage(ABC):
    @abstractmethod
    def create(self, key: str, obj: Object) -> Object:
        """Store a new object; KeyExistsError if the key is taken. Returns it with its RV."""

    @abstractmethod
    def get(self, key: str) -> Object:
        """The current object; KeyNotFoundError."""

    def get_raw(self, key: str) -> RawObject:
        """The current object as stored (JSON text without resourceVersion) and its revision.

        Lets a GET answer without decoding and re-encoding the object; KeyNotFoundError.
        """
        obj = self.get(key)
        revision = int(obj["metadata"].pop("resourceVersion"))
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False), revision

    def list_raw(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
                 revision: int | None = None) -> ListResult:
        """`list` without a predicate whose items are `RawObject`s, for the same reason."""
        result = self.list(prefix, limit=limit, start_after=start_after, revision=revision)
        raw: list[Any] = []
        for obj in result.items:
            rv = int(obj["metadata"].pop("resourceVersion"))
            raw.append((json.dumps(obj, separators=(",", ":"), ensure_ascii=False), rv))
        result.items = raw
        return result

    @abstractmethod
    def list(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
             revision: int | None = None,
             predicate: Callable[[Object], bool] | None = None) -> ListResult:
        """Objects whose key starts with `prefix`, in key order.

        `revision=None` reads the latest state; `revision=N` the state as of N (so every page of
        a paginated list agrees with the first), CompactedError if N is older than the history
        kept. `predicate` filters before `limit` counts (as kube's store does); `limit=0` means
        no limit. The predicate must not block (it runs inside the read).
        """

    @abstractmethod
    def guaranteed_update(self, key: str, try_update: UpdateFunc, *,
                          preconditions: Preconditions | None = None,
                          ignore_not_found: bool = False) -> Object:
        """Read-modify-write with compare-and-swap, retried on lost races (bounded).

        `try_update` gets a fresh copy of the current object and returns the new one, or None
        (or an equal object) for no change: nothing is written and the current object returns.
        Whatever it raises passes through. With `ignore_not_found`, a missing key calls
        `try_update({})` and creates the result. Failed preconditions raise ConflictError.
        """

    @abstractmethod
    def delete(self, key: str, *, preconditions: Preconditions | None = None,
               validate: Callable[[Object], None] | None = None) -> Object:
        """Delete; returns the last state stamped with the deletion's revision.
        `validate(current)` runs before the delete and may raise to refuse it."""

    @abstractmethod
    def watch(self, prefix: str, revision: int) -> Watcher:
        """Events for keys under `prefix` with revision > `revision` (history first, then live);
        `revision=0` starts from now. CompactedError if `revision` is older than the history."""

    @abstractmethod
    def current_revision(self) -> int:
        ...

    @abstractmethod
    def count(self, prefix: str) -> int:
        ...

    @abstractmethod
    def compact(self, revision: int) -> None:
        """Drop the history up to `revision`: lists and watches at older revisions then fail."""

    @abstractmethod
    def close(self) -> None:
        ...


def check_preconditions(key: str, current: Object, preconditions: Preconditions | None) -> None:
    """Shared by backends: compare uid and resourceVersion with the current object."""
    if preconditions is None:
        return
    meta = current.get("metadata") or {}
    if preconditions.uid is not None and meta.get("uid") != preconditions.uid:
        raise ConflictError(
            key, f"Precondition failed: UID in precondition: {preconditions.uid}, "
                 f"UID in object meta: {meta.get('uid', '')}", current)
    if (preconditions.resource_version is not None
            and meta.get("resourceVersion") != preconditions.resource_version):
        raise ConflictError(
            key, f"Precondition failed: ResourceVersion in precondition: "
                 f"{preconditions.resource_version}, ResourceVersion in object meta: "
                 f"{meta.get('resourceVersion', '')}", current)
