"""CORS: unanchored Origin match, the reference's header values, 204 preflights."""

from __future__ import annotations

from wsgi_util import call, make_environ, ok_app

from kapisup.filters.cors import with_cors

PATTERNS = [r"example\.com$", r"^http://localhost(:\d+)?$"]


def recording_app(calls):
    app = ok_app()

    def wrapped(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        return app(environ, start_response)

    return wrapped


def test_empty_patterns_disable_the_filter():
    app = ok_app()
    assert with_cors(app, []) is app
    assert with_cors(app, ()) is app


def test_matching_origin_gets_cors_headers():
    response = call(with_cors(ok_app(), PATTERNS),
                    make_environ(headers={"Origin": "https://ui.example.com"}))
    assert response.code == 200
    assert response.body == b"ok"
    assert response.header("Access-Control-Allow-Origin") == "https://ui.example.com"
    assert response.header("Access-Control-Allow-Methods") == (
        "POST, GET, OPTIONS, PUT, DELETE, PATCH")
    assert response.header("Access-Control-Allow-Headers") == (
        "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, "
        "X-Requested-With, If-Modified-Since")
    assert response.header("Access-Control-Expose-Headers") == "Date"
    assert response.header("Access-Control-Allow-Credentials") == "true"
    assert response.header("Content-Type") == "text/plain"


def test_patterns_are_searched_not_anchored():
    app = with_cors(ok_app(), ["example"])
    response = call(app, make_environ(headers={"Origin": "https://www.example.org:8443"}))
    assert response.header("Access-Control-Allow-Origin") == "https://www.example.org:8443"


def test_non_matching_or_missing_origin_passes_through_untouched():
    app = with_cors(ok_app(), PATTERNS)
    for headers in ({"Origin": "https://evil.com"}, {"Origin": "http://localhost.evil.com"}, {}):
        response = call(app, make_environ(headers=headers))
        assert response.code == 200
        assert response.header("Access-Control-Allow-Origin") is None


def test_preflight_with_matching_origin_is_answered_204_without_the_app():
    calls = []
    response = call(with_cors(recording_app(calls), PATTERNS),
                    make_environ(method="OPTIONS", headers={"Origin": "http://localhost:3000"}))
    assert response.code == 204
    assert response.body == b""
    assert response.header("Access-Control-Allow-Origin") == "http://localhost:3000"
    assert calls == []


def test_options_from_an_unknown_origin_reaches_the_app():
    calls = []
    response = call(with_cors(recording_app(calls), PATTERNS),
                    make_environ(method="OPTIONS", headers={"Origin": "https://evil.com"}))
    assert response.code == 200
    assert calls == ["OPTIONS"]
