"""/metrics: any worker answers for all of them, from the shared multiprocess directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapisup.observability.metrics import collect_text

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_handler(metrics_dir: str) -> Callable[..., list[bytes]]:
    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = collect_text(metrics_dir)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return handle
