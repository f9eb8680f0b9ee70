"""A WSGI path multiplexer that answers like the Go 1.7 ServeMux behind kube-apiserver 1.6.

Clients and conformance checks see its quirks on the wire (301 for unclean paths, 400 for
a `*` target, implicit subtree redirects), so they are reproduced here rather than left to
whatever a Python framework would do.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from kapisup.endpoints.status import write_status

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

API_ROOTS = ("/api", "/apis")
NOT_FOUND_MESSAGE = "the server could not find the requested resource"

# Go's path escaping leaves these alone besides letters, digits and "-_.~".
_PATH_SAFE = "/$&+,:;=@"


def clean_path(path: str) -> str:
    """Canonical form of a request path: no empty, "." or ".." segments; trailing "/" kept."""
    if path.startswith("/") and "//" not in path and "/." not in path:
        return path
    if not path:
        return "/"
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def is_api_path(path: str) -> bool:
    """`/api`, `/apis` and anything below them: the space kube answers with Status 404s."""
    return any(path == root or path.startswith(root + "/") for root in API_ROOTS)


def escape_path(path: str) -> str:
    """Percent-encode a decoded PATH_INFO for a Location header (PEP 3333 str is latin-1)."""
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogateescape")
    return quote(raw, safe=_PATH_SAFE)


def redirect(environ: dict[str, Any], start_response: StartResponse, location: str) -> list[bytes]:
    """301 with a short HTML note for GET, as Go's Redirect writes for old user agents."""
    headers = [("Location", location)]
    body = b""
    if environ.get("REQUEST_METHOD", "GET") == "GET":
        body = f'<a href="{html.escape(location)}">Moved Permanently</a>.\n\n'.encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    headers.append(("Content-Length", str(len(body))))
    start_response("301 Moved Permanently", headers)
    return [body]


