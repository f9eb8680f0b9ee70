"""The SQLite file's layout and connection settings, free of gevent so the master can run
`prepare` before it forks the workers.

Layout (in the spirit of etcd's MVCC store):
- `events` is the revision store: one row per change, `rev` AUTOINCREMENT is the global
  revision (never reused, even after compaction empties the table), `value` the full object as
  JSON without `metadata.resourceVersion` (for DELETED: the last state).
- `objects` is the key index: the current revision of every live key. An object's value is the
  `events` row its `rev` points to, so each write stores its JSON once.
- `meta` holds `compact_rev`: lists and watches need a revision >= it.

Compaction keeps, for each key, its newest change at or below the compaction point (unless that
change is a deletion), so the state at any revision >= `compact_rev` can still be rebuilt.
"""

from __future__ import annotations

import os
import sqlite3

SCHEMA_VERSION = 1
SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 10_000
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

# event types as stored
TYPE_ADDED, TYPE_MODIFIED, TYPE_DELETED = 0, 1, 2

_TABLES = (
    """CREATE TABLE IF NOT EXISTS events (
        rev INTEGER PRIMARY KEY AUTOINCREMENT,
        type INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        ts REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_key_rev ON events(key, rev)",
    """CREATE TABLE IF NOT EXISTS objects (
        key TEXT PRIMARY KEY,
        rev INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS meta (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL) WITHOUT ROWID""",
    "INSERT OR IGNORE INTO meta(name, value) VALUES ('compact_rev', 0)",
    f"INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', {SCHEMA_VERSION})",
)


def connect(path: str, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A connection with the settings every user of the file needs (see the storage probe):
    autocommit (we issue BEGIN IMMEDIATE ourselves), WAL, a long busy timeout."""
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA synchronous={level}")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    return conn


def prepare(path: str) -> None:
    """Create the directory, the file, WAL mode and the tables; idempotent and safe to run
    from several processes at once."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    conn = connect(path)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: cannot switch to WAL mode (got {mode})")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _TABLES:
                conn.execute(statement)
            version = conn.execute(
                "SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise RuntimeError(f"{path}: schema version {version}, expected {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """[low, high) holding exactly the keys that start with `prefix` under SQLite's BINARY
    collation (UTF-8 byte order, which is code point order); high None = unbounded."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return prefix, "".join(chars)
        chars.pop()
    return prefix, None
