"""etcd v3 as the store, with kube-apiserver's layout and semantics (docs/storage-etcd.md).

Keys: the registry names objects `/registry/<resource>/<ns>/<name>`; the `/registry` head is
replaced by `--etcd-prefix`, so with the default prefix the etcd keys are exactly kube's.
Values: compact JSON without `metadata.resourceVersion`; an object's resourceVersion is its
key's etcd `mod_revision`, a list's is the range's header revision.

Writes are single transactions: create compares `create_revision == 0`, an update or delete
compares `mod_revision` with the version read and, when it lost a race, gets the current value
from the transaction's failure branch, so a retry costs no extra read.

One `EtcdStorage` per worker process, built after the fork. Watches share one native etcd
watch per process (etcd_feed). Compaction is kube's compactor: every `compact_interval`
seconds each instance tries a compare-and-swap on `compact_rev_key`; the one that wins
compacts to the revision seen one interval earlier, so history lives 1-2 intervals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gevent

from kapisup.storage import cas
from kapisup.storage.etcd_client import (
    EtcdClient,
    EtcdError,
    b64,
    header_revision,
    prefix_end,
    unb64,
)
from kapisup.storage.etcd_feed import EtcdFeed
from kapisup.storage.interface import (
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    ListResult,
    Object,
    Preconditions,
    RawObject,
    Storage,
    StorageError,
    TooLargeRevisionError,
    UnavailableError,
    UpdateFunc,
    Watcher,
)

REGISTRY = "/registry"
COMPACT_REV_KEY = b"compact_rev_key"  # kube's key, outside any prefix: compaction is global
LIST_CHUNK = 500
_log = logging.getLogger(__name__)


def encode(obj: Object) -> bytes:
    return cas.stored_json(obj).encode()


decode = cas.decode
CODEC = cas.Codec(encode, decode)


def _raw(value: bytes, revision: int) -> RawObject:
    return value.decode(), revision


def _range_kv(answer: dict[str, Any]) -> tuple[bytes, int] | None:
    """The (value, mod_revision) of a txn's failure-branch range, None if the key is gone."""
    kvs = answer["responses"][0]["response_range"].get("kvs") or ()
    if not kvs:
        return None
    return unb64(kvs[0].get("value")), int(kvs[0]["mod_revision"])


