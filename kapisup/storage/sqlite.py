"""SQLite as the store: one WAL file shared by every worker process, kube semantics on top.

Construct one `SQLiteStorage` per worker process, after the fork (the master runs
`sqlite_schema.prepare` beforehand). Reads run inline on a per-process connection; writes go
through the group committer's single writer thread; watches hang off one change feed per
process, started by the first watch. Compaction runs in every process at a jittered interval;
the work is shared through the database, so several running it is harmless.

Durability: a write returns only after its COMMIT, and a committed transaction survives kill -9
of any process. With `synchronous="NORMAL"` an OS crash or power loss may roll back the last
commits (the file stays consistent); `synchronous="FULL"` makes every acknowledged write
durable against those too, at about a quarter of the write rate.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import gevent

from kapisup.storage import cas
from kapisup.storage.fanout import FeedEntry
from kapisup.storage.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    KeyExistsError,
    KeyNotFoundError,
    ListResult,
    Object,
    Preconditions,
    RawObject,
    Storage,
    TooLargeRevisionError,
    UnavailableError,
    UpdateFunc,
    Watcher,
)
from kapisup.storage.sqlite_feed import SQLiteFeed
from kapisup.storage.sqlite_reader import (
    Reader,
    changed_since,
    check_not_compacted,
    count_at,
    count_latest,
    current_revision,
    list_at,
    list_latest,
)
from kapisup.storage.sqlite_schema import TYPE_DELETED, prefix_range, prepare
from kapisup.storage.sqlite_writer import (
    CONFLICT,
    CREATE,
    DELETE,
    EXISTS,
    NOT_FOUND,
    OK,
    PUT,
    GroupCommitter,
    WriteOp,
    compact_step,
)

_EVENT_TYPES = (ADDED, MODIFIED, DELETED)
_log = logging.getLogger(__name__)
COMPACT_CHUNK = 2000


def _event_type(stored: int) -> str:
    return _EVENT_TYPES[stored]


encode = cas.stored_json
decode = cas.decode
CODEC = cas.Codec(encode, decode)


def _raw(text: str, revision: int) -> RawObject:
    return text, revision


class SQLiteStorage(Storage):
    def __init__(self, path: str, *, synchronous: str = "NORMAL", history_seconds: float = 300.0,
                 poll_interval: float = 0.01, compact_interval: float | None = 60.0,
                 ring_size: int = 4096, watch_queue_limit: int = 1000, max_batch: int = 256,
                 max_update_attempts: int = 1000):
        prepare(path)
        self.path = path
        self._history_seconds = history_seconds
        self._poll_interval = poll_interval
        self._ring_size = ring_size
        self._watch_queue_limit = watch_queue_limit
        self._max_update_attempts = max_update_attempts
        self._reader = Reader(path)
        self._writer = GroupCommitter(path, synchronous=synchronous, max_batch=max_batch,
                                      on_commit=self._committed)
        self._feed: SQLiteFeed | None = None
        self._closed = False
        self._compactor = (gevent.spawn(self._compact_periodically, compact_interval)
                           if compact_interval else None)

    # --- reads -------------------------------------------------------------------------------

    def get(self, key: str) -> Object:
        row = self._reader.get(key)
        if row is None:
            raise KeyNotFoundError(key)
        return decode(*row)

    def get_raw(self, key: str) -> RawObject:
        row = self._reader.get(key)
        if row is None:
            raise KeyNotFoundError(key)
        return row

    def list_raw(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
                 revision: int | None = None) -> ListResult:
        return self._list(prefix, limit, start_after, revision, None, _raw)

    def current_revision(self) -> int:
        with self._reader.single() as conn:
            return current_revision(conn)

    def count(self, prefix: str) -> int:
        low, high = prefix_range(prefix)
        with self._reader.single() as conn:
            return count_latest(conn, low, high, None)

    def list(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
             revision: int | None = None,
             predicate: Callable[[Object], bool] | None = None) -> ListResult:
        return self._list(prefix, limit, start_after, revision, predicate, decode)

    def _list(self, prefix: str, limit: int, start_after: str | None, revision: int | None,
              predicate: Callable[[Object], bool] | None,
              make: Callable[[str, int], Any]) -> ListResult:
        low, high = prefix_range(prefix)
        limit = max(0, limit)
        chunk = limit + 1 if limit and predicate is None else max(limit + 1, 2000)
        items: list[Object] = []
        last_key = start_after
        more = False
        with self._reader.snapshot() as conn:
            newest = current_revision(conn)
            if revision is not None:
                check_not_compacted(conn, revision)
                if revision > newest:
                    raise TooLargeRevisionError(revision, newest)
            at = newest if revision is None else revision
            latest = revision is None or not changed_since(conn, low, high, revision)
            while True:
                if latest:
                    rows = list_latest(conn, low, high, last_key, chunk)
                else:
                    rows = list_at(conn, low, high, last_key, at, chunk)
                for key, row_rev, kind, value in rows:
                    if limit and len(items) >= limit:
                        more = True
                        break
                    last_key = key
                    if kind == TYPE_DELETED:
                        continue
                    obj = make(value, row_rev)
                    if predicate is None or predicate(obj):
                        items.append(obj)
                if more or len(rows) < chunk:
                    break
            remaining = None
            if more and predicate is None:
                remaining = (count_latest(conn, low, high, last_key) if latest
                             else count_at(conn, low, high, last_key, at, TYPE_DELETED))
        return ListResult(items, at, last_key if more else None, remaining)

    # --- writes ------------------------------------------------------------------------------

    def create(self, key: str, obj: Object) -> Object:
        text = encode(obj)
        op = self._writer.submit(WriteOp(CREATE, key, text))
        if op.outcome == EXISTS:
            raise KeyExistsError(key)
        return decode(text, op.revision)

    def guaranteed_update(self, key: str, try_update: UpdateFunc, *,
                          preconditions: Preconditions | None = None,
                          ignore_not_found: bool = False) -> Object:
        def put(text: str, expected: int) -> cas.Swapped:
            op = self._writer.submit(WriteOp(PUT, key, text, expected))
            if op.outcome == OK:
                return cas.Swapped(True, op.revision)
            lost = (op.current_text, op.current_rev) if op.outcome == CONFLICT else None
            return cas.Swapped(False, current=lost)

        return cas.update(key, self._reader.get(key), try_update, CODEC, put,
                          attempts=self._max_update_attempts, preconditions=preconditions,
                          ignore_not_found=ignore_not_found)

    def delete(self, key: str, *, preconditions: Preconditions | None = None,
               validate: Callable[[Object], None] | None = None) -> Object:
        def remove(expected: int) -> cas.Swapped:
            op = self._writer.submit(WriteOp(DELETE, key, None, expected))
            if op.outcome == OK:
                return cas.Swapped(True, op.revision, previous=op.current_text)
            if op.outcome == NOT_FOUND:
                return cas.Swapped(False)
            return cas.Swapped(False, current=(op.current_text, op.current_rev))

        return cas.delete(key, self._reader.get(key), CODEC, remove,
                          attempts=self._max_update_attempts, preconditions=preconditions,
                          validate=validate)

    def _committed(self, ops: list[WriteOp]) -> None:
        feed = self._feed
        if feed is None:
            return
        entries = [FeedEntry(op.revision, _EVENT_TYPES[op.event_type], op.key, op.text, decode)
                   for op in ops if op.outcome == OK]
        feed.offer_local(entries)

    # --- watch -------------------------------------------------------------------------------

    def watch(self, prefix: str, revision: int) -> Watcher:
        if revision < 0:
            raise ValueError("revision must be >= 0")
        if self._closed:
            raise UnavailableError("storage closed")
        feed = self._ensure_feed()
        with self._reader.snapshot() as conn:
            if revision == 0:
                revision = current_revision(conn)
            else:
                check_not_compacted(conn, revision)
        return feed.fanout.watch(prefix, revision)

    def _ensure_feed(self) -> SQLiteFeed:
        if self._feed is None:
            self._feed = SQLiteFeed(self._reader, decode, _event_type,
                                    poll_interval=self._poll_interval, ring_size=self._ring_size,
                                    queue_limit=self._watch_queue_limit)
        return self._feed

    # --- history -----------------------------------------------------------------------------

    def compact(self, revision: int) -> None:
        self._compact(revision, None)

    def compact_expired(self) -> None:
        """Drop the history older than `history_seconds`."""
        self._compact(None, time.time() - self._history_seconds)

    def _compact(self, target: int | None, cutoff_ts: float | None) -> None:
        # bounded: each step cleans COMPACT_CHUNK revisions, and the work to do is finite
        for _ in range(1_000_000):
            if self._writer.run(compact_step, target, cutoff_ts, COMPACT_CHUNK):
                return
            target, cutoff_ts = None, None

    def _compact_periodically(self, interval: float) -> None:
        while not self._closed:
            gevent.sleep(interval * random.uniform(0.8, 1.2))
            try:
                self.compact_expired()
            except UnavailableError:
                _log.warning("history compaction failed; will retry", exc_info=True)

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            self._compactor.kill(block=False)
        if self._feed is not None:
            self._feed.close()
        self._writer.close()
        self._reader.close()
