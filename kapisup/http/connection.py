"""One HTTP/1.x connection: httptools parses, the WSGI app runs in this connection's greenlet.

The connection object is the httptools protocol. Parser callbacks only record what arrived
(requests whose headers are complete go on a queue); the app runs after ``feed_data`` returns,
so an app that reads its body can feed the parser again without re-entering it. That keeps
pipelining (several requests in one read, answered in order), ``Expect: 100-continue`` and
chunked bodies on one simple path.

Sockets are raw ``_socket.socket`` objects in non-blocking mode, waited on with the hub's io
watchers directly: gevent's socket wrapper would add a Python layer per call for nothing.
Timeouts are deadlines checked by the server's sweeper, so the hot path starts no timers.
"""

from __future__ import annotations

import _socket
import contextlib
import ssl
from collections import deque
from time import monotonic, time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import gevent
import gevent.event
import httptools
from greenlet import GreenletExit

from kapisup.http.wsgi import (
    CONTINUE_100,
    DATE_STATE,
    EMPTY_BODY,
    HEADER_KEYS,
    HEADER_KINDS,
    K_CONNECTION,
    K_HOP,
    K_LENGTH,
    BodyReadError,
    RequestBody,
    date_line,
    environ_key,
    error_response,
    header_kind,
    status_line,
)

if TYPE_CHECKING:
    from kapisup.http.server import HTTPServer

RECV_SIZE = 65536
_DISCARD_BUDGET = 256 * 1024  # unread request body we skip to keep a connection alive (as Go)
_LINGER_SECONDS = 1.0  # after an error response, read and drop input so our reply is not RST
_LINGER_BYTES = 4 << 20

# response framing modes
_FIXED, _LENGTH, _CHUNKED, _UNTIL_CLOSE, _NONE = range(5)

_METHODS: dict[bytes, str] = {}
_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}


class Deadline(Exception):
    """Thrown into a connection waiting past its deadline (by the server's sweeper)."""


class Closing(Exception):
    """Thrown into an idle keep-alive connection when the server drains."""


class PeerGone(ConnectionError):
    """The client went away (or stopped reading) while we were sending."""


