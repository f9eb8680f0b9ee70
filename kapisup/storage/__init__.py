"""Storage: JSON objects under string keys with one global revision (kube's storage.Interface).

Only the backend-neutral contract is exported here, so importing this package pulls in no
gevent (the master imports `kapisup.storage.sqlite_schema` before forking). Workers import a
backend module directly, e.g. `from kapisup.storage.sqlite import SQLiteStorage`.
"""

from kapisup.storage.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    ConflictError,
    Event,
    KeyExistsError,
    KeyNotFoundError,
    ListResult,
    Object,
    Preconditions,
    Storage,
    StorageError,
    TooLargeRevisionError,
    UnavailableError,
    UpdateFunc,
    WatchClosed,
    Watcher,
)

__all__ = [
    "ADDED",
    "DELETED",
    "MODIFIED",
    "CompactedError",
    "ConflictError",
    "Event",
    "KeyExistsError",
    "KeyNotFoundError",
    "ListResult",
    "Object",
    "Preconditions",
    "Storage",
    "StorageError",
    "TooLargeRevisionError",
    "UnavailableError",
    "UpdateFunc",
    "WatchClosed",
    "Watcher",
]
