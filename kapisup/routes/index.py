"""`/` lists every listed path; it also answers every path nothing else claims, with 404."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def index_handler(listed_paths: Callable[[], list[str]]) -> Callable[..., list[bytes]]:
    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = json.dumps({"paths": listed_paths()}, indent=2).encode()
        found = environ.get("PATH_INFO", "/") in ("/", "/index.html")
        start_response("200 OK" if found else "404 Not Found",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(body)))])
        return [body]

    return handle
