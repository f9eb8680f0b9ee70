"""/metrics: any worker answers for all of them, from the shared multiprocess directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapisup.observability.metrics import collect_text

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_handler(metrics_dir: str,
                    before: Callable[[], None] | None = None) -> Callable[..., list[bytes]]:
    """`before` publishes this worker's pending counts, so its own requests are never late."""

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if before is not None:
            before()
        body = collect_text(metrics_dir)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return handle
