"""HTTPServer over real loopback sockets.

The server runs in its own thread with its own gevent hub (nothing is monkey-patched), the
tests are plain blocking-socket clients in the main thread: no patching of the pytest process,
and no fork. Every wait is bounded; assertions are on behaviour, never on durations.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import pytest

from kapisup.http.limits import HTTPLimits
from kapisup.http.server import HTTPServer

# ---- harness ---------------------------------------------------------------------------------


class RecordingLogger:
    """structlog-shaped logger that keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _log(self, level: str, event: str, **kw: Any) -> None:
        self.records.append((level, event, kw))

    def debug(self, event: str, **kw: Any) -> None:
        self._log("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._log("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._log("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._log("error", event, **kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._log("error", event, **kw)

    def levels(self, level: str) -> list[str]:
        return [event for lvl, event, _ in self.records if lvl == level]


class ServerThread:
    """An HTTPServer on 127.0.0.1, served by a gevent hub in a background thread."""

    def __init__(self, app: Callable[..., Any], **kwargs: Any):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.log = RecordingLogger()
        self.requests_done = 0
        self._app = app
        self._kwargs = kwargs
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "server thread did not start"
        if self._error is not None:
            raise self._error

    def _count(self) -> None:
        self.requests_done += 1

    def _main(self) -> None:
        hub = gevent.get_hub()
        self.loop = hub.loop
        try:
            self.server = HTTPServer(
                self.listener, self._app, logger=self.log, on_request=self._count, **self._kwargs
            )
            self.server.start()
            self._stop = gevent.event.Event()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        while not self._stop.wait(1.0):  # the timeout keeps the loop referenced (no LoopExit)
            pass
        self.server.drain(1.0)
        hub.destroy(destroy_loop=True)

    def call_async(self, fn: Callable[[], Any]) -> queue.Queue:
        """Run ``fn`` in a new greenlet of the server's hub; the result arrives on the queue."""
        results: queue.Queue = queue.Queue()

        def run() -> None:
            try:
                results.put((True, fn()))
            except BaseException as exc:
                results.put((False, exc))

        self.loop.run_callback_threadsafe(gevent.spawn, run)
        return results

    def call(self, fn: Callable[[], Any], timeout: float = 20.0) -> Any:
        ok, value = self.call_async(fn).get(timeout=timeout)
        if not ok:
            raise value
        return value

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        for _ in range(400):  # bounded: 400 x 25 ms
            if self.call(predicate):
                return
            time.sleep(0.025)
        raise AssertionError(f"timed out waiting for {what}")

    def close(self) -> None:
        if self._thread.is_alive():
            self.loop.run_callback_threadsafe(self._stop.set)
            self._thread.join(10)


@pytest.fixture
def serve():
    servers: list[ServerThread] = []

    def make(app: Callable[..., Any], **kwargs: Any) -> ServerThread:
        srv = ServerThread(app, **kwargs)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.close()


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, version: str):
        self.status = status
        self.headers = headers
        self.body = body
        self.version = version

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def read_head(f: Any) -> tuple[str, int, list[tuple[str, str]]]:
    line = f.readline()
    if not line:
        raise EOFError("connection closed before a response")
    version, code = line.decode("latin-1").split(" ", 2)[:2]
    headers = []
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise EOFError("connection closed inside the response head")
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return version, int(code), headers


def read_chunk(f: Any) -> bytes:
    size = int(f.readline().split(b";")[0], 16)
    data = f.read(size)
    assert f.read(2) == b"\r\n"
    return data


def read_response(f: Any, method: str = "GET") -> Response:
    version, code, headers = read_head(f)
    resp = Response(code, headers, b"", version)
    if method == "HEAD" or code in (204, 304) or code < 200:
        return resp
    te = resp.header("transfer-encoding")
    length = resp.header("content-length")
    if te and "chunked" in te.lower():
        parts = []
        while True:
            chunk = read_chunk(f)
            if not chunk:
                break
            parts.append(chunk)
        resp.body = b"".join(parts)
    elif length is not None:
        resp.body = f.read(int(length))
    else:
        resp.body = f.read()
    return resp


def request(sock: socket.socket, f: Any, raw: bytes, method: str = "GET") -> Response:
    sock.sendall(raw)
    return read_response(f, method)


def get(path: str = "/", headers: str = "", version: str = "1.1") -> bytes:
    return f"GET {path} HTTP/{version}\r\nHost: test\r\n{headers}\r\n".encode("latin-1")


def closed_by_peer(sock: socket.socket, timeout: float = 10.0) -> bool:
    """True if the peer closes (EOF or reset) within ``timeout``, draining any bytes first."""
    sock.settimeout(timeout)
    try:
        for _ in range(10000):
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


# ---- apps ------------------------------------------------------------------------------------


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = environ["wsgi.input"].read()
    info = {k: v for k, v in environ.items() if isinstance(v, str)}
    info["body"] = body.decode("latin-1")
    info["connection_id"] = environ.get("kapisup.connection_id")
    info["wsgi"] = [
        list(environ["wsgi.version"]),
        environ["wsgi.multithread"],
        environ["wsgi.multiprocess"],
        environ["wsgi.run_once"],
    ]
    info["peer_cert"] = environ["kapisup.peer_cert"]
    info["draining_is_event"] = isinstance(environ["kapisup.draining"], gevent.event.Event)
    payload = json.dumps(info).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [payload]


def text_app(text: bytes = b"hello") -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [text]

    return app


# ---- keep-alive, pipelining, HTTP/1.0 ----------------------------------------------------------


def test_keepalive_serves_several_requests_on_one_connection(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        ids = set()
        for i in range(5):
            resp = request(sock, f, get(f"/n/{i}"))
            assert resp.status == 200
            assert resp.header("connection") is None
            assert resp.json()["PATH_INFO"] == f"/n/{i}"
            ids.add(resp.json()["connection_id"])
        assert len(ids) == 1
    srv.wait_for(lambda: srv.requests_done == 5, "on_request to count 5 requests")


def test_pipelined_requests_are_answered_in_order(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        post = b"POST /p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
        sock.sendall(get("/p1") + post + get("/p3") + get("/p4"))
        paths = []
        bodies = []
        for _ in range(4):
            resp = read_response(f)
            assert resp.status == 200
            paths.append(resp.json()["PATH_INFO"])
            bodies.append(resp.json()["body"])
        assert paths == ["/p1", "/p2", "/p3", "/p4"]
        assert bodies == ["", "hello", "", ""]


def test_http10_closes_unless_keepalive_asked(serve):
    srv = serve(text_app())
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, b"GET / HTTP/1.0\r\n\r\n")
        assert resp.version == "HTTP/1.0"
        assert resp.header("connection") == "close"
        assert resp.body == b"hello"
        assert closed_by_peer(sock)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        for _ in range(2):
            resp = request(sock, f, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert resp.header("connection") == "keep-alive"
            assert resp.header("content-length") == "5"
            assert resp.body == b"hello"


def test_app_connection_close_closes_after_response(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Connection", "close"), ("Content-Length", "2")])
        return [b"ok"]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get())
        assert resp.header("connection") == "close"
        assert resp.body == b"ok"
        assert closed_by_peer(sock)


# ---- environ ---------------------------------------------------------------------------------


def test_environ_contents(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        raw = (
            b"POST /a%20b/%E2%9C%93?x=1&y=%20 HTTP/1.1\r\nHost: example:99\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 3\r\n"
            b"X-Multi: one\r\nx-multi: two\r\nX_Spoof: bad\r\n\r\nabc"
        )
        env = request(sock, f, raw).json()
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/a b/" + "\u2713".encode().decode("latin-1")
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["RAW_URI"] == env["REQUEST_URI"] == "/a%20b/%E2%9C%93?x=1&y=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"].isdigit()
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["CONTENT_LENGTH"] == "3"
    assert env["HTTP_HOST"] == "example:99"
    assert env["HTTP_X_MULTI"] == "one,two"
    assert "HTTP_X_SPOOF" not in env
    assert env["body"] == "abc"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi"] == [[1, 0], False, True, False]
    assert env["peer_cert"] is None
    assert env["draining_is_event"] is True


def test_raw_uri_is_not_normalised(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        env = request(sock, f, get("//a/../b?x=1")).json()
        assert env["RAW_URI"] == "//a/../b?x=1"
        assert env["PATH_INFO"] == "//a/../b"
        assert env["QUERY_STRING"] == "x=1"
        env = request(sock, f, get("http://other.example/abs/path?q=2")).json()
        assert env["PATH_INFO"] == "/abs/path"
        assert env["QUERY_STRING"] == "q=2"


def test_star_target_reaches_the_app_and_options_star_is_answered(serve):
    def app(environ, start_response):
        if environ["RAW_URI"] == "*":
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"star from app"]
        start_response("200 OK", [])
        return [b"ok"]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, b"GET * HTTP/1.1\r\nHost: t\r\n\r\n")
        assert resp.status == 400
        assert resp.body == b"star from app"
        resp = request(sock, f, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
        assert resp.status == 200
        assert resp.header("content-length") == "0"
        assert resp.body == b""
        resp = request(sock, f, get())  # the connection is still usable
        assert resp.body == b"ok"


# ---- request bodies --------------------------------------------------------------------------


def test_chunked_request_body(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"5\r\nhello\r\n")
        sock.sendall(b"7\r\n, world\r\n")
        sock.sendall(b"0\r\n\r\n")
        env = read_response(f).json()
        assert env["body"] == "hello, world"
        assert "CONTENT_LENGTH" not in env
        resp = request(sock, f, get("/after"))
        assert resp.json()["PATH_INFO"] == "/after"


def test_input_readline_and_iteration(serve):
    def app(environ, start_response):
        stream = environ["wsgi.input"]
        first = stream.readline()
        part = stream.read(2)
        rest = list(stream)
        start_response("200 OK", [])
        return [json.dumps([first.decode(), part.decode(), [r.decode() for r in rest]]).encode()]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        body = b"line1\nxyline2\nline3"
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(body), 4):  # small chunks, so readline spans several
            piece = body[i : i + 4]
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        assert read_response(f).json() == ["line1\n", "xy", ["line2\n", "line3"]]


def test_expect_100_continue_sent_when_app_reads(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(
            b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = f.readline()
        assert interim.startswith(b"HTTP/1.1 100 ")
        assert f.readline() == b"\r\n"
        sock.sendall(b"data")
        resp = read_response(f)
        assert resp.status == 200
        assert resp.json()["body"] == "data"


def test_unread_expect_body_gets_final_status_without_100(serve):
    def app(environ, start_response):
        start_response("413 Request Entity Too Large", [])
        return [b"no"]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(
            b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\nExpect: 100-continue\r\n\r\n"
        )
        resp = read_response(f)
        assert resp.status == 413
        assert resp.header("connection") == "close"
        assert closed_by_peer(sock)


def test_unread_body_is_skipped_and_connection_reused(serve):
    srv = serve(text_app(b"ignored body"))
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234")
        resp = read_response(f)
        assert resp.body == b"ignored body"
        sock.sendall(b"56789")
        resp = request(sock, f, get())
        assert resp.status == 200


def test_malformed_chunked_body_closes_connection(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        resp = read_response(f)
        assert resp.status == 500  # the app's read failed before it started its response
        assert closed_by_peer(sock)


# ---- responses -------------------------------------------------------------------------------


def test_streaming_response_arrives_chunk_by_chunk(serve):
    gates: list[gevent.event.Event] = []
    closed = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] != "/watch":
            return [b"plain"]

        def body():
            try:
                for i in range(3):
                    yield f"event-{i}\n".encode()
                    gate = gevent.event.Event()
                    gates.append(gate)
                    gate.wait(10)
            finally:
                closed.set()

        return body()

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(get("/watch"))
        _version, code, headers = read_head(f)
        assert code == 200
        assert ("Transfer-Encoding", "chunked") in headers
        for i in range(3):
            # each chunk is readable while the app is still blocked before the next one
            assert read_chunk(f) == f"event-{i}\n".encode()
            srv.wait_for(lambda n=i: len(gates) == n + 1, "the app to block")
            srv.call(gates[i].set)
        assert read_chunk(f) == b""
        assert closed.wait(10)
        resp = request(sock, f, get())  # still keep-alive after the stream
        assert resp.status == 200


def test_empty_first_chunk_flushes_headers(serve):
    gate_holder: list[gevent.event.Event] = []

    def app(environ, start_response):
        start_response("200 OK", [])
        gate = gevent.event.Event()
        gate_holder.append(gate)
        yield b""
        gate.wait(10)
        yield b"late"

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(get())
        _version, code, _headers = read_head(f)  # arrives before the app produces data
        assert code == 200
        srv.call(gate_holder[0].set)
        assert read_chunk(f) == b"late"
        assert read_chunk(f) == b""


def test_streaming_with_app_content_length_and_http10_close_delimited(serve):
    def app(environ, start_response):
        headers = [("Content-Length", "6")] if environ["PATH_INFO"] == "/cl" else []
        start_response("200 OK", headers)
        yield b"abc"
        yield b"def"

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get("/cl"))
        assert resp.header("content-length") == "6"
        assert resp.header("transfer-encoding") is None
        assert resp.body == b"abcdef"
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, b"GET / HTTP/1.0\r\n\r\n")
        assert resp.header("connection") == "close"
        assert resp.header("content-length") is None
        assert resp.body == b"abcdef"  # read to EOF


def test_write_callable(serve):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"from ")
        write(b"write")
        return [b"!"]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get())
        assert resp.body == b"from write!"
        assert request(sock, f, get()).body == b"from write!"


