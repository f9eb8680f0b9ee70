"""Tiny WSGI call helpers for the mux tests: build an environ, capture the response."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


def make_environ(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    raw_uri: str | None = None,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """A PEP 3333 environ; REQUEST_URI defaults to path?query as a server would send."""
    if raw_uri is None:
        raw_uri = path + (f"?{query}" if query else "")
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_URI": raw_uri,
        "SERVER_PROTOCOL": protocol,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


@dataclass
class Response:
    status: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

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


def call(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    environ: dict[str, Any],
) -> Response:
    """Run a WSGI app to completion and return what it sent."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = status
        captured["headers"] = list(headers)
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Response(captured["status"], captured["headers"], body)


def request(app: Any, method: str = "GET", path: str = "/", **kwargs: Any) -> Response:
    return call(app, make_environ(method, path, **kwargs))


def text_app(text: str, status: str = "200 OK") -> Any:
    """A WSGI app answering `text`, to tell which registration served a request."""
    body = text.encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def route_handler(name: str) -> Any:
    """A route handler echoing its name and params as JSON."""

    def handler(
        environ: dict[str, Any], start_response: Callable[..., Any], params: dict[str, str]
    ) -> list[bytes]:
        body = json.dumps({"route": name, "params": params}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return handler