class EtcdStorage(Storage):
    def __init__(self, endpoints: list[str], *, prefix: str = REGISTRY, ca_file: str = "",
                 cert_file: str = "", key_file: str = "",
                 compact_interval: float | None = 300.0, ring_size: int = 4096,
                 watch_queue_limit: int = 1000, max_update_attempts: int = 1000,
                 request_timeout: float = 10.0, watch_outage_limit: float = 10.0):
        self.client = EtcdClient(list(endpoints), ca_file=ca_file, cert_file=cert_file,
                                 key_file=key_file, request_timeout=request_timeout)
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self._root = (self.prefix + "/").encode()
        self._ring_size = ring_size
        self._watch_queue_limit = watch_queue_limit
        self._max_update_attempts = max_update_attempts
        self._watch_outage_limit = watch_outage_limit
        self._feed: EtcdFeed | None = None
        self._closed = False
        self._compactor = (gevent.spawn(self._compact_periodically, compact_interval)
                           if compact_interval else None)

    # --- keys --------------------------------------------------------------------------------

    def etcd_key(self, key: str) -> bytes:
        """`/registry/configmaps/ns/name` -> `<prefix>/configmaps/ns/name`."""
        if not key.startswith(REGISTRY):
            raise ValueError(f"storage key {key!r} is not under {REGISTRY}")
        return (self.prefix + key[len(REGISTRY):]).encode()

    def registry_key(self, key: bytes) -> str | None:
        if not key.startswith(self._root):
            return None
        return REGISTRY + key[len(self.prefix):].decode()

    # --- reads -------------------------------------------------------------------------------

    def _get(self, key: str) -> tuple[bytes, int] | None:
        kvs = self.client.range(self.etcd_key(key)).get("kvs")
        if not kvs:
            return None
        return unb64(kvs[0].get("value")), int(kvs[0]["mod_revision"])

    def get(self, key: str) -> Object:
        found = self._get(key)
        if found is None:
            raise KeyNotFoundError(key)
        return decode(*found)

    def get_raw(self, key: str) -> RawObject:
        found = self._get(key)
        if found is None:
            raise KeyNotFoundError(key)
        return _raw(*found)

    def current_revision(self) -> int:
        return self.client.current_revision()

    def count(self, prefix: str) -> int:
        low = self.etcd_key(prefix)
        return int(self.client.range(low, prefix_end(low), count_only=True).get("count", 0))

    def list(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
             revision: int | None = None,
             predicate: Callable[[Object], bool] | None = None) -> ListResult:
        return self._list(prefix, limit, start_after, revision, predicate, decode)

    def list_raw(self, prefix: str, *, limit: int = 0, start_after: str | None = None,
                 revision: int | None = None) -> ListResult:
        return self._list(prefix, limit, start_after, revision, None, _raw)

    def _list(self, prefix: str, limit: int, start_after: str | None, revision: int | None,
              predicate: Callable[[Object], bool] | None,
              make: Callable[[bytes, int], Any]) -> ListResult:
        low = self.etcd_key(prefix)
        high = prefix_end(low)
        key = low if start_after is None else self.etcd_key(start_after) + b"\0"
        limit = max(0, limit)
        if not limit:
            chunk = 0 if predicate is None else LIST_CHUNK
        else:
            chunk = limit if predicate is None else max(limit + 1, LIST_CHUNK)
        at = revision or 0
        items: list[Any] = []
        last_key = start_after
        more = False
        remaining = None
        for _ in range(1_000_000):  # bounded: every round moves `key` forward
            answer = self._range_at(key, high, at, chunk)
            at = at or header_revision(answer)
            kvs = answer.get("kvs") or ()
            consumed = 0
            for kv in kvs:
                if limit and len(items) >= limit:
                    more = True
                    break
                consumed += 1
                last_key = self.registry_key(unb64(kv["key"]))
                obj = make(unb64(kv.get("value")), int(kv["mod_revision"]))
                if predicate is None or predicate(obj):
                    items.append(obj)
            if not more and answer.get("more") and limit and len(items) >= limit:
                more = True
            if more:
                if predicate is None:
                    remaining = int(answer.get("count", 0)) - consumed
                break
            if not answer.get("more") or not kvs:
                break
            key = unb64(kvs[-1]["key"]) + b"\0"
        return ListResult(items, at, last_key if more else None, remaining)

    def _range_at(self, key: bytes, end: bytes, revision: int, limit: int) -> dict[str, Any]:
        try:
            return self.client.range(key, end, revision=revision, limit=limit)
        except EtcdError as err:
            raise self._revision_error(err, revision) from None

    def _revision_error(self, err: EtcdError, revision: int) -> StorageError:
        if err.compacted:
            return CompactedError(revision, self._compacted_revision(revision) - 1)
        if err.future_revision:
            return TooLargeRevisionError(revision, self.current_revision())
        return err

    def _compacted_revision(self, fallback: int) -> int:
        """etcd's compacted revision (it says it only to a watch that starts before it)."""
        stream = self.client.watch(COMPACT_REV_KEY, COMPACT_REV_KEY + b"\0", 1, prev_kv=False)
        try:
            with gevent.Timeout(self.client.request_timeout, False):
                for _ in range(100):
                    result = stream.read_result()
                    if result.get("canceled"):
                        return int(result.get("compact_revision") or fallback + 1)
        finally:
            stream.close()
        return fallback + 1

    def _check_not_compacted(self, revision: int) -> None:
        try:
            self.client.range(self._root, count_only=True, revision=revision)
        except EtcdError as err:
            if err.compacted:
                raise self._revision_error(err, revision) from None
            if not err.future_revision:  # a watch may start from a revision not reached yet
                raise

    # --- writes ------------------------------------------------------------------------------

    def create(self, key: str, obj: Object) -> Object:
        value = encode(obj)
        k = b64(self.etcd_key(key))
        answer = self.client.txn(
            [{"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            [{"request_put": {"key": k, "value": b64(value)}}], [{"request_range": {"key": k}}])
        if answer.get("succeeded"):
            return decode(value, header_revision(answer))
        existing = _range_kv(answer)
        if existing is not None and existing[0] == value:
            # our own create, applied by a member that died before answering and then sent
            # again to another one: the stored bytes, the registry's fresh uid and creation
            # time included, are exactly ours, which no other create can produce
            return decode(value, existing[1])
        raise KeyExistsError(key)

    def _swap(self, key: str, expected: int, success: dict[str, Any]) -> dict[str, Any]:
        """One transaction: `success` if the key's mod_revision is still `expected` (0: the
        key is absent), else read the key."""
        k = b64(self.etcd_key(key))
        return self.client.txn(
            [{"key": k, "target": "MOD", "result": "EQUAL", "mod_revision": str(expected)}],
            [success], [{"request_range": {"key": k}}])

    def guaranteed_update(self, key: str, try_update: UpdateFunc, *,
                          preconditions: Preconditions | None = None,
                          ignore_not_found: bool = False) -> Object:
        k = b64(self.etcd_key(key))

        def put(value: bytes, expected: int) -> cas.Swapped:
            answer = self._swap(key, expected, {"request_put": {"key": k, "value": b64(value)}})
            if answer.get("succeeded"):
                return cas.Swapped(True, header_revision(answer))
            # (equal bytes here prove nothing: two updaters may well write the same content)
            return cas.Swapped(False, current=_range_kv(answer))

        return cas.update(key, self._get(key), try_update, CODEC, put,
                          attempts=self._max_update_attempts, preconditions=preconditions,
                          ignore_not_found=ignore_not_found)

    def delete(self, key: str, *, preconditions: Preconditions | None = None,
               validate: Callable[[Object], None] | None = None) -> Object:
        k = b64(self.etcd_key(key))

        def remove(expected: int) -> cas.Swapped:
            answer = self._swap(key, expected,
                                {"request_delete_range": {"key": k, "prev_kv": True}})
            if answer.get("succeeded"):
                deleted = answer["responses"][0].get("response_delete_range", {})
                prev = deleted.get("prev_kvs") or ()
                return cas.Swapped(True, header_revision(answer),
                                   previous=unb64(prev[0].get("value")) if prev else None)
            return cas.Swapped(False, current=_range_kv(answer))

        return cas.delete(key, self._get(key), CODEC, remove,
                          attempts=self._max_update_attempts, preconditions=preconditions,
                          validate=validate)

    # --- watch -------------------------------------------------------------------------------

    def watch(self, prefix: str, revision: int) -> Watcher:
        if revision < 0:
            raise ValueError("revision must be >= 0")
        if self._closed:
            raise UnavailableError("storage closed")
        feed = self._ensure_feed()
        if revision == 0:
            revision = self.current_revision()
        else:
            self._check_not_compacted(revision)
        return feed.fanout.watch(prefix, revision)

    def _ensure_feed(self) -> EtcdFeed:
        if self._feed is None:
            position = self.current_revision()
            if self._feed is None:  # another greenlet may have made it meanwhile
                self._feed = EtcdFeed(self.client, self._root, self.registry_key,
                                      self.etcd_key, decode, position=position,
                                      ring_size=self._ring_size,
                                      queue_limit=self._watch_queue_limit,
                                      outage_limit=self._watch_outage_limit)
        return self._feed

    # --- history -----------------------------------------------------------------------------

    def compact(self, revision: int) -> None:
        try:
            self.client.compact(revision)
        except EtcdError as err:
            if not err.compacted:  # already compacted at or past it: nothing to do
                raise

    def compact_step(self, version: int, revision: int) -> tuple[int, int]:
        """kube's compactor step: (version of compact_rev_key seen, revision to compact to
        next time). Only the instance whose compare-and-swap on the key's version wins
        compacts, so many instances compact once per interval between them."""
        key = b64(COMPACT_REV_KEY)
        answer = self.client.txn(
            [{"key": key, "target": "VERSION", "result": "EQUAL", "version": str(version)}],
            [{"request_put": {"key": key, "value": b64(str(revision).encode())}}],
            [{"request_range": {"key": key}}])
        current = header_revision(answer)
        if not answer.get("succeeded"):
            kvs = answer["responses"][0]["response_range"].get("kvs") or ({},)
            return int(kvs[0].get("version", 0)), current
        if revision:
            self.compact(revision)
        return version + 1, current

    def _compact_periodically(self, interval: float) -> None:
        version, revision = 0, 0
        while not self._closed:
            gevent.sleep(interval)
            try:
                version, revision = self.compact_step(version, revision)
            except StorageError:
                _log.warning("etcd compaction failed; will retry", exc_info=True)

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            self._compactor.kill(block=False)
        if self._feed is not None:
            self._feed.close()
        self.client.close()