def test_head_keeps_content_length_and_sends_no_body(serve):
    srv = serve(text_app(b"0123456789"))
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", method="HEAD")
        assert resp.status == 200
        assert resp.header("content-length") == "10"
        # no body bytes leaked: the next response parses cleanly
        resp = request(sock, f, get())
        assert resp.body == b"0123456789"


def test_iterable_close_called_and_client_disconnect_stops_stream(serve):
    closed = threading.Event()
    produced: list[int] = []

    def app(environ, start_response):
        start_response("200 OK", [])

        def body():
            try:
                for i in range(2000):  # bounded
                    produced.append(i)
                    yield b"x" * 1024
                    gevent.sleep(0.005)
            finally:
                closed.set()

        return body()

    srv = serve(app)
    sock = connect(srv.port)
    f = sock.makefile("rb")
    sock.sendall(get())
    read_head(f)
    assert read_chunk(f) == b"x" * 1024
    f.close()
    sock.close()
    assert closed.wait(15)
    assert len(produced) < 2000
    srv.wait_for(lambda: srv.server.connection_count == 0, "the connection to end")


def test_app_exception_gives_500_and_server_keeps_serving(serve):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", [])
        return [b"fine"]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get("/boom"))
        assert resp.status == 500
        assert resp.header("connection") == "close"
        assert closed_by_peer(sock)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        assert request(sock, f, get()).body == b"fine"
    assert "wsgi application error" in srv.log.levels("error")


