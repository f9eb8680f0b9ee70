"""The read side of the SQLite backend: one connection per process, used inline in the hub.

WAL reads never wait for writers and take well under a millisecond for a get or a page of a
hundred objects (see the storage probe), so they run without a thread hop. A gevent lock keeps
a reader that yields (a list predicate that blocks, say) from sharing the connection's open
snapshot with another greenlet.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from gevent.lock import RLock

from kapisup.storage.interface import CompactedError, UnavailableError
from kapisup.storage.sqlite_schema import connect

# one row of a listing: (key, revision, type or None for the latest state, value)
ListRow = tuple[str, int, int | None, str]
# one row of the change feed: (revision, type, key, value)
EventRow = tuple[int, int, str, str]


class Reader:
    def __init__(self, path: str):
        self._conn = connect(path)
        self._lock = RLock()
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: everything read inside sees the same committed state."""
        with self._lock:
            outer = self._depth == 0
            self._depth += 1
            try:
                if outer:
                    self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    if outer:
                        self._conn.execute("COMMIT")
            except sqlite3.Error as err:
                raise UnavailableError(f"sqlite: {err}") from err
            finally:
                self._depth -= 1

    @contextlib.contextmanager
    def single(self) -> Iterator[sqlite3.Connection]:
        """For one statement, which reads one committed state by itself: no BEGIN/COMMIT
        round trips (the change feed asks for data_version a hundred times a second)."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as err:
                raise UnavailableError(f"sqlite: {err}") from err

    def data_version(self) -> int:
        """Changes whenever another connection (any process) commits: a cheap poll pre-check."""
        with self.single() as conn:
            return conn.execute("PRAGMA data_version").fetchone()[0]

    def get(self, key: str) -> tuple[str, int] | None:
        with self.single() as conn:
            return conn.execute(_GET, (key,)).fetchone()


_GET = ("SELECT e.value, o.rev FROM objects o JOIN events e ON e.rev = o.rev "
        "WHERE o.key = ?")


def current_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return row[0] if row else 0


def compact_revision(conn: sqlite3.Connection) -> int:
    """The oldest revision still answerable by lists and watches."""
    return conn.execute("SELECT value FROM meta WHERE name = 'compact_rev'").fetchone()[0]


def check_not_compacted(conn: sqlite3.Connection, revision: int) -> None:
    """CompactedError when `revision` is older than the history kept."""
    oldest = compact_revision(conn)
    if revision < oldest:
        raise CompactedError(revision, oldest - 1)


def _range_sql(column: str, low: str, high: str | None, start_after: str | None,
               ) -> tuple[str, list[str]]:
    if start_after is not None and start_after >= low:
        sql, args = f"{column} > ?", [start_after]
    else:
        sql, args = f"{column} >= ?", [low]
    if high is not None:
        sql += f" AND {column} < ?"
        args.append(high)
    return sql, args


def list_latest(conn: sqlite3.Connection, low: str, high: str | None, start_after: str | None,
                limit: int) -> list[ListRow]:
    where, args = _range_sql("o.key", low, high, start_after)
    return conn.execute(
        f"SELECT o.key, o.rev, NULL, e.value FROM objects o JOIN events e ON e.rev = o.rev "
        f"WHERE {where} ORDER BY o.key LIMIT ?", (*args, limit)).fetchall()


def list_at(conn: sqlite3.Connection, low: str, high: str | None, start_after: str | None,
            revision: int, limit: int) -> list[ListRow]:
    """Each key's newest change at or below `revision` (DELETED rows included: the caller
    skips them, as the key did not exist then)."""
    where, args = _range_sql("key", low, high, start_after)
    return conn.execute(
        f"SELECT m.key, m.rev, e.type, e.value FROM ("
        f"  SELECT key, MAX(rev) AS rev FROM events WHERE {where} AND rev <= ? "
        f"  GROUP BY key ORDER BY key LIMIT ?) AS m "
        f"JOIN events e ON e.rev = m.rev ORDER BY m.key", (*args, revision, limit)).fetchall()


def changed_since(conn: sqlite3.Connection, low: str, high: str | None, revision: int) -> bool:
    """Whether any key in the range changed after `revision`; if not, the latest state is the
    state at `revision` and the cheaper latest-state queries answer for it."""
    where, args = _range_sql("key", low, high, None)
    return conn.execute(f"SELECT 1 FROM events WHERE rev > ? AND {where} LIMIT 1",
                        (revision, *args)).fetchone() is not None


def count_latest(conn: sqlite3.Connection, low: str, high: str | None,
                 start_after: str | None) -> int:
    where, args = _range_sql("key", low, high, start_after)
    return conn.execute(f"SELECT COUNT(*) FROM objects WHERE {where}", args).fetchone()[0]


def count_at(conn: sqlite3.Connection, low: str, high: str | None, start_after: str | None,
             revision: int, deleted_type: int) -> int:
    where, args = _range_sql("key", low, high, start_after)
    return conn.execute(
        f"SELECT COUNT(*) FROM ("
        f"  SELECT MAX(rev) AS rev FROM events WHERE {where} AND rev <= ? GROUP BY key) AS m "
        f"JOIN events e ON e.rev = m.rev WHERE e.type != ?",
        (*args, revision, deleted_type)).fetchone()[0]


def events_after(conn: sqlite3.Connection, revision: int, limit: int) -> list[EventRow]:
    return conn.execute("SELECT rev, type, key, value FROM events WHERE rev > ? ORDER BY rev "
                        "LIMIT ?", (revision, limit)).fetchall()


def events_under(conn: sqlite3.Connection, low: str, high: str | None, after: int, upto: int,
                 limit: int) -> list[EventRow]:
    where, args = _range_sql("key", low, high, None)
    return conn.execute(
        f"SELECT rev, type, key, value FROM events WHERE rev > ? AND rev <= ? AND {where} "
        f"ORDER BY rev LIMIT ?", (after, upto, *args, limit)).fetchall()
