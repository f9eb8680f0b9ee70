"""close_body and ClosingBody: the body wrapper the filters release their resources in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kapisup.endpoints.body import ClosingBody, close_body


class _Body:
    """A streamed body that records how often it was closed and can fail on close."""

    def __init__(self, chunks: list[bytes], fail_close: bool = False):
        self.chunks = chunks
        self.fail_close = fail_close
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed += 1
        if self.fail_close:
            raise RuntimeError("close failed")


def test_close_body_calls_close() -> None:
    body = _Body([b"a"])
    close_body(body)
    assert body.closed == 1


def test_close_body_accepts_bodies_without_close() -> None:
    close_body([b"a"])
    close_body(None)


def test_iteration_passes_chunks_through() -> None:
    wrapped = ClosingBody(_Body([b"one", b"", b"two"]), lambda: None)
    assert list(wrapped) == [b"one", b"", b"two"]


def test_iteration_does_not_close_or_run_done() -> None:
    body, calls = _Body([b"x"]), []
    wrapped = ClosingBody(body, lambda: calls.append("done"))
    assert list(wrapped) == [b"x"]
    assert body.closed == 0
    assert calls == []


def test_close_closes_inner_body_then_runs_done() -> None:
    order: list[str] = []

    class Body(_Body):
        def close(self) -> None:
            order.append("inner")

    wrapped = ClosingBody(Body([]), lambda: order.append("done"))
    wrapped.close()
    assert order == ["inner", "done"]


def test_done_runs_once_over_repeated_closes() -> None:
    body, calls = _Body([b"x"]), []
    wrapped = ClosingBody(body, lambda: calls.append("done"))
    wrapped.close()
    wrapped.close()
    assert calls == ["done"]
    assert body.closed == 2  # the inner body's own close stays the inner body's business


def test_done_runs_when_inner_close_raises() -> None:
    body, calls = _Body([b"x"], fail_close=True), []
    wrapped = ClosingBody(body, lambda: calls.append("done"))
    with pytest.raises(RuntimeError, match="close failed"):
        wrapped.close()
    assert calls == ["done"]
    with pytest.raises(RuntimeError):
        wrapped.close()
    assert calls == ["done"]


def test_list_body_needs_no_close() -> None:
    calls: list[str] = []
    wrapped = ClosingBody([b"a", b"b"], lambda: calls.append("done"))
    assert b"".join(wrapped) == b"ab"
    wrapped.close()
    assert calls == ["done"]


def test_slots_keep_instances_small() -> None:
    wrapped = ClosingBody([], lambda: None)
    assert not hasattr(wrapped, "__dict__")