def test_exception_after_headers_drops_connection(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"partial"
        raise RuntimeError("late boom")

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(get())
        read_head(f)
        assert read_chunk(f) == b"partial"
        assert f.read() == b""  # no terminating chunk: the client sees a truncated stream


def test_header_injection_is_refused(serve):
    def app(environ, start_response):
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
        return [b"x"]

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get())
        assert resp.status == 500
        assert resp.header("set-cookie") is None


# ---- protocol errors -------------------------------------------------------------------------


def _send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_431_for_huge_header_block(serve):
    srv = serve(text_app())
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        big = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (2 << 20) + b"\r\n\r\n"
        t = _send_in_background(sock, big)
        resp = read_response(f)
        assert resp.status == 431
        assert resp.header("connection") == "close"
        t.join(10)


def test_431_for_many_headers(serve):
    srv = serve(text_app(), limits=HTTPLimits(max_header_bytes=4096))
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        headers = "".join(f"X-H{i}: {'v' * 40}\r\n" for i in range(200))
        resp = request(sock, f, get(headers=headers))
        assert resp.status == 431


def test_414_for_long_request_line(serve):
    srv = serve(text_app())
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        t = _send_in_background(sock, get("/" + "a" * 100_000))
        resp = read_response(f)
        assert resp.status == 414
        assert resp.header("connection") == "close"
        t.join(10)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
)
def test_400_for_malformed_requests(serve, raw):
    srv = serve(text_app())
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, raw)
        assert resp.status == 400
        assert resp.header("connection") == "close"
        assert closed_by_peer(sock)