def bad_request_star(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """A `*` request target reaching the mux is malformed; the connection is not reused."""
    headers = [("Content-Length", "0")]
    if environ.get("SERVER_PROTOCOL", "HTTP/1.1").upper() not in ("HTTP/1.0", "HTTP/0.9"):
        headers.append(("Connection", "close"))
    start_response("400 Bad Request", headers)
    return [b""]


def plain_not_found(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """Fallback until the index handler is hooked in with `set_not_found`."""
    body = b"404 page not found\n"
    start_response(
        "404 Not Found",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def api_not_found(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """API clients expect a Status object, never the index listing, for unknown API paths."""
    return write_status(start_response, 404, NOT_FOUND_MESSAGE, details={})


class ServeMux:
    """Exact and subtree (`/x/`) patterns, longest match wins; tables are copy-on-write.

    Registration takes a lock and swaps in new dicts, so request greenlets/threads read a
    consistent snapshot without locking.
    """

    def __init__(self, not_found: WSGIApp | None = None) -> None:
        self._lock = threading.Lock()
        self._tables: tuple[dict[str, WSGIApp], dict[str, WSGIApp]] = ({}, {})
        self._not_found: WSGIApp = not_found or plain_not_found

    def handle(self, path: str, app: WSGIApp) -> None:
        """Serve exactly `path` (a trailing slash is part of the exact path here)."""
        self._register(path, app, subtree=False)

    def handle_prefix(self, prefix: str, app: WSGIApp) -> None:
        """Serve `prefix` and everything below it; `prefix` must end in "/"."""
        if not prefix.endswith("/"):
            raise ValueError(f"subtree pattern {prefix!r} must end with '/'")
        self._register(prefix, app, subtree=True)

    def unhandle(self, path: str) -> bool:
        return self._unregister(path, subtree=False)

    def unhandle_prefix(self, prefix: str) -> bool:
        return self._unregister(prefix, subtree=True)

    def set_not_found(self, app: WSGIApp) -> None:
        """The app for non-API paths no pattern claims (kube's index answers them with 404)."""
        self._not_found = app

    def patterns(self) -> list[str]:
        exact, subtree = self._tables
        return sorted({*exact, *subtree})

    def has_pattern(self, path: str) -> bool:
        """Whether `path` is itself a registered pattern (not merely under a subtree)."""
        exact, subtree = self._tables
        return path in exact or path in subtree

    def _register(self, pattern: str, app: WSGIApp, *, subtree: bool) -> None:
        if not pattern.startswith("/"):
            raise ValueError(f"pattern {pattern!r} must start with '/'")
        with self._lock:
            exact, tree = self._tables
            table = dict(tree if subtree else exact)
            if pattern in table:
                raise ValueError(f"multiple registrations for {pattern!r}")
            table[pattern] = app
            self._tables = (exact, table) if subtree else (table, tree)

    def _unregister(self, pattern: str, *, subtree: bool) -> bool:
        with self._lock:
            exact, tree = self._tables
            table = dict(tree if subtree else exact)
            if table.pop(pattern, None) is None:
                return False
            self._tables = (exact, table) if subtree else (table, tree)
            return True

    def resolve(self, path: str) -> tuple[str, WSGIApp | None] | None:
        """(pattern, app) for a clean path; (target, None) means redirect to the subtree."""
        exact, subtree = self._tables
        app = exact.get(path)
        if app is not None:
            return path, app
        if path and not path.endswith("/") and path + "/" in subtree:
            return path + "/", None
        end = len(path)
        while end > 0:
            cut = path.rfind("/", 0, end)
            if cut < 0:
                break
            pattern = path[: cut + 1]
            app = subtree.get(pattern)
            if app is not None:
                return pattern, app
            end = cut
        return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if target == "*":
            return bad_request_star(environ, start_response)
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "CONNECT":
            cleaned = clean_path(path)
            if cleaned != path:
                query = environ.get("QUERY_STRING", "")
                location = escape_path(cleaned) + (f"?{query}" if query else "")
                return redirect(environ, start_response, location)
        found = self.resolve(path)
        if found is not None:
            pattern, app = found
            if app is None:
                # Go 1.7 redirects to the bare pattern, dropping any query string.
                return redirect(environ, start_response, escape_path(pattern))
            # A catch-all "/" must not turn API misses into index pages.
            if pattern != "/" or not is_api_path(path):
                return app(environ, start_response)
        if is_api_path(path):
            return api_not_found(environ, start_response)
        return self._not_found(environ, start_response)


class PathRecorderMux:
    """Registers on a shared ServeMux and remembers the paths so `/` can list them."""

    def __init__(self, mux: ServeMux) -> None:
        self._mux = mux
        self._lock = threading.Lock()
        self._exact: frozenset[str] = frozenset()
        self._prefixes: frozenset[str] = frozenset()

    def handle(self, path: str, app: WSGIApp) -> None:
        with self._lock:
            self._mux.handle(path, app)
            self._exact = self._exact | {path}

    def handle_prefix(self, prefix: str, app: WSGIApp) -> None:
        with self._lock:
            self._mux.handle_prefix(prefix, app)
            self._prefixes = self._prefixes | {prefix}

    def unhandle(self, path: str) -> bool:
        with self._lock:
            removed = self._mux.unhandle(path)
            if removed:
                self._exact = self._exact - {path}
            return removed

    def unhandle_prefix(self, prefix: str) -> bool:
        with self._lock:
            removed = self._mux.unhandle_prefix(prefix)
            if removed:
                self._prefixes = self._prefixes - {prefix}
            return removed

    def recorded_paths(self) -> list[str]:
        return sorted(self._exact | self._prefixes)


__all__ = [
    "API_ROOTS",
    "NOT_FOUND_MESSAGE",
    "PathRecorderMux",
    "ServeMux",
    "WSGIApp",
    "api_not_found",
    "clean_path",
    "escape_path",
    "is_api_path",
    "plain_not_found",
    "redirect",
]
