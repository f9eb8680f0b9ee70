"""The etcd change feed: ONE native etcd watch per process over the whole key prefix, fed into
the backend-neutral fan-out (as the SQLite poller feeds it).

The stream starts at the fan-out's position + 1, so nothing is missed between the revision the
feed started at and the stream's creation. When the stream breaks (a member died or
restarted), it is opened again, on any member, from the last revision delivered + 1: watchers
notice nothing. If no member answers for `outage_limit` seconds, every watcher is ended
(WatchClosed) so clients re-list, as they would from kube. If etcd says the feed's next
revision was compacted meanwhile, watchers are ended the same way and the stream restarts at
the compacted revision.

History older than the fan-out's ring comes from a short-lived etcd watch started in the
past. Such a watch has no "caught up" marker, so it watches every key: every etcd revision
from 2 on is the revision of at least one change, so the replay knows it is complete once it
has seen a change at or after the revision it was asked for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent import get_hub
from gevent.event import Event as Signal

from kapisup.storage.etcd_client import EtcdClient, WatchStream, prefix_end, unb64
from kapisup.storage.fanout import Decoder, Fanout, FeedEntry
from kapisup.storage.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    StorageError,
    UnavailableError,
)

_log = logging.getLogger(__name__)
EMPTY_OBJECT = b'{"metadata":{}}'


def entries_of(result: dict[str, Any], to_key: Callable[[bytes], str | None],
               decode: Decoder) -> list[FeedEntry]:
    """The changes of one watch result whose keys `to_key` maps (others are skipped)."""
    entries = []
    for event in result.get("events") or ():
        kv = event["kv"]
        key = to_key(unb64(kv.get("key")))
        if key is None:
            continue
        revision = int(kv["mod_revision"])
        if event.get("type") == "DELETE":
            prev = event.get("prev_kv")
            payload = unb64(prev.get("value")) if prev else EMPTY_OBJECT
            entries.append(FeedEntry(revision, DELETED, key, payload, decode))
        else:
            kind = ADDED if kv.get("create_revision") == kv.get("mod_revision") else MODIFIED
            entries.append(FeedEntry(revision, kind, key, unb64(kv.get("value")), decode))
    return entries


class EtcdFeed:
    def __init__(self, client: EtcdClient, root: bytes, to_key: Callable[[bytes], str | None],
                 from_key: Callable[[str], bytes], decode: Decoder, *, position: int,
                 ring_size: int, queue_limit: int, outage_limit: float = 10.0):
        self._client = client
        self._root = root
        self._to_key = to_key
        self._from_key = from_key
        self._decode = decode
        self._outage_limit = outage_limit
        self.fanout = Fanout(position, self._replay, ring_size=ring_size,
                             queue_limit=queue_limit)
        # while a replay runs (it yields on I/O), live changes wait here: Fanout.watch must
        # see no position change between its replay and registering the watcher
        self._holds = 0
        self._held: list[FeedEntry] = []
        self._stream: WatchStream | None = None
        self.connected = Signal()
        self._greenlet = gevent.spawn(self._run)

    def close(self) -> None:
        self._greenlet.kill(block=False)
        if self._stream is not None:
            self._stream.close()
        self.fanout.close()

    # --- the live stream ---------------------------------------------------------------------

    def _run(self) -> None:
        down_since: float | None = None
        ended = False  # watchers were ended during this outage
        delay = 0.02
        while not self.fanout.closed:
            try:
                stream = self._client.watch(self._root, prefix_end(self._root),
                                            self.fanout.position + 1)
            except StorageError as err:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > self._outage_limit and not ended:
                    _log.warning("etcd watch unavailable; ending watchers: %s", err)
                    self._reset(self.fanout.position, f"etcd is unavailable: {err}")
                    ended = True
                gevent.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            self._stream = stream
            self.connected.set()
            down_since, delay, ended = None, 0.02, False
            try:
                self._follow(stream)
            except StorageError as err:
                _log.info("etcd watch stream lost; reopening from revision %d: %s",
                          self.fanout.position + 1, err)
                down_since = time.monotonic()
            finally:
                self.connected.clear()
                self._stream = None
                stream.close()

    def _follow(self, stream: WatchStream) -> None:
        to_key, decode = self._to_key, self._decode
        while True:
            result = stream.read_result()
            if result.get("canceled"):
                compacted = int(result.get("compact_revision") or 0)
                if compacted:
                    self._reset(compacted - 1, "the etcd watch fell behind the compacted "
                                                f"history (compacted at {compacted})")
                    return
                raise UnavailableError(f"etcd cancelled the watch: "
                                       f"{result.get('cancel_reason', '')}")
            entries = entries_of(result, to_key, decode)
            if not entries:
                continue
            if self._holds:
                self._held.extend(entries)
            else:
                self.fanout.publish(entries)

    def _reset(self, position: int, reason: str) -> None:
        self._held.clear()
        self.fanout.reset(max(position, self.fanout.position), reason)

    def _flush(self) -> None:
        if self._holds == 0 and self._held:
            held, self._held = self._held, []
            self.fanout.publish(held)

    # --- history -----------------------------------------------------------------------------

    def _replay(self, prefix: str, after: int, upto: int, limit: int) -> list[FeedEntry]:
        wanted = self._from_key(prefix)
        to_key = self._to_key

        def under(key: bytes) -> str | None:
            return to_key(key) if key.startswith(wanted) else None

        self._holds += 1
        stream: WatchStream | None = None
        try:
            stream = self._client.watch(b"\0", b"\0", after + 1)
            timeout = gevent.Timeout(self._client.request_timeout,
                                     UnavailableError("etcd history replay timed out"))
            out: list[FeedEntry] = []
            with timeout:
                while True:
                    result = stream.read_result()
                    if result.get("canceled"):
                        compacted = int(result.get("compact_revision") or 0)
                        if compacted:
                            raise CompactedError(after, compacted - 1)
                        raise UnavailableError("etcd cancelled the history replay")
                    events = result.get("events") or ()
                    if not events:
                        continue
                    for entry in entries_of(result, under, self._decode):
                        if entry.revision > upto:
                            return out
                        out.append(entry)
                        if len(out) == limit:
                            return out
                    if int(events[-1]["kv"]["mod_revision"]) >= upto:
                        return out
        finally:
            if stream is not None:
                stream.close()
            self._holds -= 1
            if self._holds == 0 and self._held:
                # after the caller (Fanout.watch) has registered its watcher
                get_hub().loop.run_callback(self._flush)
