"""A small etcd v3 client over etcd's JSON gateway (`/v3/...`), made for gevent workers.

Why not a library: the storage probe (docs/storage-etcd.md) measured raw `http.client` on the
gateway at the lowest client CPU per operation, cooperative with no init step, and the only
way that keeps every header revision and turns a compacted watch into an error. Sockets come
from `gevent.socket`/`gevent.ssl` explicitly, so the client is cooperative whether or not the
process is monkey-patched; connections are made lazily, so a client built before a fork holds
none (build it after the fork anyway).

Failover: requests go to the member that last answered; a connection failure, or an etcd
answer saying the cluster has no leader right now, moves on to the next member (bounded by a
deadline). A write whose request may have reached a member is never sent twice (its outcome
is unknown, as with any etcd client): it fails with UnavailableError.

Wire facts: keys and values are base64, int64 fields are JSON strings, enum and zero values
are omitted (an event without `type` is a PUT).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent import socket as gsocket
from gevent import ssl as gssl

from kapisup.storage.interface import StorageError, StorageTimeoutError, UnavailableError

CONNECT_TIMEOUT = 2.0
UNREACHABLE_BUDGET = 2.0  # how long to keep trying when no member accepts a connection
DOWN_MEMORY = 1.0  # after such a failure, calls for this long fail after one round of tries
REQUEST_TIMEOUT = 10.0
POOL_SIZE = 16

# etcd answers that mean "try again, maybe elsewhere"; nothing was applied
_NOT_APPLIED = ("no leader", "not capable", "too many requests", "there is no address available",
                "there is no connection available", "leader changed")
# the request may have been applied: fine to repeat a read, never a write
_UNKNOWN_OUTCOME = ("request timed out", "timed out, waiting for the applied index",
                    "request cancelled")
_STALE_SOCKET = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                 http.client.BadStatusLine)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix` (etcd's WithPrefix)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key


class EtcdError(StorageError):
    """etcd refused a request; `code` is the gRPC status code."""

    def __init__(self, message: str, code: int = 0):
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def compacted(self) -> bool:
        return "required revision has been compacted" in self.message

    @property
    def future_revision(self) -> bool:
        return "required revision is a future revision" in self.message


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    https: bool
    host: str
    port: int


def parse_endpoint(url: str) -> Endpoint:
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"etcd endpoint {url!r}: expected http(s)://host:port")
    https = parts.scheme == "https"
    return Endpoint(url.rstrip("/"), https, parts.hostname, parts.port or 2379)


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = gsocket.create_connection((self.host, self.port),
                                              min(CONNECT_TIMEOUT, self.timeout))
        self.sock.settimeout(self.timeout)
        self.sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)


class _TLSConnection(_Connection):
    def __init__(self, host: str, port: int, timeout: float, context: Any):
        super().__init__(host, port, timeout=timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


class _Retry(Exception):
    """This member cannot answer now; another may."""


class _Unreachable(_Retry):
    """This member accepts no connection (down, or the TLS handshake failed)."""


def tls_context(ca_file: str = "", cert_file: str = "", key_file: str = "") -> Any:
    """The client TLS context: the cluster's CA (else the system's) and our client cert."""
    # gevent's own SSLContext: `create_default_context` would give the stdlib's, whose
    # sockets block the whole process unless it is monkey-patched
    context = gssl.SSLContext(gssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = gssl.TLSVersion.TLSv1_2
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    else:
        context.load_default_certs()
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context


class EtcdClient:
    def __init__(self, endpoints: list[str], *, ca_file: str = "", cert_file: str = "",
                 key_file: str = "", request_timeout: float = REQUEST_TIMEOUT,
                 pool_size: int = POOL_SIZE):
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = [parse_endpoint(url) for url in endpoints]
        self.request_timeout = request_timeout
        self._pool_size = pool_size
        self._tls = None
        if any(e.https for e in self.endpoints) or cert_file:
            self._tls = tls_context(ca_file, cert_file, key_file)
        self._current = 0
        self._down_at = float("-inf")  # when a call last found no member accepting
        self._idle: dict[int, list[_Connection]] = {i: [] for i in range(len(self.endpoints))}
        self._closed = False

    # --- connections -------------------------------------------------------------------------

    def _connect(self, index: int, timeout: float) -> _Connection:
        endpoint = self.endpoints[index]
        if endpoint.https:
            return _TLSConnection(endpoint.host, endpoint.port, timeout, self._tls)
        return _Connection(endpoint.host, endpoint.port, timeout=timeout)

    def _take(self, index: int) -> tuple[_Connection, bool]:
        idle = self._idle[index]
        if idle:
            return idle.pop(), True
        return self._connect(index, self.request_timeout), False

    def _give_back(self, index: int, conn: _Connection) -> None:
        if self._closed or len(self._idle[index]) >= self._pool_size:
            conn.close()
        else:
            self._idle[index].append(conn)

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
            idle.clear()

    # --- requests ----------------------------------------------------------------------------

    def call(self, path: str, body: dict[str, Any], *, write: bool = False) -> dict[str, Any]:
        """POST one gateway request with failover; the decoded answer.

        Raises EtcdError for an answer etcd gave, UnavailableError when no member answered in
        time (or a write's outcome is unknown).
        """
        if self._closed:
            raise UnavailableError("etcd client closed")
        payload = json.dumps(body, separators=(",", ":")).encode()
        start = time.monotonic()
        deadline = start + self.request_timeout
        # a cluster found dead a moment ago gets one round of connection attempts, not the
        # whole budget: during an outage every request fails at once instead of holding a
        # greenlet (and its client) for seconds
        budget = 0.0 if start - self._down_at < DOWN_MEMORY else UNREACHABLE_BUDGET
        last: str = "no member tried"
        delay = 0.01
        unreachable = 0  # members in a row that refused a connection
        for attempt in range(64):  # bounded; the deadline normally ends it first
            index = self._current
            try:
                answer = self._once(index, path, payload, write)
                self._down_at = float("-inf")
                return answer
            except _Unreachable as retry:
                last = f"{self.endpoints[index].url}: {retry}"
                unreachable += 1
            except _Retry as retry:
                last = f"{self.endpoints[index].url}: {retry}"
                unreachable = 0
            if self._current == index:
                self._current = (index + 1) % len(self.endpoints)
            now = time.monotonic()
            if now >= deadline:
                raise StorageTimeoutError(f"etcd did not answer within "
                                          f"{self.request_timeout:g}s: {last}")
            # no member accepts connections: give a restarting member a moment, then fail
            # (a dead cluster must answer 503 promptly, not after the request timeout)
            if unreachable >= len(self.endpoints) and now - start >= budget:
                self._down_at = now
                break
            if attempt % len(self.endpoints) == len(self.endpoints) - 1:
                gevent.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.5)
        raise UnavailableError(f"etcd did not answer: {last}")

    def _once(self, index: int, path: str, payload: bytes, write: bool) -> dict[str, Any]:
        conn, reused = self._take(index)
        sent = False
        try:
            try:
                if conn.sock is None:
                    conn.connect()
            except OSError as err:
                raise _Unreachable(f"cannot connect: {err}") from None
            try:
                conn.request("POST", path, payload, {"Content-Type": "application/json"})
                sent = True
                response = conn.getresponse()
                data = response.read()
            except _STALE_SOCKET as err:
                # a kept-alive socket the member closed (it restarted or died): the request
                # never reached a live process, so any member may take it
                if reused or not sent:
                    raise _Retry(f"connection lost: {err!r}") from None
                raise self._unknown(write, err) from None
            except (OSError, http.client.HTTPException) as err:
                raise self._unknown(write, err) from None
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self._give_back(index, conn)
        return self._decode(response.status, data, write)

    def _unknown(self, write: bool, err: BaseException) -> Exception:
        if write:
            kind = StorageTimeoutError if isinstance(err, TimeoutError) else UnavailableError
            return kind(f"etcd write outcome unknown: {err!r}")
        return _Retry(f"{err!r}")

    def _decode(self, status: int, data: bytes, write: bool) -> dict[str, Any]:
        try:
            answer = json.loads(data) if data else {}
        except ValueError:
            raise _Retry(f"HTTP {status}: {data[:200]!r}") from None
        if status == 200 and "error" not in answer:
            return answer
        message = str(answer.get("error") or answer.get("message") or f"HTTP {status}")
        if any(text in message for text in _NOT_APPLIED):
            raise _Retry(message)
        if any(text in message for text in _UNKNOWN_OUTCOME):
            if write:
                raise StorageTimeoutError(f"etcd write outcome unknown: {message}")
            raise _Retry(message)
        if status >= 500 and answer.get("code") in (14, None):  # Unavailable
            raise _Retry(message)
        raise EtcdError(message, int(answer.get("code") or 0))

    # --- kv ----------------------------------------------------------------------------------

    def range(self, key: bytes, range_end: bytes | None = None, *, revision: int = 0,
              limit: int = 0, count_only: bool = False, keys_only: bool = False
              ) -> dict[str, Any]:
        body: dict[str, Any] = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if revision:
            body["revision"] = str(revision)
        if limit:
            body["limit"] = str(limit)
        if count_only:
            body["count_only"] = True
        if keys_only:
            body["keys_only"] = True
        return self.call("/v3/kv/range", body)

    def put(self, key: bytes, value: bytes) -> dict[str, Any]:
        return self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)}, write=True)

    def txn(self, compare: list[dict[str, Any]], success: list[dict[str, Any]],
            failure: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("/v3/kv/txn", {"compare": compare, "success": success,
                                         "failure": failure}, write=True)

    def delete_range(self, key: bytes, range_end: bytes | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"key": b64(key), "prev_kv": True}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        return self.call("/v3/kv/deleterange", body, write=True)

    def compact(self, revision: int) -> None:
        self.call("/v3/kv/compaction", {"revision": str(revision)}, write=True)

    def status(self) -> dict[str, Any]:
        return self.call("/v3/maintenance/status", {})

    def current_revision(self) -> int:
        """The cluster's revision, read linearizably (so it also proves a leader exists)."""
        return header_revision(self.range(b"\0", count_only=True))

    # --- watch -------------------------------------------------------------------------------

    def watch(self, key: bytes, range_end: bytes, start_revision: int, *,
              prev_kv: bool = True) -> WatchStream:
        """Open a streaming watch on some member (failover as for reads)."""
        body = {"create_request": {"key": b64(key), "range_end": b64(range_end),
                                   "start_revision": str(start_revision),
                                   "prev_kv": prev_kv}}
        payload = json.dumps(body).encode()
        deadline = time.monotonic() + self.request_timeout
        last = "no member tried"
        for attempt in range(64):
            index = self._current
            conn = self._connect(index, self.request_timeout)
            try:
                conn.request("POST", "/v3/watch", payload, {"Content-Type": "application/json"})
                response = conn.getresponse()
                if response.status != 200:
                    raise _Retry(f"HTTP {response.status}: {response.read()[:200]!r}")
                stream = WatchStream(conn, response)
                first = stream.read_result()  # the `created` answer proves the stream works
                if not first.get("created"):
                    stream.pending.append(first)
                stream.wait_forever()
                return stream
            except (_Retry, OSError, http.client.HTTPException, StorageError) as err:
                conn.close()
                last = f"{self.endpoints[index].url}: {err!r}"
            if self._current == index:
                self._current = (index + 1) % len(self.endpoints)
            if time.monotonic() >= deadline:
                break
            if attempt % len(self.endpoints) == len(self.endpoints) - 1:
                gevent.sleep(0.05)
        raise UnavailableError(f"etcd watch could not start: {last}")


def header_revision(answer: dict[str, Any]) -> int:
    return int(answer.get("header", {}).get("revision", 0))


class WatchStream:
    """One `POST /v3/watch`: newline-delimited JSON results, read in order.

    A read blocks until etcd sends something (no timeout: an idle watch sends nothing); a
    dead member shows up as EOF or a socket error, raised as UnavailableError.
    """

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self._conn = conn
        self._response = response
        self.pending: list[dict[str, Any]] = []
        self._reading = False
        self._closed = False

    def wait_forever(self) -> None:
        """Reads no longer time out (an idle watch is silent); TCP keepalive still runs."""
        sock = self._conn.sock
        if sock is not None:
            sock.settimeout(None)
            sock.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_KEEPALIVE, 1)

    def read_result(self) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        if self._closed:
            raise UnavailableError("etcd watch stream closed")
        self._reading = True
        try:
            line = self._response.readline()
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise UnavailableError(f"etcd watch stream lost: {err!r}") from None
        finally:
            self._reading = False
            if self._closed:
                self._conn.close()
        if not line:
            raise UnavailableError("etcd watch stream ended")
        try:
            message = json.loads(line)
        except ValueError:
            raise UnavailableError(f"etcd watch stream sent {line[:200]!r}") from None
        if "error" in message:
            error = message["error"]
            text = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise UnavailableError(f"etcd watch failed: {text}")
        return message.get("result", {})

    def results(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self.read_result()

    def close(self) -> None:
        """Idempotent; a greenlet blocked reading wakes up with UnavailableError."""
        if self._closed:
            return
        self._closed = True
        if not self._reading:
            self._conn.close()
            return
        sock = self._conn.sock
        if sock is not None:  # the reader closes the connection once it returns
            with contextlib.suppress(OSError):
                sock.shutdown(gsocket.SHUT_RDWR)
