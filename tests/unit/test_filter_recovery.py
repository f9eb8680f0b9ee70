"""Panic recovery: 500 Status without leaking details, the worker keeps serving, access log."""

from __future__ import annotations

import gevent
import pytest
from wsgi_util import RecordingLogger, call, make_environ, ok_app

from kapisup.auth.user import UserInfo
from kapisup.filters.recovery import with_panic_recovery


def crashing_app(environ, start_response):
    raise ValueError("secret database password in the message")


def test_exception_becomes_500_status_and_is_logged_with_traceback():
    logger = RecordingLogger()
    response = call(with_panic_recovery(crashing_app, logger, access_log=False), make_environ())
    assert response.code == 500
    status = response.json()
    assert status["reason"] == "InternalError"
    assert status["message"].startswith("Internal error occurred:")
    assert b"secret" not in response.body
    assert b"Traceback" not in response.body
    [(level, _, fields)] = logger.records
    assert level == "error"
    assert fields["exc_info"][0] is ValueError


def test_worker_keeps_serving_after_a_panic():
    logger = RecordingLogger()
    calls = []

    def sometimes(environ, start_response):
        calls.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/crash":
            raise RuntimeError("boom")
        return ok_app()(environ, start_response)

    app = with_panic_recovery(sometimes, logger, access_log=False)
    assert call(app, make_environ(path="/crash")).code == 500
    assert call(app, make_environ(path="/fine")).code == 200
    assert call(app, make_environ(path="/crash")).code == 500
    assert call(app, make_environ(path="/fine")).body == b"ok"
    assert calls == ["/crash", "/fine", "/crash", "/fine"]


def test_exception_after_start_response_replaces_the_status():
    def app(environ, start_response):
        start_response("200 OK", [("X-Partial", "1")])
        raise RuntimeError("late")

    response = call(with_panic_recovery(app, RecordingLogger(), False), make_environ())
    assert response.code == 500
    assert response.header("X-Partial") is None


def test_exception_while_iterating_before_any_output_is_a_500():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b""
        raise RuntimeError("lazy failure")

    response = call(with_panic_recovery(app, RecordingLogger(), False), make_environ())
    assert response.code == 500
    assert response.json()["reason"] == "InternalError"


def test_exception_after_output_was_sent_is_reraised_to_drop_the_connection():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"partial"
        raise RuntimeError("mid-stream")

    logger = RecordingLogger()
    with pytest.raises(RuntimeError, match="mid-stream"):
        call(with_panic_recovery(app, logger, False), make_environ())


def test_gevent_timeout_is_not_swallowed():
    def app(environ, start_response):
        raise gevent.Timeout()

    with pytest.raises(gevent.Timeout):
        call(with_panic_recovery(app, RecordingLogger(), False), make_environ())


def test_access_log_line_fields():
    logger = RecordingLogger()
    environ = make_environ(method="GET", path="/api/v1/namespaces/ns/pods", query="limit=5",
                           headers={"User-Agent": "kubectl/v1.30"}, remote="10.0.0.7",
                           resolve=True, user=UserInfo("alice"))
    response = call(with_panic_recovery(ok_app(b"12345"), logger, access_log=True), environ)
    assert response.code == 200
    [(level, event, fields)] = logger.records
    assert (level, event) == ("info", "request")
    assert fields["method"] == "GET"
    assert fields["path"] == "/api/v1/namespaces/ns/pods?limit=5"
    assert fields["status"] == 200
    assert fields["bytes"] == 5
    assert fields["remote"] == "10.0.0.7"
    assert fields["user_agent"] == "kubectl/v1.30"
    assert fields["user"] == "alice"
    assert fields["verb"] == "list"
    assert fields["duration_ms"] >= 0


def test_access_log_for_streamed_body_is_written_on_close():
    logger = RecordingLogger()

    def app(environ, start_response):
        start_response("201 Created", [])
        yield b"ab"
        yield b"cde"

    call(with_panic_recovery(app, logger, access_log=True), make_environ())
    [(_, _, fields)] = logger.at("info")
    assert (fields["status"], fields["bytes"]) == (201, 5)


def test_access_log_of_a_panic_has_status_500_and_no_user():
    logger = RecordingLogger()
    call(with_panic_recovery(crashing_app, logger, access_log=True), make_environ())
    [(_, _, fields)] = logger.at("info")
    assert fields["status"] == 500
    assert fields["user"] is None
    assert len(logger.at("error")) == 1


def test_no_access_log_when_off():
    logger = RecordingLogger()
    call(with_panic_recovery(ok_app(), logger, access_log=False), make_environ())
    assert logger.records == []
