"""Per-process in-flight limits: shed load with 429 before a worker drowns.

A worker serves requests on greenlets of one thread, so plain integers are safe counters: no
greenlet switch can happen between the check and the increment. A slot is held until the
server closes the response body, because streaming the body is part of the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kapisup.endpoints.body import ClosingBody
from kapisup.endpoints.request import REQUEST_INFO, RequestInfo, WSGIApp
from kapisup.endpoints.status import write_status

READ_ONLY = "readOnly"
MUTATING = "mutating"
READ_ONLY_VERBS = frozenset({"get", "list", "watch"})

OnChange = Callable[[str, int], None]
LongRunning = Callable[[RequestInfo], bool]


class _Counter:
    __slots__ = ("current", "kind", "limit", "on_change")

    def __init__(self, kind: str, limit: int, on_change: OnChange | None):
        self.kind = kind
        self.limit = limit
        self.current = 0
        self.on_change = on_change

    def try_acquire(self) -> bool:
        if self.current >= self.limit:
            return False
        self.current += 1
        return True

    def release(self) -> None:
        self.current -= 1
        if self.on_change is not None:
            self.on_change(self.kind, self.current)


class _ReleaseOnClose(ClosingBody):
    """The app's body, releasing the slot once when the server closes it."""

    __slots__ = ()

    def __init__(self, body: Iterable[bytes], counter: _Counter):
        super().__init__(body, counter.release)

    def __del__(self) -> None:
        # Safety net for a caller that drops the body without closing it (a WSGI violation).
        done, self._done = self._done, None
        if done is not None:
            done()


class InFlightLimiter:
    """The two counters of one process; one instance can wrap several chains to share them."""

    def __init__(
        self,
        non_mutating_limit: int,
        mutating_limit: int,
        long_running: LongRunning,
        on_change: OnChange | None = None,
    ):
        self.read_only = _Counter(READ_ONLY, non_mutating_limit, on_change)
        self.mutating = _Counter(MUTATING, mutating_limit, on_change)
        self._long_running = long_running

    @property
    def enabled(self) -> bool:
        return self.read_only.limit > 0 or self.mutating.limit > 0

    def __call__(self, app: WSGIApp) -> WSGIApp:
        """Wrap `app`; unchanged when both limits are 0."""
        if not self.enabled:
            return app
        read_only, mutating, long_running = self.read_only, self.mutating, self._long_running

        def max_in_flight(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            info: RequestInfo | None = environ.get(REQUEST_INFO)
            if info is None:
                return write_status(
                    start_response, 500,
                    "Internal error occurred: no RequestInfo found, the handler chain is wrong",
                )
            if long_running(info):
                return app(environ, start_response)
            counter = read_only if info.verb in READ_ONLY_VERBS else mutating
            if counter.limit <= 0:
                return app(environ, start_response)
            if not counter.try_acquire():
                return write_status(
                    start_response, 429, "Too many requests, please try again later.",
                    details={"retryAfterSeconds": 1},
                )
            try:
                if counter.on_change is not None:
                    counter.on_change(counter.kind, counter.current)
                body = app(environ, start_response)
            except BaseException:
                counter.release()
                raise
            if type(body) is list:
                # A finished body (the common case): free the slot now and keep the list, so
                # the server can send headers and body in one write.
                counter.release()
                return body
            return _ReleaseOnClose(body, counter)

        return max_in_flight


def with_max_in_flight(
    app: WSGIApp,
    non_mutating_limit: int,
    mutating_limit: int,
    long_running: LongRunning,
    on_change: OnChange | None = None,
) -> WSGIApp:
    """Answer 429 past the per-class limit (0 = unlimited); long-running requests bypass."""
    return InFlightLimiter(non_mutating_limit, mutating_limit, long_running, on_change)(app)