def test_good_requests_before_a_bad_one_are_answered(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(get("/first") + b"BROKEN\r\n\r\n")
        assert read_response(f).json()["PATH_INFO"] == "/first"
        assert read_response(f).status == 400


# ---- timeouts --------------------------------------------------------------------------------


def test_slowloris_headers_closed_after_read_header_timeout(serve):
    srv = serve(text_app(), limits=HTTPLimits(read_header_timeout=0.3))
    with connect(srv.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        closed = False
        for _ in range(400):  # bounded trickle: ~20 s at most
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            try:
                data = sock.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                time.sleep(0.05)
                continue
            except ConnectionResetError:
                closed = True
                break
            assert data == b"", "the server answered a request whose headers never ended"
            closed = True
            break
        assert closed


def test_silent_new_connection_closed_after_read_header_timeout(serve):
    srv = serve(text_app(), limits=HTTPLimits(read_header_timeout=0.3))
    with connect(srv.port) as sock:
        assert closed_by_peer(sock)


def test_idle_keepalive_closed_after_keepalive_timeout(serve):
    srv = serve(text_app(), limits=HTTPLimits(keepalive_timeout=0.3))
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        assert request(sock, f, get()).status == 200
        assert closed_by_peer(sock)
    srv.wait_for(lambda: srv.server.connection_count == 0, "the connection to be released")


# ---- drain and limits ------------------------------------------------------------------------


def test_drain_finishes_in_flight_request_and_closes_idle(serve):
    gate_holder: list[gevent.event.Event] = []

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            gate = gevent.event.Event()
            gate_holder.append(gate)
            gate.wait(20)
        start_response("200 OK", [("Content-Length", "4")])
        return [b"done"]

    srv = serve(app)
    slow = connect(srv.port)
    idle = connect(srv.port)
    try:
        slow_f = slow.makefile("rb")
        idle_f = idle.makefile("rb")
        assert request(idle, idle_f, get("/fast")).status == 200
        slow.sendall(get("/slow"))
        srv.wait_for(lambda: srv.server.active_requests == 1, "the slow request to start")

        drained = srv.call_async(lambda: srv.server.drain(20))
        srv.wait_for(lambda: srv.server.draining, "draining to start")
        assert closed_by_peer(idle)  # idle keep-alive: closed at once
        with pytest.raises(ConnectionRefusedError):
            connect(srv.port).close()  # our listener copy is closed: no new connections

        srv.call(gate_holder[0].set)
        resp = read_response(slow_f)
        assert resp.status == 200
        assert resp.body == b"done"
        assert resp.header("connection") == "close"
        assert closed_by_peer(slow)
        ok, clean = drained.get(timeout=20)
        assert ok and clean is True
        assert srv.call(lambda: srv.server.connection_count) == 0
    finally:
        slow.close()
        idle.close()


def test_drain_serves_the_first_request_of_a_connection_accepted_before_it(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    srv = serve(app)
    fresh = connect(srv.port)
    try:
        srv.wait_for(lambda: srv.server.connection_count == 1, "the connection to be accepted")
        drained = srv.call_async(lambda: srv.server.drain(20))
        srv.wait_for(lambda: srv.server.draining, "draining to start")
        resp = request(fresh, fresh.makefile("rb"), get("/late"))
        assert (resp.status, resp.body) == (200, b"ok")
        ok, clean = drained.get(timeout=20)
        assert ok and clean is True
    finally:
        fresh.close()


def test_drain_signals_long_running_handlers(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        draining = environ["kapisup.draining"]
        yield b"start\n"
        draining.wait(30)
        yield b"bye\n"

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(get("/watch"))
        _version, _code, headers = read_head(f)
        assert read_chunk(f) == b"start\n"
        assert srv.call(lambda: srv.server.drain(20)) is True
        assert read_chunk(f) == b"bye\n"
        assert read_chunk(f) == b""
        assert ("Connection", "close") in headers or closed_by_peer(sock)


def test_drain_kills_what_does_not_end(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"forever\n"
        gevent.sleep(60)
        yield b"never"

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        sock.sendall(get())
        read_head(f)
        assert read_chunk(f) == b"forever\n"
        assert srv.call(lambda: srv.server.drain(0.2)) is False
        assert closed_by_peer(sock)
        assert srv.call(lambda: srv.server.connection_count) == 0


def test_max_connections_leaves_extra_connections_queued(serve):
    srv = serve(text_app(), limits=HTTPLimits(max_connections=2))
    a = connect(srv.port)
    b = connect(srv.port)
    c = connect(srv.port)
    try:
        a_f, b_f, c_f = a.makefile("rb"), b.makefile("rb"), c.makefile("rb")
        assert request(a, a_f, get()).status == 200
        assert request(b, b_f, get()).status == 200
        c.sendall(get())
        c.settimeout(0.5)
        with pytest.raises(TimeoutError):
            c.recv(1)  # not accepted: still in the kernel queue
        assert srv.call(lambda: srv.server.connection_count) == 2
        a_f.close()  # (the makefile holds the fd open too)
        a.close()
        c.settimeout(10)
        assert read_response(c_f).status == 200
        assert request(b, b_f, get()).status == 200
    finally:
        for s in (a, b, c):
            s.close()


def test_stop_accepting_refuses_new_connections(serve):
    srv = serve(text_app())
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        assert request(sock, f, get()).status == 200
        srv.call(srv.server.stop_accepting)
        with pytest.raises(ConnectionRefusedError):
            connect(srv.port).close()
        assert request(sock, f, get()).status == 200  # existing connections still served


def test_master_copy_of_listener_keeps_queueing_after_stop_accepting(serve):
    srv = serve(text_app())
    master = srv.listener.dup()  # what the master process keeps across fork
    try:
        with connect(srv.port) as sock:
            f = sock.makefile("rb")
            assert request(sock, f, get()).status == 200
            srv.call(srv.server.stop_accepting)
            with connect(srv.port) as queued:  # the kernel still queues it for siblings
                queued.sendall(get())
                queued.settimeout(0.5)
                with pytest.raises(TimeoutError):
                    queued.recv(1)
            assert request(sock, f, get()).status == 200
    finally:
        master.close()


# ---- odd requests and statuses ---------------------------------------------------------------


def test_upgrade_request_is_served_then_closed(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get(headers="Connection: Upgrade\r\nUpgrade: websocket\r\n"))
        assert resp.status == 200
        assert resp.json()["HTTP_UPGRADE"] == "websocket"
        assert resp.header("connection") == "close"
        assert closed_by_peer(sock)


def test_no_body_statuses_and_head_with_generator(serve):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/204":
            start_response("204 No Content", [])
            return iter([b""])
        start_response("200 OK", [("Content-Length", "3")])
        return iter([b"abc"])

    srv = serve(app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get("/204"))
        assert resp.status == 204
        assert resp.header("content-length") is None
        assert resp.header("transfer-encoding") is None
        resp = request(sock, f, b"HEAD /g HTTP/1.1\r\nHost: t\r\n\r\n", method="HEAD")
        assert resp.header("content-length") == "3"
        assert request(sock, f, get("/g")).body == b"abc"


def test_oversized_chunked_trailer_is_cut_off(serve):
    srv = serve(echo_app, limits=HTTPLimits(max_header_bytes=4096))
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        head = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        t = _send_in_background(sock, head + b"5\r\nhello\r\n0\r\nX-T: " + b"a" * (1 << 20))
        resp = read_response(f)
        assert resp.status == 500  # the app's body read failed
        assert closed_by_peer(sock)
        t.join(10)


def test_large_bodies_both_ways_with_requests(serve):
    requests = pytest.importorskip("requests")

    def app(environ, start_response):
        data = environ["wsgi.input"].read()
        if environ["REQUEST_METHOD"] == "POST":
            start_response("200 OK", [])
            return [str(len(data)).encode(), b":", data[:4]]
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"z" * (5 << 20)]

    srv = serve(app)
    url = f"http://127.0.0.1:{srv.port}/"
    with requests.Session() as session:
        big = b"q" * (3 << 20)
        assert session.post(url, data=big, timeout=30).content == b"3145728:qqqq"
        chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))  # chunked upload
        assert session.post(url, data=chunks, timeout=30).content == b"3145728:qqqq"
        resp = session.get(url, timeout=30)
        assert len(resp.content) == 5 << 20
        assert resp.headers["Content-Length"] == str(5 << 20)


def test_curl_style_expect_continue_with_large_body(serve):
    srv = serve(echo_app)
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        body = b"k" * 200_000
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        assert f.readline().startswith(b"HTTP/1.1 100")
        assert f.readline() == b"\r\n"
        t = _send_in_background(sock, body)
        resp = read_response(f)
        assert len(resp.json()["body"]) == len(body)
        t.join(10)
        assert request(sock, f, get()).status == 200


def test_listener_shut_down_elsewhere_stops_the_accept_loop(serve):
    srv = serve(text_app())
    with connect(srv.port) as sock:
        f = sock.makefile("rb")
        assert request(sock, f, get()).status == 200
        master = srv.listener.dup()
        try:
            master.shutdown(socket.SHUT_RD)  # e.g. the master tearing the listener down
            srv.wait_for(lambda: srv.server._accept_greenlet.dead, "the accept loop to stop")
        finally:
            master.close()
        assert "listener unusable, no longer accepting" in srv.log.levels("error")
        assert request(sock, f, get()).status == 200  # open connections are still served
