"""The SQLite change feed: one poller greenlet per process tails the events table into the
fan-out.

`BEGIN IMMEDIATE` makes revisions commit in order, so polling `rev > position` never skips one.
Each poll first asks `PRAGMA data_version` (about 20 µs) and reads only when some connection
committed. Writes committed by this process are handed over at once by `offer_local` when
they directly follow the feed's position; otherwise the poller is woken to read the gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent
from gevent.event import Event as Signal

from kapisup.storage.fanout import Decoder, Fanout, FeedEntry
from kapisup.storage.sqlite_reader import (
    Reader,
    check_not_compacted,
    compact_revision,
    current_revision,
    events_after,
    events_under,
)
from kapisup.storage.sqlite_schema import prefix_range

POLL_BATCH = 1000
_log = logging.getLogger(__name__)


class SQLiteFeed:
    def __init__(self, reader: Reader, decode: Decoder, event_type: Callable[[int], str], *,
                 poll_interval: float, ring_size: int, queue_limit: int):
        self._reader = reader
        self._decode = decode
        self._event_type = event_type
        self._poll_interval = poll_interval
        self._data_version = reader.data_version()
        with reader.single() as conn:
            position = current_revision(conn)
        self.fanout = Fanout(position, self._replay, ring_size=ring_size,
                             queue_limit=queue_limit)
        self._wake = Signal()
        self._more = False
        self._greenlet = gevent.spawn(self._run)

    def offer_local(self, entries: list[FeedEntry]) -> None:
        """Writes this process just committed, in revision order."""
        if not entries or entries[-1].revision <= self.fanout.position:
            return
        if entries[0].revision <= self.fanout.position + 1:
            self.fanout.publish(entries)
        else:
            self._wake.set()

    def close(self) -> None:
        self._greenlet.kill(block=False)
        self.fanout.close()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            try:
                self.poll()
            except Exception:
                _log.exception("polling the change feed failed; retrying")
                gevent.sleep(min(1.0, self._poll_interval * 10))

    def poll(self) -> None:
        version = self._reader.data_version()
        if version == self._data_version and not self._more:
            return
        self._data_version = version
        fanout = self.fanout
        with self._reader.snapshot() as conn:
            oldest = compact_revision(conn)
            if fanout.position < oldest:
                fanout.reset(current_revision(conn),
                             "the change feed fell behind the compacted history")
                self._more = False
                return
            rows = events_after(conn, fanout.position, POLL_BATCH)
        self._more = len(rows) == POLL_BATCH
        event_type, decode = self._event_type, self._decode
        fanout.publish([FeedEntry(rev, event_type(kind), key, value, decode)
                        for rev, kind, key, value in rows])
        if self._more:
            self._wake.set()

    def _replay(self, prefix: str, after: int, upto: int, limit: int) -> list[FeedEntry]:
        low, high = prefix_range(prefix)
        with self._reader.snapshot() as conn:
            check_not_compacted(conn, after)
            rows = events_under(conn, low, high, after, upto, limit)
        event_type, decode = self._event_type, self._decode
        return [FeedEntry(rev, event_type(kind), key, value, decode)
                for rev, kind, key, value in rows]
