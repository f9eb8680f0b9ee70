"""Per-process watch fan-out: one ordered change feed in, thousands of watchers out.

A backend feeds `Fanout.publish` every change in revision order (from its poller or its own
commits); the fan-out hands each change to the watchers whose prefix matches, keeps a ring of
recent changes so a watch from a recent revision replays from memory, and asks the backend's
replay source for anything older. Backend-neutral: the etcd backend can reuse it.

Costs: matching a change looks up one dict entry per distinct watched-prefix length (not per
watcher); a change's JSON is decoded once, only if some watcher wants it, and the decoded
Event is shared by all of them (read-only). A watcher's queue is bounded: one that falls
`queue_limit` events behind is closed (WatchClosed) instead of growing without limit.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from gevent import get_hub, getcurrent
from gevent.event import Event as Signal

from kapisup.storage.interface import CompactedError, Event, Object, WatchClosed, Watcher

Decoder = Callable[[Any, int], Object]
REPLAY_CHUNK = 256


class FeedEntry:
    """One change as the feed carries it: the payload is decoded to an Event on first use."""

    __slots__ = ("_decode", "_event", "_payload", "key", "revision", "type")

    def __init__(self, revision: int, type_: str, key: str, payload: Any, decode: Decoder):
        self.revision = revision
        self.type = type_
        self.key = key
        self._payload = payload
        self._decode = decode
        self._event: Event | None = None

    def event(self) -> Event:
        if self._event is None:
            obj = self._decode(self._payload, self.revision)
            self._event = Event(self.type, self.key, obj, self.revision)
            self._payload = None
        return self._event


# (prefix, after, upto, limit) -> entries with after < revision <= upto under prefix, ascending;
# raises CompactedError when `after` is older than the history kept.
ReplaySource = Callable[[str, int, int, int], list[FeedEntry]]


class Fanout:
    def __init__(self, position: int, replay: ReplaySource, *, ring_size: int = 4096,
                 queue_limit: int = 1000):
        self.position = position
        self._replay = replay
        self._ring_size = max(1, ring_size)
        self._queue_limit = max(1, queue_limit)
        self._ring: list[FeedEntry] = []
        self._ring_floor = position  # the ring holds every change in (floor, position]
        self._index: dict[str, dict[_FanoutWatcher, None]] = {}
        # one wake-up per prefix and delivery, shared by that prefix's waiting watchers: one
        # hub callback wakes them all, instead of one callback per watcher per change
        self._ticks: dict[str, Signal] = {}
        self._length_counts: Counter[int] = Counter()
        self._lengths: list[int] = []
        self.closed = False

    # --- the feed side -----------------------------------------------------------------------

    def publish(self, entries: Iterable[FeedEntry]) -> None:
        """Deliver changes in revision order; those at or below `position` were seen already."""
        ring = self._ring
        for entry in entries:
            if entry.revision <= self.position:
                continue
            self._deliver(entry)
            ring.append(entry)
            self.position = entry.revision
        if len(ring) > 2 * self._ring_size:
            drop = len(ring) - self._ring_size
            self._ring_floor = ring[drop - 1].revision
            del ring[:drop]

    def reset(self, position: int, reason: str) -> None:
        """The feed lost continuity (history it had not read was compacted away): every watcher
        must start over, and the ring no longer connects to what follows."""
        self._close_all(reason)
        self._ring.clear()
        self.position = self._ring_floor = position

    def close(self, reason: str = "storage closed") -> None:
        self.closed = True
        self._close_all(reason)

    def _deliver(self, entry: FeedEntry) -> None:
        key = entry.key
        size = len(key)
        for length in self._lengths:
            if length > size:
                break
            prefix = key[:length]
            watchers = self._index.get(prefix)
            if watchers:
                for watcher in tuple(watchers):
                    watcher._push(entry)
                tick = self._ticks.pop(prefix, None)
                if tick is not None:
                    tick.set()

    def _close_all(self, reason: str) -> None:
        for watchers in list(self._index.values()):
            for watcher in tuple(watchers):
                watcher._close(reason, self.position)
        self._index.clear()
        self._length_counts.clear()
        self._lengths = []

    # --- the watcher side --------------------------------------------------------------------

    def watch(self, prefix: str, after: int) -> Watcher:
        """A watcher for changes under `prefix` after revision `after`. Runs without yielding,
        so no change can slip between the replayed history and the live stream."""
        if self.closed:
            raise WatchClosed("storage closed")
        watcher = _FanoutWatcher(self, prefix, max(after, self.position), self._queue_limit)
        if after < self.position:
            if after >= self._ring_floor:
                start = bisect.bisect_right(self._ring, after, key=_revision_of)
                watcher._replay.extend(
                    e for e in self._ring[start:] if e.key.startswith(prefix))
            else:
                # validate now so a too-old revision fails the watch call itself
                watcher._replay.extend(self._replay(prefix, after, self.position, REPLAY_CHUNK))
                watcher._db_cursor = (watcher._replay[-1].revision
                                      if len(watcher._replay) == REPLAY_CHUNK else self.position)
                watcher._db_end = self.position
        self._index.setdefault(prefix, {})[watcher] = None
        size = len(prefix)
        self._length_counts[size] += 1
        if self._length_counts[size] == 1:
            bisect.insort(self._lengths, size)
        return watcher

    def _tick(self, prefix: str) -> Signal:
        tick = self._ticks.get(prefix)
        if tick is None:
            tick = self._ticks[prefix] = Signal()
        return tick

    def _remove(self, watcher: _FanoutWatcher) -> None:
        watchers = self._index.get(watcher.prefix)
        if watchers is None or watchers.pop(watcher, 0) == 0:
            return
        if not watchers:
            del self._index[watcher.prefix]
            self._ticks.pop(watcher.prefix, None)
        size = len(watcher.prefix)
        self._length_counts[size] -= 1
        if self._length_counts[size] == 0:
            del self._length_counts[size]
            self._lengths.remove(size)


class _Interrupt(Exception):
    """Thrown into one parked watcher (stopped or closed), leaving its siblings asleep."""


def _revision_of(entry: FeedEntry) -> int:
    return entry.revision


class _FanoutWatcher(Watcher):
    """Replay (ring copy, then lazily fetched older history), then the live queue."""

    def __init__(self, fanout: Fanout, prefix: str, after: int, queue_limit: int):
        self._fanout = fanout
        self.prefix = prefix
        self._after = after  # live changes at or below this are covered by the replay
        self._limit = queue_limit
        self._replay: deque[FeedEntry] = deque()
        self._db_cursor = 0
        self._db_end = 0
        self._queue: deque[FeedEntry] = deque()
        self._waiting: Any = None  # the greenlet parked in next(), if any
        self._closed: str | None = None
        self._closed_at = 0
        self._stopped = False

    def __hash__(self) -> int:
        return id(self)

    @property
    def revision(self) -> int:
        if self._replay:
            return self._replay[0].revision - 1
        if self._db_cursor < self._db_end:
            return self._db_cursor
        if self._queue:
            return self._queue[0].revision - 1
        if self._closed is not None:
            return self._closed_at
        return max(self._after, self._fanout.position)

    def next(self, timeout: float | None = None) -> Event | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._stopped:
                raise WatchClosed("watch stopped")
            entry = self._take()
            if entry is not None:
                return entry.event()
            if self._closed is not None:
                raise WatchClosed(self._closed)
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            tick = self._fanout._tick(self.prefix)
            self._waiting = getcurrent()
            try:
                woke = tick.wait(wait)
            except _Interrupt:
                woke = True
            finally:
                self._waiting = None
            if not woke:
                return None

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._fanout._remove(self)
            self._replay.clear()
            self._queue.clear()
            self._interrupt()

    def _interrupt(self) -> None:
        parked = self._waiting
        if parked is not None and parked is not getcurrent():
            get_hub().loop.run_callback(self._throw_into, parked)

    def _throw_into(self, parked: Any) -> None:
        if self._waiting is parked:
            parked.throw(_Interrupt)

    def _take(self) -> FeedEntry | None:
        if not self._replay and self._db_cursor < self._db_end:
            self._fetch_history()
        if self._replay:
            return self._replay.popleft()
        if self._queue:
            return self._queue.popleft()
        return None

    def _fetch_history(self) -> None:
        try:
            chunk = self._fanout._replay(self.prefix, self._db_cursor, self._db_end,
                                         REPLAY_CHUNK)
        except CompactedError as err:
            self._db_end = self._db_cursor
            self._close(f"history needed by this watch was compacted: {err}", self._db_cursor)
            self._queue.clear()
            return
        self._replay.extend(chunk)
        self._db_cursor = chunk[-1].revision if len(chunk) == REPLAY_CHUNK else self._db_end

    def _push(self, entry: FeedEntry) -> None:
        if entry.revision <= self._after or self._closed is not None:
            return
        if len(self._queue) >= self._limit:
            self._close(f"watcher fell more than {self._limit} events behind",
                        entry.revision - 1)
            return
        self._queue.append(entry)  # Fanout._deliver wakes the prefix's waiters once

    def _close(self, reason: str, consistent_up_to: int) -> None:
        if self._closed is None:
            self._closed = reason
            self._closed_at = consistent_up_to
            self._fanout._remove(self)
            self._interrupt()
