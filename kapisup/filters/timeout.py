"""A deadline for every request that is not long-running: 504 instead of a stuck greenlet.

The body is read inside the deadline and the app's status line is held back until then, so a
late handler can still be answered with a clean 504; only an app that used WSGI's legacy
`write()` (headers gone already) gets its connection dropped instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent

from kapisup.endpoints.body import close_body
from kapisup.endpoints.request import REQUEST_INFO, RequestInfo, WSGIApp
from kapisup.endpoints.status import write_status

TIMEOUT_MESSAGE = "Timeout: request did not complete within the allotted timeout"
RETRY_AFTER_SECONDS = 1


class TimeoutAbort(RuntimeError):
    """Raised to make the server drop a connection whose response had already started."""


class _HeldResponse:
    """A start_response that records the app's answer until the body is complete."""

    __slots__ = ("exc_info", "headers", "passed", "real", "status", "writer")

    def __init__(self, real: Callable[..., Any]):
        self.real = real
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.exc_info: Any = None
        self.passed = False
        self.writer: Callable[[bytes], Any] | None = None

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], Any]:
        if self.passed:
            # Too late to change anything but the real server may still decide.
            self.writer = self.real(status, headers, exc_info)
        else:
            self.status, self.headers, self.exc_info = status, headers, exc_info
        return self.write

    def write(self, data: bytes) -> None:
        self.flush()
        if self.writer is not None:
            self.writer(data)

    def flush(self) -> None:
        if not self.passed and self.status is not None:
            self.passed = True
            self.writer = self.real(self.status, self.headers, self.exc_info)


def with_timeout(app: WSGIApp, seconds: float,
                 long_running: Callable[[RequestInfo], bool]) -> WSGIApp:
    """Run non-long-running requests under a gevent.Timeout of `seconds`; 504 on expiry."""

    def timeout(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        info: RequestInfo | None = environ.get(REQUEST_INFO)
        if info is not None and long_running(info):
            return app(environ, start_response)
        held = _HeldResponse(start_response)
        deadline = gevent.Timeout(seconds)
        body: Any = None
        deadline.start()
        try:
            try:
                body = app(environ, held.start_response)
                chunks = list(body)
            finally:
                # disarmed on every way out: a deadline left armed (e.g. when the app raised
                # someone else's Timeout) would fire later into whatever this greenlet serves
                deadline.close()
                close_body(body)
        except gevent.Timeout as err:
            if err is not deadline:
                raise
            if held.passed:
                raise TimeoutAbort("request timed out after its response started") from None
            return write_status(
                start_response, 504, TIMEOUT_MESSAGE,
                details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
            )
        held.flush()
        return chunks

    return timeout
