"""Closing a WSGI response body, and running a callback once it is closed.

PEP 3333 makes the server call the body's `close()` when the response is over (sent, failed
or abandoned), so a filter that holds something until the response is sent (an in-flight
slot, an audit event, a metrics sample, an access log line) wraps the body and releases it
there, after closing the inner body so the app's own clean-up still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


def close_body(body: Any) -> None:
    """Call `body.close()` if the iterable has one (WSGI bodies may be plain lists)."""
    close = getattr(body, "close", None)
    if close is not None:
        close()


class ClosingBody:
    """Iterates `body` unchanged; `close()` closes it, then runs `done` exactly once, even
    when the inner close raises."""

    __slots__ = ("_body", "_done")

    def __init__(self, body: Iterable[bytes], done: Callable[[], object]):
        self._body = body
        self._done: Callable[[], object] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        done, self._done = self._done, None
        try:
            close_body(self._body)
        finally:
            if done is not None:
                done()
