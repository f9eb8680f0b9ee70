"""Turn a crash below into a 500 Status so the worker keeps serving, and log each request.

Only `Exception` is caught: gevent.Timeout and GreenletExit are BaseExceptions that belong to
the timeout filter and the worker's shutdown.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kapisup.endpoints.body import close_body
from kapisup.endpoints.request import REQUEST_INFO, USER, WSGIApp
from kapisup.endpoints.status import write_status

INTERNAL_ERROR_MESSAGE = (
    "Internal error occurred: the server could not complete the request, see its log"
)


class _Request:
    """One request's response as seen by this filter: status, bytes, whether it started."""

    __slots__ = ("aborted", "access_log", "environ", "logged", "logger", "nbytes", "real", "sent",
                 "started", "status")

    def __init__(self, environ: dict[str, Any], real: Callable[..., Any], logger: Any,
                 access_log: bool):
        self.environ = environ
        self.real = real
        self.logger = logger
        self.access_log = access_log
        self.status = ""
        self.nbytes = 0
        self.sent = False  # a non-empty chunk went to the server: headers are out
        self.started = time.monotonic()
        self.logged = False
        self.aborted = ""  # name of the BaseException (e.g. Timeout) that cut the request short

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        self.status = status
        return self.real(status, headers, exc_info)

    def fail(self) -> list[bytes]:
        """Log the exception being handled and answer 500, replacing any status already set."""
        environ = self.environ
        self.logger.error(
            "panic while serving request", method=environ.get("REQUEST_METHOD"),
            path=environ.get("PATH_INFO"), exc_info=True,
        )
        exc_info = sys.exc_info() if self.status else None
        self.status = "500"
        body = write_status(
            lambda status, headers: self.real(status, headers, exc_info), 500,
            INTERNAL_ERROR_MESSAGE,
        )
        self.nbytes = len(body[0])
        return body

    def log(self) -> None:
        if not self.access_log or self.logged:
            return
        self.logged = True
        environ = self.environ
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING")
        user = environ.get(USER)
        info = environ.get(REQUEST_INFO)
        extra = {"aborted": self.aborted} if self.aborted else {}
        self.logger.info(
            "request",
            method=environ.get("REQUEST_METHOD"),
            path=f"{path}?{query}" if query else path,
            status=int(self.status[:3]) if self.status[:3].isdigit() else 0,
            bytes=self.nbytes,
            duration_ms=round((time.monotonic() - self.started) * 1000, 3),
            remote=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT"),
            user=user.name if user is not None else None,
            verb=info.verb if info is not None else None,
            **extra,
        )


class _GuardedBody:
    """Iterates the app's body, answering 500 if it fails before anything was sent."""

    __slots__ = ("_body", "_request")

    def __init__(self, body: Iterable[bytes], request: _Request):
        self._body = body
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        request = self._request
        try:
            for chunk in self._body:
                if chunk:
                    request.sent = True
                    request.nbytes += len(chunk)
                yield chunk
        except Exception:
            if request.sent:
                raise  # headers are out: only dropping the connection is honest now
            yield from request.fail()
        except BaseException as exc:
            request.aborted = type(exc).__name__
            raise

    def close(self) -> None:
        try:
            close_body(self._body)
        finally:
            self._request.log()


def with_panic_recovery(app: WSGIApp, logger: Any, access_log: bool) -> WSGIApp:
    """Answer 500 for any exception from below; one access log line per request if asked."""

    def recovery(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = _Request(environ, start_response, logger, access_log)
        try:
            body = app(environ, request.start_response)
        except Exception:
            body = request.fail()
            request.log()
            return body
        except BaseException as exc:
            request.aborted = type(exc).__name__
            request.log()
            raise
        if type(body) is list:
            # Nothing can fail while the server walks a list: skip the per-chunk wrapper.
            if access_log:
                request.nbytes = sum(len(chunk) for chunk in body)
                request.log()
            return body
        return _GuardedBody(body, request)

    return recovery
