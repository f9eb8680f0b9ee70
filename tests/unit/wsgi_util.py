"""Call WSGI apps directly: a minimal environ builder and a response recorder."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kapisup.endpoints.request import REQUEST_INFO, USER, RequestInfoResolver

_RESOLVER = RequestInfoResolver()


def make_environ(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    remote: str = "127.0.0.1",
    resolve: bool = False,
    user: Any = None,
    raw_uri: str | None = None,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """A WSGI environ; `resolve` adds the RequestInfo, `user` the authenticated UserInfo.

    REQUEST_URI is `raw_uri`, by default path?query as a server would send it.
    """
    if raw_uri is None:
        raw_uri = path + (f"?{query}" if query else "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_URI": raw_uri,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "6443",
        "SERVER_PROTOCOL": protocol,
        "REMOTE_ADDR": remote,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    if resolve:
        environ[REQUEST_INFO] = _RESOLVER.resolve(method, path, query)
    if user is not None:
        environ[USER] = user
    return environ


@dataclass
class Response:
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    start_calls: int = 0

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder:
    """A start_response that behaves like a server: headers count as sent on the first write."""

    def __init__(self) -> None:
        self.response = Response()
        self.headers_sent = False
        self.written: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and self.headers_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        if self.response.status and exc_info is None:
            raise AssertionError("start_response called twice without exc_info")
        self.response.status = status
        self.response.headers = list(headers)
        self.response.start_calls += 1
        return self.write

    def write(self, data: bytes) -> None:
        self.headers_sent = True
        self.written.append(data)


def start(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]
          ) -> tuple[Recorder, Iterable[bytes]]:
    """Call the app but leave iterating and closing its body to the test."""
    recorder = Recorder()
    return recorder, app(environ, recorder.start_response)


def finish(recorder: Recorder, body: Iterable[bytes]) -> Response:
    """Iterate and close a body the way a WSGI server does."""
    chunks = list(recorder.written)
    try:
        for chunk in body:
            if chunk:
                recorder.headers_sent = True
            chunks.append(chunk)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    recorder.response.body = b"".join(chunks)
    return recorder.response


def call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any] | None = None,
         **environ_args: Any) -> Response:
    """Run one request through `app` and return what the client would get."""
    if environ is None:
        environ = make_environ(**environ_args)
    recorder, body = start(app, environ)
    return finish(recorder, body)


def request(app: Callable[..., Iterable[bytes]], method: str = "GET", path: str = "/",
            **environ_args: Any) -> Response:
    """Shorthand for `call(app, make_environ(method, path, ...))`."""
    return call(app, make_environ(method, path, **environ_args))


def ok_app(body: bytes = b"ok", status: str = "200 OK") -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(status, [("Content-Type", "text/plain"),
                                ("Content-Length", str(len(body)))])
        return [body]

    return app


def text_app(text: str, status: str = "200 OK") -> Callable[..., list[bytes]]:
    """A WSGI app answering `text`, to tell which registration served a request."""
    return ok_app(text.encode(), status)


def route_handler(name: str) -> Callable[..., list[bytes]]:
    """A route handler echoing its name and params as JSON."""

    def handler(
        environ: dict[str, Any], start_response: Callable[..., Any], params: dict[str, str]
    ) -> list[bytes]:
        body = json.dumps({"route": name, "params": params}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return handler


class RecordingLogger:
    """Stands in for a structlog logger; keeps (level, event, fields) tuples."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _log(self, level: str, event: str, **fields: Any) -> None:
        if fields.get("exc_info") is True:
            fields["exc_info"] = sys.exc_info()
        self.records.append((level, event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._log("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, **fields)

    def at(self, level: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [record for record in self.records if record[0] == level]