class _Reject(Exception):
    """A request the server answers itself (400/414/431) before closing."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Request:
    """Parser-side state of one request; ``env`` is the WSGI environ being filled in."""

    __slots__ = (
        "body",
        "complete",
        "continued",
        "env",
        "expect",
        "head",
        "http11",
        "keep_alive",
        "options_star",
    )

    def __init__(self, env: dict[str, Any]):
        self.env = env
        self.body: bytearray | None = None
        self.complete = False
        self.expect = False
        self.continued = False
        self.head = False
        self.http11 = True
        self.keep_alive = True
        self.options_star = False


class Connection:
    """A plain-TCP connection; :class:`TLSConnection` swaps the byte I/O for TLS."""

    def __init__(self, server: HTTPServer, sock: _socket.socket, addr: Any, conn_id: int):
        self._server = server
        self._sock = sock
        self._hub = server._hub
        self._app = server.app
        limits = server.limits
        self._max_header = limits.max_header_bytes
        self._max_line = limits.max_request_line_bytes
        self._header_timeout = limits.read_header_timeout
        self._idle_timeout = limits.keepalive_timeout
        loop = self._hub.loop
        fd = sock.fileno()
        self._rw = loop.io(fd, 1)
        self._ww = loop.io(fd, 2)
        # One receive buffer per server, not per connection (64 KiB x 1000 connections adds
        # up): a view into it is consumed by the parser before this greenlet can switch.
        self._buf = server._rbuf
        self._view = server._rview
        # sweeper/drain interface
        self.waiting: Any = None  # the io watcher this greenlet is parked on, if any
        self.deadline = 0.0
        self.idle = False
        self.greenlet: gevent.Greenlet | None = None
        # parser state
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._queue: deque[Request] = deque()
        self._cur: Request | None = None
        self._in_head = False
        self._url = b""
        self._hdr_cb = 0
        self._hdr_raw = 0
        self._began = False
        self._hdr_deadline = 0.0
        self._discarded = 0
        self._overhead = 0  # body-phase bytes that were not body: chunk framing, trailers
        self._max_overhead = max(self._max_header, RECV_SIZE) + 2 * RECV_SIZE
        self._error: _Reject | None = None
        self._broken = False  # the parser cannot go on: answer what is queued, then close
        self._eof = False
        self._linger = False
        # response state (one response at a time)
        self._req: Request | None = None
        self._rstatus: str | None = None
        self._rheaders: list[tuple[str, str]] = []
        self._sent = False
        self._mode = _FIXED
        self._keep = False
        self._remaining = 0
        self._start_response_cb = self._start_response
        self._write_cb = self._write
        if isinstance(addr, tuple):
            host, port = addr[0], str(addr[1])
        else:
            host, port = "", ""
        self.peer = host
        env = server._base_env.copy()
        env["REMOTE_ADDR"] = host
        env["REMOTE_PORT"] = port
        env["kapisup.connection_id"] = conn_id
        # set once the client hangs up while a response streams (see _watch_hangup)
        self._hangup = gevent.event.Event()
        env["kapisup.hangup"] = self._hangup
        self._env = env

    # ---- lifecycle ---------------------------------------------------------------------

    def run(self) -> None:
        """Greenlet body: serve until the connection ends; never raises."""
        try:
            if self._setup():
                self._loop()
                if self._linger:
                    self._linger_close()
        except (Deadline, Closing, PeerGone, BodyReadError, GreenletExit):
            pass
        except OSError as exc:
            self._server.log.debug("http connection error", peer=self.peer, error=str(exc))
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self._server.log.error(
                    "http connection failed", peer=self.peer, error=repr(exc), exc_info=True
                )
        finally:
            self.abort()
            self._server._connection_done(self)

    def _setup(self) -> bool:
        return True

    def abort(self) -> None:
        """Release the socket and watchers (idempotent)."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None  # type: ignore[assignment]
        for w in (self._rw, self._ww):
            try:
                w.stop()
                w.close()
            except Exception:
                pass
        # break the reference cycles through bound methods now rather than at the next GC
        self._parser = None
        self._queue.clear()
        self._req = None
        self._start_response_cb = self._write_cb = None  # type: ignore[assignment]
        self._close_transport(sock)

    def _close_transport(self, sock: _socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.close()

    # ---- byte I/O (plain TCP) ------------------------------------------------------------

    def _wait(self, watcher: Any, deadline: float) -> None:
        self.deadline = deadline
        self.waiting = watcher
        try:
            self._hub.wait(watcher)
        finally:
            self.waiting = None
            self.deadline = 0.0

    def _raw_recv(self, deadline: float, wait_first: bool = False) -> Any:
        """Next bytes from the socket (a view into our buffer; b"" at EOF)."""
        sock = self._sock
        if wait_first:
            self._wait(self._rw, deadline)
        while True:
            try:
                n = sock.recv_into(self._buf)
            except BlockingIOError:
                self._wait(self._rw, deadline)
                continue
            except InterruptedError:
                continue
            except OSError:
                return b""
            return self._view[:n]

    _recv = _raw_recv

    def _raw_sendall(self, data: Any) -> None:
        sock = self._sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise PeerGone(str(exc)) from None
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        while view:
            try:
                self._wait(self._ww, monotonic() + self._idle_timeout)
            except Deadline:
                raise PeerGone("client stopped reading") from None
            try:
                sent = sock.send(view)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise PeerGone(str(exc)) from None
            view = view[sent:]

    _sendall = _raw_sendall

    def _linger_close(self) -> None:
        """Half-close, then drop input for a moment so the client reads our answer, not a RST."""
        try:
            self._sock.shutdown(_socket.SHUT_WR)
        except OSError:
            return
        total = 0
        with gevent.Timeout(_LINGER_SECONDS, False):
            while total < _LINGER_BYTES:
                data = self._raw_recv(0.0, True)
                if not data:
                    break
                total += len(data)

    # ---- httptools protocol --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._cur = Request(self._env.copy())
        self._in_head = True
        self._url = b""
        self._hdr_cb = 0
        self._hdr_raw = 0
        self._began = True
        self._overhead = 0
        self._hdr_deadline = monotonic() + self._header_timeout

    def on_url(self, frag: bytes) -> None:
        url = self._url + frag if self._url else frag
        self._url = url
        if len(url) + 16 > self._max_line:
            raise _Reject(414, "Request-URI Too Long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # chunked trailers: not exposed
        self._hdr_cb += len(name) + len(value) + 4
        if self._hdr_cb > self._max_header:
            raise _Reject(431, "Request Header Fields Too Large")
        key = HEADER_KEYS.get(name)
        if key is None:
            key = environ_key(name)
        if key:
            env = self._cur.env  # type: ignore[union-attr]
            text = value.decode("latin-1")
            old = env.get(key)
            env[key] = text if old is None else old + "," + text

    def on_headers_complete(self) -> None:
        req = self._cur
        assert req is not None
        self._in_head = False
        url = self._url
        if self._hdr_cb + len(url) > self._max_header:
            raise _Reject(431, "Request Header Fields Too Large")
        parser = self._parser
        env = req.env
        raw_method = parser.get_method()  # type: ignore[union-attr]
        method = _METHODS.get(raw_method)
        if method is None:
            method = raw_method.decode("ascii")
            _METHODS[raw_method] = method
        env["REQUEST_METHOD"] = method
        version = parser.get_http_version()  # type: ignore[union-attr]
        env["SERVER_PROTOCOL"] = _PROTOCOLS.get(version) or "HTTP/" + version
        req.http11 = version == "1.1"
        req.keep_alive = parser.should_keep_alive()  # type: ignore[union-attr]
        req.head = method == "HEAD"
        raw = url.decode("latin-1")
        env["RAW_URI"] = raw
        env["REQUEST_URI"] = raw
        if raw[:1] == "/":
            path, _, query = raw.partition("?")
            if "#" in query:
                query = query.partition("#")[0]
        elif raw == "*":
            path = raw
            query = ""
            req.options_star = method == "OPTIONS"
        else:  # absolute-form (proxies): keep only the path and query
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise _Reject(400, "Bad Request: invalid request target") from None
            path = (parsed.path or b"/").decode("latin-1")
            query = (parsed.query or b"").decode("latin-1")
        env["QUERY_STRING"] = query
        if "#" in path:
            path = path.partition("#")[0]
        if "%" in path:
            path = unquote_to_bytes(path.encode("latin-1")).decode("latin-1")
        env["PATH_INFO"] = path
        length = env.get("CONTENT_LENGTH")
        coding = env.get("HTTP_TRANSFER_ENCODING")
        if coding is not None and not coding.rstrip(" \t").lower().endswith("chunked"):
            # RFC 9112 6.3: the body length cannot be known; must be 400 and close
            raise _Reject(400, "Bad Request: unsupported Transfer-Encoding")
        if (length is not None and length != "0") or coding is not None:
            req.body = bytearray()
            env["wsgi.input"] = RequestBody(self, req)
            expect = env.get("HTTP_EXPECT")
            if expect is not None and req.http11 and expect.lower() == "100-continue":
                req.expect = True
        else:
            env["wsgi.input"] = EMPTY_BODY
        self._queue.append(req)

    def on_chunk_header(self) -> None:
        self._overhead -= 64  # a fair allowance for one chunk's size line and CRLFs

    def on_body(self, data: bytes) -> None:
        self._overhead -= len(data)
        body = self._cur.body  # type: ignore[union-attr]
        if body is not None:
            body += data
        else:
            self._discarded += len(data)

    def on_message_complete(self) -> None:
        self._cur.complete = True  # type: ignore[union-attr]
        self._cur = None

    def _feed(self, data: Any) -> None:
        parser = self._parser
        if parser is None or self._error is not None or self._broken:
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Reject):
                self._error = cause
            else:
                self._server.log.error("http parser callback failed", error=repr(cause))
                self._error = _Reject(400, "Bad Request")
            self._parser = None
        except httptools.HttpParserUpgrade:
            # Protocol upgrades are not served: answer what is queued, then close.
            self._broken = True
            self._parser = None
        except httptools.HttpParserError as exc:
            if self._cur is not None and not self._in_head:
                self._broken = True  # bad body framing of a request already being served
            else:
                self._error = _Reject(400, f"Bad Request: {exc}")
            self._parser = None
        else:
            if self._in_head:
                if self._began:
                    self._began = False
                else:
                    self._hdr_raw += len(data)
                    if self._hdr_raw > self._max_header:
                        self._error = _Reject(431, "Request Header Fields Too Large")
                        self._parser = None
            elif self._cur is not None:
                # httptools buffers a trailer field until it ends: bound what is not body
                self._overhead += len(data)
                if self._overhead > self._max_overhead:
                    self._broken = True
                    self._parser = None

    # ---- serving -------------------------------------------------------------------------

    def _loop(self) -> None:
        server = self._server
        queue = self._queue
        first = True
        while True:
            if queue:
                if not self._serve(queue.popleft()) or server._draining:
                    if queue or self._cur is not None:
                        self._linger = True
                    return
                continue
            if self._error is not None:
                self._linger = True
                err = self._error
                try:
                    self._sendall(error_response(err.code, err.message))
                except PeerGone:
                    self._linger = False
                return
            if self._broken or self._eof:
                return
            if self._cur is None:
                # A drain closes keep-alive connections between requests, but a connection
                # accepted just before it still gets its first request served (Go's Shutdown
                # waits on new connections too): closing it would fail a request nobody refused.
                if server._draining and not first:
                    return
                self.idle = not first
                try:
                    if first:
                        data = self._recv(monotonic() + self._header_timeout)
                    else:
                        data = self._recv(monotonic() + self._idle_timeout, True)
                finally:
                    self.idle = False
            else:
                data = self._recv(self._hdr_deadline)
            if not data:
                return
            first = False
            self._feed(data)

    def pull_body(self, req: Request) -> None:
        """Read more of ``req``'s body from the socket (called by ``wsgi.input``)."""
        if req.complete:
            return
        if self._broken or self._eof or self._sock is None:
            raise BodyReadError("request body is incomplete")
        if req.expect and not req.continued:
            req.continued = True
            if not self._sent:
                try:
                    self._sendall(CONTINUE_100)
                except PeerGone:
                    self._eof = True
                    raise BodyReadError("client went away") from None
        try:
            data = self._recv(monotonic() + self._idle_timeout)
        except Deadline:
            self._broken = True
            raise BodyReadError("timed out reading the request body") from None
        if not data:
            self._eof = True
            raise BodyReadError("client closed the connection before the body was complete")
        self._feed(data)
        if self._broken and not req.complete:
            raise BodyReadError("malformed request body")

    def _skip_body(self, req: Request) -> bool:
        """Drop the unread rest of ``req``'s body; False if the connection cannot be reused."""
        req.body = None
        if req.complete:
            return True
        if req.expect and not req.continued:
            return False  # the client may or may not send it: ambiguous, so close
        self._discarded = 0
        while not req.complete:
            if self._discarded > _DISCARD_BUDGET or self._broken or self._eof:
                self._linger = True
                return False
            data = self._recv(monotonic() + self._idle_timeout)
            if not data:
                return False
            self._feed(data)
        return True

    def _serve(self, req: Request) -> bool:
        """Answer one request; True if the connection stays open for the next one."""
        server = self._server
        if req.options_star:
            keep = req.keep_alive and not server._draining
            head = (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                if req.http11
                else ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n")
            )
            if not keep:
                head += "Connection: close\r\n"
            elif not req.http11:
                head += "Connection: keep-alive\r\n"
            self._sendall((head + date_line() + "\r\n").encode("latin-1"))
            server._request_done()
            return keep and self._skip_body(req)
        self._req = req
        self._rstatus = None
        self._sent = False
        self._keep = False
        server._active += 1
        keep = False
        try:
            result = self._app(req.env, self._start_response_cb)
            try:
                if (type(result) is list or type(result) is tuple) and not self._sent:
                    keep = self._send_all_at_once(req, result)
                else:
                    keep = self._send_stream(req, result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except PeerGone:
            keep = False
        except GreenletExit:
            raise
        except BaseException as exc:
            keep = False
            if isinstance(exc, BodyReadError):
                self._server.log.debug("request body read failed", peer=self.peer, error=str(exc))
            else:
                self._server.log.error(
                    "wsgi application error",
                    method=req.env.get("REQUEST_METHOD"),
                    path=req.env.get("PATH_INFO"),
                    exc_info=True,
                )
            if not self._sent and self._sock is not None and not self._eof:
                self._sent = True
                self._linger = True
                try:
                    self._sendall(error_response(500, "Internal Server Error"))
                except PeerGone:
                    self._linger = False
            if not isinstance(exc, Exception | gevent.Timeout):
                raise
        finally:
            server._active -= 1
            self._req = None
            req.env = None  # type: ignore[assignment]  # env -> wsgi.input -> req: a cycle
            server._request_done()
        if keep and not req.complete:
            keep = self._skip_body(req)
        else:
            req.body = None
        return keep

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        if exc_info is not None:
            try:
                if self._sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self._rstatus is not None:
            raise AssertionError("start_response called a second time without exc_info")
        self._rstatus = status
        self._rheaders = headers
        return self._write_cb

    def _head(self, req: Request, length: int | None) -> bytes:
        """Encode the response head and choose the body framing (sets _mode/_keep)."""
        status = self._rstatus
        if status is None:
            raise AssertionError("the application did not call start_response")
        line, code = status_line(req.http11, status)
        parts = [line]
        keep = req.keep_alive
        app_length = None
        has_date = False
        for name, value in self._rheaders:
            kind = HEADER_KINDS.get(name)
            if kind is None:
                kind = header_kind(name)
            if kind:
                if kind == K_LENGTH:
                    app_length = value
                    continue
                if kind == K_CONNECTION:
                    if "close" in value.lower():
                        keep = False
                    continue
                if kind == K_HOP:
                    continue  # hop-by-hop: framing is the server's job
                has_date = True  # K_DATE
            parts.append(f"{name}: {value}\r\n")
        if code < 200 or code == 204 or code == 304:  # never a body (RFC 9110 6.4.1)
            mode = _NONE
            if code == 304 and app_length is not None:
                parts.append(f"Content-Length: {app_length}\r\n")
        elif length is not None:
            mode = _FIXED
            if not req.head:
                parts.append(f"Content-Length: {length}\r\n")
            elif app_length is not None:
                parts.append(f"Content-Length: {app_length}\r\n")
            elif length:
                parts.append(f"Content-Length: {length}\r\n")
        elif req.head:
            mode = _NONE
            if app_length is not None:
                parts.append(f"Content-Length: {app_length}\r\n")
        elif app_length is not None:
            mode = _LENGTH
            self._remaining = int(app_length)
            if self._remaining < 0:
                raise ValueError(f"invalid Content-Length {app_length!r}")
            parts.append(f"Content-Length: {self._remaining}\r\n")
        elif req.http11:
            mode = _CHUNKED
            parts.append("Transfer-Encoding: chunked\r\n")
        else:
            mode = _UNTIL_CLOSE
            keep = False
        if keep and (
            self._server._draining
            or self._broken  # upgrade asked, or bad framing: the parser cannot go on
            or (req.expect and not req.continued and not req.complete)  # body may or may not come
        ):
            keep = False
        if not keep:
            parts.append("Connection: close\r\n")
        elif not req.http11:
            parts.append("Connection: keep-alive\r\n")
        if not has_date:
            parts.append(DATE_STATE[1] if DATE_STATE[0] == int(time()) else date_line())
        parts.append("\r\n")
        head = "".join(parts)
        # one C-level count instead of a per-header check: any CR/LF inside a name or value
        # shows up as an extra line break (header injection)
        lines = len(parts)
        if head.count("\n") != lines or head.count("\r") != lines:
            raise ValueError("response status or header contains a line break")
        self._mode = mode
        self._keep = keep
        return head.encode("latin-1")

    def _send_all_at_once(self, req: Request, result: list[bytes] | tuple[bytes, ...]) -> bool:
        """The fast path: a list body goes out with its head in one send."""
        n = len(result)
        body = result[0] if n == 1 else b"".join(result)
        if type(body) is not bytes:
            body = bytes(body)
        head = self._head(req, len(body))
        self._sent = True
        if req.head or self._mode == _NONE or not body:
            self._sendall(head)
        else:
            self._sendall(head + body)
        return self._keep

    def _frame(self, chunk: bytes) -> bytes:
        mode = self._mode
        if mode == _CHUNKED:
            return b"%x\r\n%b\r\n" % (len(chunk), chunk)
        if mode == _LENGTH:
            if len(chunk) > self._remaining:
                chunk = chunk[: self._remaining]
                self._keep = False
            self._remaining -= len(chunk)
        return chunk

    def _write(self, data: bytes) -> None:
        """The legacy WSGI write() callable: sends at once (streams need it)."""
        req = self._req
        if req is None:
            raise AssertionError("write() called after the response ended")
        if not self._sent:
            head = self._head(req, None)
            self._sent = True
            if data and self._mode != _NONE:
                self._sendall(head + self._frame(data))
            else:
                self._sendall(head)
        elif data and self._mode != _NONE:
            self._sendall(self._frame(data))

    def _watch_hangup(self) -> None:
        """While a body streams, notice the client closing its end, as Go's request context
        does: the app sees `kapisup.hangup` set (a watch ends at once instead of holding its
        socket until its next event fails to send). Bytes from the client instead mean a
        pipelined request; they are only peeked at, and left for the connection."""
        sock = self._sock
        if sock is None:
            return
        watcher = self._hub.loop.io(sock.fileno(), 1)
        try:
            while True:
                self._hub.wait(watcher)
                try:
                    peeked = sock.recv(1, _socket.MSG_PEEK)
                except BlockingIOError:
                    continue
                except OSError:
                    peeked = b""
                if not peeked:
                    self._hangup.set()
                return
        finally:
            watcher.close()

    def _send_stream(self, req: Request, result: Any) -> bool:
        """Iterate the app's body, sending every chunk as soon as it is produced.

        An empty chunk before the head is sent flushes the head: streaming apps (watches)
        yield b"" first so the client sees the status before the first event.
        """
        monitor = None
        try:
            for chunk in result:
                if not self._sent:
                    if not chunk and self._rstatus is None:
                        continue
                    head = self._head(req, None)
                    self._sent = True
                    if self._mode == _NONE:
                        self._sendall(head)
                        return self._keep  # HEAD/204/304: nothing more to send
                    self._sendall(head + self._frame(chunk) if chunk else head)
                    monitor = gevent.spawn(self._watch_hangup)
                elif chunk:
                    self._sendall(self._frame(chunk))
        finally:
            if monitor is not None:
                monitor.kill()
        if not self._sent:
            head = self._head(req, 0)
            self._sent = True
            self._sendall(head)
            return self._keep
        mode = self._mode
        if mode == _CHUNKED:
            self._sendall(b"0\r\n\r\n")
        elif mode == _LENGTH and self._remaining:
            return False  # short body: the client would wait for the rest
        elif mode == _UNTIL_CLOSE:
            return False
        return self._keep


class TLSConnection(Connection):
    """TLS over memory BIOs, so the same watcher-based I/O serves plain and TLS sockets."""

    def __init__(self, server: HTTPServer, sock: _socket.socket, addr: Any, conn_id: int):
        super().__init__(server, sock, addr, conn_id)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = server.ssl_context.wrap_bio(  # type: ignore[union-attr]
            self._incoming, self._outgoing, server_side=True
        )
        self._handshaken = False

    def _setup(self) -> bool:
        try:
            with gevent.Timeout(self._server.limits.tls_handshake_timeout):
                self._handshake()
        except gevent.Timeout:
            self._server.log.debug("tls handshake timed out", peer=self.peer)
            return False
        except (ssl.SSLError, OSError, PeerGone) as exc:
            self._server.log.debug("tls handshake failed", peer=self.peer, error=str(exc))
            return False
        self._handshaken = True
        # The leaf as DER, unjudged: the context accepts any client certificate and the x509
        # authenticator verifies it (the dict form would say nothing about trust). One bytes
        # object per connection, shared by its requests' environs.
        self._env["kapisup.peer_cert"] = self._tls.getpeercert(binary_form=True) or None
        return True

    def _handshake(self) -> None:
        tls = self._tls
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                data = self._raw_recv(0.0)
                if not data:
                    raise ConnectionResetError("client closed during the TLS handshake") from None
                self._incoming.write(data)
        self._flush()

    def _flush(self) -> None:
        out = self._outgoing
        if out.pending:
            self._raw_sendall(out.read())

    def _recv(self, deadline: float, wait_first: bool = False) -> Any:
        tls, incoming = self._tls, self._incoming
        while True:
            if not incoming.pending and not incoming.eof and not tls.pending():
                # Nothing buffered on either side of OpenSSL, so SSL_read could only raise
                # SSLWantReadError, which costs about as much as decrypting the request and
                # would be paid by every request of a keep-alive connection: wait for bytes.
                self._fill(deadline, wait_first)
                wait_first = False
            try:
                data = tls.read(RECV_SIZE)
            except ssl.SSLWantReadError:  # a partial record
                self._fill(deadline, wait_first)
                wait_first = False
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError as exc:
                self._server.log.debug("tls read failed", peer=self.peer, error=str(exc))
                return b""
            if self._outgoing.pending:
                self._flush()
            return data

    def _fill(self, deadline: float, wait_first: bool) -> None:
        """Send what OpenSSL has to say, then move the socket's next bytes (or its EOF) in."""
        if self._outgoing.pending:
            self._flush()
        raw = self._raw_recv(deadline, wait_first)
        if raw:
            self._incoming.write(raw)
        else:
            self._incoming.write_eof()

    def _sendall(self, data: Any) -> None:
        tls = self._tls
        view = memoryview(data)
        try:
            while view:
                view = view[tls.write(view) :]
        except ssl.SSLError as exc:
            raise PeerGone(str(exc)) from None
        self._raw_sendall(self._outgoing.read())

    def _linger_close(self) -> None:
        self._close_notify()
        super()._linger_close()

    def _close_notify(self) -> None:
        if not self._handshaken:
            return
        self._handshaken = False
        with contextlib.suppress(ssl.SSLError, ValueError):
            self._tls.unwrap()
        if self._outgoing.pending and self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.send(self._outgoing.read())

    def _close_transport(self, sock: _socket.socket) -> None:
        if self._handshaken:
            self._sock = sock
            self._close_notify()
            self._sock = None  # type: ignore[assignment]
        super()._close_transport(sock)
