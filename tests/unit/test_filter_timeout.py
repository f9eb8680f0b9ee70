"""with_timeout: 504 Status for slow requests, long-running ones untouched, only its own Timeout."""

from __future__ import annotations

import gevent
import pytest
from wsgi_util import call, make_environ, ok_app

from kapisup.filters.longrunning import LongRunningCheck
from kapisup.filters.timeout import TIMEOUT_MESSAGE, TimeoutAbort, with_timeout

LONG_RUNNING = LongRunningCheck()


def env(path: str = "/api/v1/namespaces/ns/pods/p", query: str = ""):
    return make_environ(path=path, query=query, resolve=True)


def sleeping_app(seconds: float):
    def app(environ, start_response):
        gevent.sleep(seconds)
        start_response("200 OK", [])
        return [b"late"]

    return app


def test_slow_app_gets_504_status():
    response = call(with_timeout(sleeping_app(5), 0.01, LONG_RUNNING), env())
    assert response.code == 504
    status = response.json()
    assert status["reason"] == "Timeout"
    assert status["message"] == TIMEOUT_MESSAGE
    assert status["details"]["retryAfterSeconds"] == 1
    assert response.header("Retry-After") == "1"
    assert b"late" not in response.body


def test_slow_body_after_start_response_still_gets_504_and_is_closed():
    closed = []

    def app(environ, start_response):
        start_response("200 OK", [("X-From-App", "1")])
        try:
            yield b"first"
            gevent.sleep(5)
            yield b"second"
        finally:
            closed.append(True)

    response = call(with_timeout(app, 0.01, LONG_RUNNING), env())
    assert response.code == 504
    assert response.header("X-From-App") is None
    assert response.start_calls == 1
    assert closed == [True]


def test_fast_app_passes_through_with_its_headers():
    response = call(with_timeout(ok_app(b"hello"), 5, LONG_RUNNING), env())
    assert response.code == 200
    assert response.body == b"hello"
    assert response.header("Content-Type") == "text/plain"


def test_generator_body_is_materialised_and_closed():
    closed = []

    def app(environ, start_response):
        start_response("201 Created", [])
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    response = call(with_timeout(app, 5, LONG_RUNNING), env())
    assert (response.code, response.body) == (201, b"ab")
    assert closed == [True]


def test_long_running_request_is_not_timed_out():
    app = with_timeout(sleeping_app(0.05), 0.001, LONG_RUNNING)
    assert call(app, env(path="/api/v1/pods", query="watch=true")).code == 200
    assert call(app, env(path="/api/v1/namespaces/ns/pods/p/log")).code == 200


def test_someone_elses_timeout_is_not_answered_as_504():
    def app(environ, start_response):
        with gevent.Timeout(0.001):
            gevent.sleep(5)
        return []

    with pytest.raises(gevent.Timeout):
        call(with_timeout(app, 0.05, LONG_RUNNING), env())
    # and the filter's own deadline was disarmed on the way out: armed, it would fire into
    # whatever this greenlet does next (the next request of a keep-alive connection)
    gevent.sleep(0.15)


def test_timeout_after_legacy_write_drops_the_connection():
    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"already sent")
        gevent.sleep(5)
        return []

    with pytest.raises(TimeoutAbort):
        call(with_timeout(app, 0.01, LONG_RUNNING), env())


def test_legacy_write_passes_headers_and_data_through():
    def app(environ, start_response):
        write = start_response("200 OK", [("X-A", "1")])
        write(b"one")
        return [b"two"]

    response = call(with_timeout(app, 5, LONG_RUNNING), env())
    assert (response.code, response.header("X-A"), response.body) == (200, "1", b"onetwo")


def test_app_exception_propagates_and_closes_the_body():
    closed = []

    class Body:
        def __iter__(self):
            raise KeyError("bug")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    with pytest.raises(KeyError):
        call(with_timeout(app, 5, LONG_RUNNING), env())
    assert closed == [True]


def test_the_deadline_is_cancelled_after_the_request():
    app = with_timeout(ok_app(), 0.01, LONG_RUNNING)
    assert call(app, env()).code == 200
    gevent.sleep(0.03)  # a leaked, still armed Timeout would fire into this greenlet here
