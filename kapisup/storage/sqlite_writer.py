"""The write side of the SQLite backend: one OS thread per process owns the write connection,
and writes queued by greenlets are committed together (group commit).

Why a thread: sqlite3 never yields to gevent, and a write can wait seconds for another
process's lock or run an auto-checkpoint; on the thread that stalls only the writers, not the
hub. Why group commit: one `BEGIN IMMEDIATE ... COMMIT` per batch pays the lock hand-over, the
thread hop and the commit once for up to `max_batch` writes. Each write in a batch is still
checked on its own (a failed compare-and-swap does not fail its neighbours); an SQL error
fails the whole batch, which rolls back, and every caller in it gets UnavailableError.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from gevent.event import AsyncResult
from gevent.threadpool import ThreadPool

from kapisup.storage.interface import UnavailableError
from kapisup.storage.sqlite_schema import TYPE_ADDED, TYPE_DELETED, TYPE_MODIFIED, connect

T = TypeVar("T")
_log = logging.getLogger(__name__)

# what a write asks for
CREATE, PUT, DELETE = "create", "put", "delete"
# how it went
OK, EXISTS, CONFLICT, NOT_FOUND = "ok", "exists", "conflict", "not-found"


class WriteOp:
    """One write and, after the batch, its outcome. PUT and DELETE are compare-and-swap on
    `expected` (the key's current revision; 0 = the key must not exist)."""

    __slots__ = ("current_rev", "current_text", "event_type", "expected", "key", "kind",
                 "outcome", "revision", "text")

    def __init__(self, kind: str, key: str, text: str | None = None, expected: int = 0):
        self.kind = kind
        self.key = key
        self.text = text
        self.expected = expected
        self.outcome = ""
        self.revision = 0
        self.event_type = TYPE_ADDED
        # CONFLICT: the key's current state (None: absent); DELETE: the deleted value
        self.current_rev = 0
        self.current_text: str | None = None


def _apply(conn: sqlite3.Connection, op: WriteOp, now: float) -> None:
    row = conn.execute("SELECT rev FROM objects WHERE key = ?", (op.key,)).fetchone()
    current = row[0] if row else 0
    if op.kind == CREATE:
        if current:
            op.outcome = EXISTS
            return
        op.event_type = TYPE_ADDED
    elif current != op.expected or (op.kind == DELETE and not current):
        op.outcome = CONFLICT if current else NOT_FOUND
        op.current_rev = current
        if current:
            op.current_text = _value_at(conn, current)
        return
    elif op.kind == PUT:
        op.event_type = TYPE_MODIFIED if current else TYPE_ADDED
    else:
        op.event_type = TYPE_DELETED
        op.current_rev = current
        op.text = op.current_text = _value_at(conn, current)
    cursor = conn.execute("INSERT INTO events(type, key, value, ts) VALUES (?, ?, ?, ?)",
                          (op.event_type, op.key, op.text, now))
    op.revision = revision = cursor.lastrowid or 0
    if op.event_type == TYPE_DELETED:
        conn.execute("DELETE FROM objects WHERE key = ?", (op.key,))
    elif current:
        conn.execute("UPDATE objects SET rev = ? WHERE key = ?", (revision, op.key))
    else:
        conn.execute("INSERT INTO objects(key, rev) VALUES (?, ?)", (op.key, revision))
    op.outcome = OK


def _value_at(conn: sqlite3.Connection, revision: int) -> str:
    return conn.execute("SELECT value FROM events WHERE rev = ?", (revision,)).fetchone()[0]


def compact_step(conn: sqlite3.Connection, target: int | None, cutoff_ts: float | None,
                 max_revisions: int) -> bool:
    """One short transaction of compaction; True when nothing is left to do.

    Raises `compact_rev` to `target` (or to the newest change older than `cutoff_ts`), then
    deletes, for the keys changed in the next `max_revisions` revisions not cleaned yet, every
    change superseded by a newer one at or below `compact_rev`, and deletions outright: what
    stays is each key's state as of `compact_rev`, plus everything after it. Safe to run from
    several processes: progress lives in the database.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        meta = dict(conn.execute("SELECT name, value FROM meta"))
        compact_rev = meta.get("compact_rev", 0)
        cleaned = meta.get("compact_cleaned", 0)
        newest = _sequence(conn)
        if cutoff_ts is not None:
            row = conn.execute("SELECT rev FROM events WHERE rev > ? AND ts > ? ORDER BY rev "
                               "LIMIT 1", (compact_rev, cutoff_ts)).fetchone()
            target = max(target or 0, row[0] - 1 if row else newest)
        if target is not None and min(target, newest) > compact_rev:
            compact_rev = min(target, newest)
            conn.execute("UPDATE meta SET value = ? WHERE name = 'compact_rev'", (compact_rev,))
        upto = min(compact_rev, cleaned + max_revisions)
        if upto > cleaned:
            conn.execute(
                """DELETE FROM events WHERE rev IN (
                     SELECT e.rev FROM events e
                     WHERE e.key IN (SELECT key FROM events WHERE rev > ? AND rev <= ?)
                       AND e.rev <= ?
                       AND (e.type = ? OR EXISTS (SELECT 1 FROM events x WHERE x.key = e.key
                                                  AND x.rev > e.rev AND x.rev <= ?)))""",
                (cleaned, upto, compact_rev, TYPE_DELETED, compact_rev))
            conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('compact_cleaned', ?)",
                         (upto,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return upto >= compact_rev


def _sequence(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return row[0] if row else 0


class GroupCommitter:
    """Queues writes from greenlets and commits them in batches on the writer thread.

    `on_commit(ops)` runs in the hub after each committed batch, before any caller wakes, with
    the ops in revision order (the fan-out uses it to deliver local writes at once).
    """

    def __init__(self, path: str, *, synchronous: str, max_batch: int,
                 on_commit: Callable[[list[WriteOp]], None]):
        self._path = path
        self._synchronous = synchronous
        self._max_batch = max(1, max_batch)
        self._on_commit = on_commit
        self._pool = ThreadPool(1)
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[WriteOp, AsyncResult]] = []
        self._draining = False
        self._closed = False

    def submit(self, op: WriteOp) -> WriteOp:
        """Blocks this greenlet until the op's batch committed (or failed)."""
        if self._closed:
            raise UnavailableError("storage closed")
        waiter = AsyncResult()
        self._pending.append((op, waiter))
        if not self._draining:
            self._draining = True
            gevent.spawn(self._drain)
        return waiter.get()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` on the writer thread, between batches."""
        if self._closed:
            raise UnavailableError("storage closed")
        try:
            return self._pool.apply(self._call, (fn, args))
        except sqlite3.Error as err:
            raise UnavailableError(f"sqlite: {err}") from err

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._pool.apply(self._close_connection)
        self._pool.kill()
        self._fail_pending(UnavailableError("storage closed"))

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._conn is None:
            self._conn = connect(self._path, synchronous=self._synchronous)
        return fn(self._conn, *args)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _drain(self) -> None:
        try:
            while self._pending and not self._closed:
                batch = self._pending[:self._max_batch]
                del self._pending[:self._max_batch]
                ops = [op for op, _ in batch]
                try:
                    self._pool.apply(self._call, (_commit_batch, (ops,)))
                except sqlite3.Error as err:
                    failure = UnavailableError(f"sqlite: {err}")
                    for _, waiter in batch:
                        waiter.set_exception(failure)
                    continue
                except BaseException as err:
                    for _, waiter in batch:
                        waiter.set_exception(err)
                    raise
                try:
                    self._on_commit(ops)
                except Exception:
                    _log.exception("delivering locally committed writes failed")
                for op, waiter in batch:
                    waiter.set(op)
        finally:
            self._draining = False
            if self._closed:
                self._fail_pending(UnavailableError("storage closed"))

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, []
        for _, waiter in pending:
            waiter.set_exception(error)


def _commit_batch(conn: sqlite3.Connection, ops: list[WriteOp]) -> None:
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for op in ops:
            _apply(conn, op, now)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        for op in ops:
            op.outcome = ""
        raise
