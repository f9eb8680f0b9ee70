"""CORS for browser clients from allowed origins; preflights are answered before authentication."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from kapisup.endpoints.request import WSGIApp

ALLOW_METHODS = "POST, GET, OPTIONS, PUT, DELETE, PATCH"
ALLOW_HEADERS = (
    "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, "
    "X-Requested-With, If-Modified-Since"
)
EXPOSE_HEADERS = "Date"


def with_cors(app: WSGIApp, patterns: Sequence[str]) -> WSGIApp:
    """Add CORS headers when Origin matches (unanchored) one of `patterns`; empty = off."""
    if not patterns:
        return app
    compiled = tuple(re.compile(pattern) for pattern in patterns)

    def cors(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        origin = environ.get("HTTP_ORIGIN")
        if not origin or not any(regexp.search(origin) for regexp in compiled):
            return app(environ, start_response)
        cors_headers = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", ALLOW_METHODS),
            ("Access-Control-Allow-Headers", ALLOW_HEADERS),
            ("Access-Control-Expose-Headers", EXPOSE_HEADERS),
            ("Access-Control-Allow-Credentials", "true"),
        ]
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            start_response("204 No Content", cors_headers)
            return []

        def with_cors_headers(status: str, headers: list[tuple[str, str]],
                              exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *cors_headers], exc_info)

        return app(environ, with_cors_headers)

    return cors
