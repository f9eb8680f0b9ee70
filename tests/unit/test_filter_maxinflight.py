"""Max-in-flight: per-class limits under real greenlet concurrency, release on body close."""

from __future__ import annotations

import gevent
import gevent.event
import pytest
from wsgi_util import call, finish, make_environ, ok_app, start

from kapisup.filters.longrunning import LongRunningCheck
from kapisup.filters.maxinflight import InFlightLimiter, with_max_in_flight

LONG_RUNNING = LongRunningCheck()


def blocking_app(release: gevent.event.Event, entered: list[str]):
    def app(environ, start_response):
        entered.append(environ["PATH_INFO"])
        release.wait()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    return app


def env(method: str = "GET", path: str = "/api/v1/namespaces/ns/pods/p", query: str = ""):
    return make_environ(method=method, path=path, query=query, resolve=True)


def test_concurrent_requests_over_the_limit_get_429():
    release = gevent.event.Event()
    entered: list[str] = []
    changes: list[tuple[str, int]] = []
    app = with_max_in_flight(blocking_app(release, entered), 2, 1, LONG_RUNNING,
                             lambda kind, current: changes.append((kind, current)))
    blocked = [gevent.spawn(call, app, env()) for _ in range(2)]
    gevent.sleep(0)  # let both enter and block inside the app
    assert len(entered) == 2

    rejected = call(app, env())
    assert rejected.code == 429
    assert rejected.header("Retry-After") == "1"
    status = rejected.json()
    assert status["reason"] == "TooManyRequests"
    assert status["message"] == "Too many requests, please try again later."
    assert status["details"] == {"retryAfterSeconds": 1}
    assert len(entered) == 2  # the rejected request never reached the app

    release.set()
    gevent.joinall(blocked, raise_error=True)
    assert [g.value.code for g in blocked] == [200, 200]
    assert call(app, env()).code == 200
    assert changes[:2] == [("readOnly", 1), ("readOnly", 2)]
    assert changes[-1] == ("readOnly", 0)


def test_mutating_and_read_only_are_counted_separately():
    release = gevent.event.Event()
    entered: list[str] = []
    app = with_max_in_flight(blocking_app(release, entered), 1, 1, LONG_RUNNING)
    reader = gevent.spawn(call, app, env("GET"))
    gevent.sleep(0)
    writer = gevent.spawn(call, app, env("POST", "/api/v1/namespaces/ns/pods"))
    gevent.sleep(0)
    assert len(entered) == 2
    assert call(app, env("DELETE")).code == 429  # mutating class full
    assert call(app, env("GET", "/api/v1/pods")).code == 429  # list is read-only: full
    release.set()
    gevent.joinall([reader, writer], raise_error=True)
    assert reader.value.code == writer.value.code == 200


def test_zero_disables_a_class():
    release = gevent.event.Event()
    entered: list[str] = []
    app = with_max_in_flight(blocking_app(release, entered), 0, 1, LONG_RUNNING)
    readers = [gevent.spawn(call, app, env()) for _ in range(5)]
    gevent.sleep(0)
    assert len(entered) == 5
    release.set()
    gevent.joinall(readers, raise_error=True)
    assert all(g.value.code == 200 for g in readers)


def test_both_zero_returns_the_app_unchanged():
    app = ok_app()
    assert with_max_in_flight(app, 0, 0, LONG_RUNNING) is app


def test_long_running_requests_bypass_the_limit():
    release = gevent.event.Event()
    entered: list[str] = []
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)
    app = limiter(blocking_app(release, entered))
    watches = [gevent.spawn(call, app, env(query="watch=true", path="/api/v1/pods"))
               for _ in range(3)]
    gevent.sleep(0)
    assert len(entered) == 3
    assert limiter.read_only.current == 0
    release.set()
    gevent.joinall(watches, raise_error=True)


def test_slot_is_held_until_the_body_is_closed():
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)

    def streaming(environ, start_response):
        start_response("200 OK", [])
        yield b"a"
        yield b"b"

    app = limiter(streaming)
    recorder, body = start(app, env())
    assert limiter.read_only.current == 1  # the app returned, the body is not sent yet
    assert call(app, env()).code == 429
    assert finish(recorder, body).body == b"ab"
    assert limiter.read_only.current == 0
    assert call(app, env()).code == 200


def test_inner_close_is_called_and_release_happens_once():
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)
    closed = []

    class Body:
        def __iter__(self):
            return iter([b"x"])

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    recorder, body = start(limiter(app), env())
    finish(recorder, body)
    body.close()  # a second close must not release twice
    assert closed == [True, True]
    assert limiter.read_only.current == 0


def test_no_leak_when_the_app_raises():
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)

    def app(environ, start_response):
        raise RuntimeError("boom")

    wrapped = limiter(app)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            call(wrapped, env())
    assert limiter.read_only.current == 0


def test_no_leak_when_the_body_or_its_close_raises():
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)

    class Body:
        def __iter__(self):
            raise OSError("client went away")
            yield b""

        def close(self):
            raise ValueError("close failed")

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    with pytest.raises(ValueError):
        call(limiter(app), env())
    assert limiter.read_only.current == 0


def test_body_dropped_without_close_still_releases():
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)

    def streaming(environ, start_response):
        start_response("200 OK", [])
        yield b"a"

    _, body = start(limiter(streaming), env())
    assert limiter.read_only.current == 1
    del body
    assert limiter.read_only.current == 0


def test_a_finished_list_body_frees_the_slot_at_once():
    limiter = InFlightLimiter(1, 1, LONG_RUNNING)
    _, body = start(limiter(ok_app()), env())
    assert type(body) is list  # passed through untouched: one write for headers and body
    assert limiter.read_only.current == 0


def test_missing_request_info_is_a_500():
    app = with_max_in_flight(ok_app(), 1, 1, LONG_RUNNING)
    assert call(app, make_environ()).code == 500
