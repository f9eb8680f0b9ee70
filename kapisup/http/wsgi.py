"""WSGI plumbing shared by every connection: cached wire strings and the ``wsgi.input`` stream.

Everything here is precomputed or cached because it runs once per request on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kapisup.http.connection import Request


class BodyReadError(OSError):
    """The request body could not be read (peer gone, stalled, or malformed chunked framing)."""


# --- status lines --------------------------------------------------------------------------

_status_cache: dict[tuple[bool, str], tuple[str, int]] = {}


def status_line(http11: bool, status: str) -> tuple[str, int]:
    """Return ("HTTP/1.x NNN Reason\\r\\n", NNN); cached: apps reuse a handful of statuses."""
    try:
        return _status_cache[(http11, status)]
    except (KeyError, TypeError):
        pass
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be str, got {type(status).__name__}")
    code_s = status[:3]
    if len(status) < 4 or status[3] != " " or not code_s.isdigit():
        if len(status) == 3 and code_s.isdigit():
            status = status + " "
        else:
            raise ValueError(f"invalid WSGI status {status!r}")
    if "\r" in status or "\n" in status:
        raise ValueError("status contains a line break")
    entry = (("HTTP/1.1 " if http11 else "HTTP/1.0 ") + status + "\r\n", int(code_s))
    if len(_status_cache) < 512:
        _status_cache[(http11, status)] = entry
    return entry


for _s in HTTPStatus:
    for _v in (True, False):
        status_line(_v, f"{_s.value} {_s.phrase}")


# --- Date header ---------------------------------------------------------------------------

DATE_STATE: list = [0, ""]


def date_line() -> str:
    """The "Date: ...\\r\\n" header line, formatted at most once per second."""
    now = int(time.time())
    if now != DATE_STATE[0]:
        DATE_STATE[0] = now
        DATE_STATE[1] = "Date: " + formatdate(now, usegmt=True) + "\r\n"
    return DATE_STATE[1]


# --- header name → environ key -------------------------------------------------------------

HEADER_KEYS: dict[bytes, str] = {}


def environ_key(name: bytes) -> str:
    """Map a request header name to its CGI environ key; "" means drop the header.

    Names with "_" are dropped (as Go and nginx do): "X_Remote_User" would otherwise collide
    with "X-Remote-User" after CGI mangling and let a client spoof a proxy's header.
    """
    key = HEADER_KEYS.get(name)
    if key is not None:
        return key
    text = name.decode("latin-1").upper()
    if "_" in text:
        key = ""
    elif text == "CONTENT-TYPE":
        key = "CONTENT_TYPE"
    elif text == "CONTENT-LENGTH":
        key = "CONTENT_LENGTH"
    else:
        key = "HTTP_" + text.replace("-", "_")
    if len(HEADER_KEYS) < 2048 and len(name) <= 64:
        HEADER_KEYS[name] = key
    return key


# --- response header name → how the server treats it ------------------------------------

K_PLAIN, K_LENGTH, K_CONNECTION, K_HOP, K_DATE = range(5)
_KINDS = {
    "content-length": K_LENGTH,
    "connection": K_CONNECTION,
    "transfer-encoding": K_HOP,
    "keep-alive": K_HOP,
    "date": K_DATE,
}
HEADER_KINDS: dict[str, int] = {}


def header_kind(name: str) -> int:
    """Classify a response header name once per spelling (lower() per header adds up)."""
    kind = _KINDS.get(name.lower(), K_PLAIN)
    if len(HEADER_KINDS) < 2048 and len(name) <= 64:
        HEADER_KINDS[name] = kind
    return kind


# --- canned server responses ---------------------------------------------------------------


def error_response(code: int, message: str) -> bytes:
    """A complete plain-text response that closes the connection (server-generated errors)."""
    phrase = HTTPStatus(code).phrase
    body = (message or phrase).encode("latin-1", "replace") + b"\n"
    head = (
        f"HTTP/1.1 {code} {phrase}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        f"{date_line()}\r\n"
    )
    return head.encode("latin-1") + body


CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"


# --- wsgi.input ----------------------------------------------------------------------------


class BodySource(Protocol):
    def pull_body(self, req: Request) -> None: ...


class RequestBody:
    """``wsgi.input``: the request body, pulled from the socket only as the app reads it.

    Reading on demand is what makes ``Expect: 100-continue`` work (the interim response is sent
    on the first read) and keeps a pipelining client from making us buffer unbounded input.
    """

    __slots__ = ("_conn", "_req")

    def __init__(self, conn: BodySource, req: Request):
        self._conn = conn
        self._req = req

    def _fill(self, want: int) -> bytearray:
        """Pull until ``want`` bytes are buffered (or the body ends); return the buffer."""
        req = self._req
        buf = req.body
        while (want < 0 or len(buf) < want) and not req.complete:
            self._conn.pull_body(req)
        return buf

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            buf = self._fill(-1)
            data = bytes(buf)
            buf.clear()
            return data
        if size == 0:
            return b""
        buf = self._fill(size)
        data = bytes(buf[:size])
        del buf[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        req = self._req
        buf = req.body
        limit = -1 if size is None else size
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl >= 0:
                end = nl + 1
                break
            if 0 <= limit <= len(buf) or req.complete:
                end = len(buf)
                break
            start = len(buf)
            self._conn.pull_body(req)
        if 0 <= limit < end:
            end = limit
        data = bytes(buf[:end])
        del buf[:end]
        return data

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class EmptyBody:
    """``wsgi.input`` for requests without a body: one shared, stateless instance."""

    __slots__ = ()

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


EMPTY_BODY = EmptyBody()
