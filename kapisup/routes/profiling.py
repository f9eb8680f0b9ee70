"""/debug/pprof/profile?seconds=N: profile this worker (all its greenlets) for N seconds.

kube-apiserver serves Go's pprof here under --profiling; kapisup answers with cProfile's
statistics as text, sorted by cumulative time. One profile at a time per worker.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from kapisup.endpoints.status import write_status

DEFAULT_SECONDS = 30
MAX_SECONDS = 300


def profile_handler(sleep: Callable[[float], None]) -> Callable[..., list[bytes]]:
    busy = [False]

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        raw = query.get("seconds", [str(DEFAULT_SECONDS)])[0]
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1
        if not 0 < seconds <= MAX_SECONDS:
            return write_status(start_response, 400,
                                f"seconds must be a number in (0, {MAX_SECONDS}], got {raw!r}")
        if busy[0]:
            return write_status(start_response, 409, "a profile is already running",
                                reason="Conflict")
        busy[0] = True
        profiler = cProfile.Profile()
        try:
            profiler.enable()
            sleep(seconds)
        finally:
            profiler.disable()
            busy[0] = False
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
        body = out.getvalue().encode()
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return handle
