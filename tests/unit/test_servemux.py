"""ServeMux: Go 1.7 ServeMux rules as kube-apiserver 1.6 shows them on the wire."""

from __future__ import annotations

import pytest
from wsgi_util import call, make_environ, request, text_app

from kapisup.mux.servemux import PathRecorderMux, ServeMux, clean_path, is_api_path


@pytest.fixture
def mux() -> ServeMux:
    m = ServeMux()
    m.handle("/", text_app("index"))
    m.handle("/healthz", text_app("healthz"))
    m.handle_prefix("/ui/", text_app("ui"))
    m.handle_prefix("/debug/pprof/", text_app("pprof"))
    m.handle("/debug/pprof/trace", text_app("trace"))
    m.set_not_found(text_app("index-404", "404 Not Found"))
    return m


def test_exact_match(mux: ServeMux) -> None:
    assert request(mux, path="/healthz").body == b"healthz"
    assert request(mux, path="/").body == b"index"


def test_exact_pattern_does_not_cover_subpaths(mux: ServeMux) -> None:
    resp = request(mux, path="/healthz/")
    assert resp.code == 404
    assert resp.body == b"index-404"


def test_subtree_matches_everything_below(mux: ServeMux) -> None:
    assert request(mux, path="/ui/").body == b"ui"
    assert request(mux, path="/ui/a/b").body == b"ui"


def test_longest_pattern_wins(mux: ServeMux) -> None:
    assert request(mux, path="/debug/pprof/trace").body == b"trace"
    assert request(mux, path="/debug/pprof/heap").body == b"pprof"
    mux.handle_prefix("/debug/", text_app("debug"))
    assert request(mux, path="/debug/pprof/heap").body == b"pprof"
    assert request(mux, path="/debug/vars").body == b"debug"


def test_subtree_redirects_bare_path(mux: ServeMux) -> None:
    resp = request(mux, path="/ui", query="a=1")
    assert resp.code == 301
    assert resp.header("Location") == "/ui/"  # Go 1.7 drops the query here
    assert b'href="/ui/"' in resp.body


def test_explicit_bare_path_beats_implicit_redirect(mux: ServeMux) -> None:
    mux.handle("/ui", text_app("bare"))
    assert request(mux, path="/ui").body == b"bare"


def test_star_target_is_400_connection_close(mux: ServeMux) -> None:
    resp = call(mux, make_environ("OPTIONS", "", raw_uri="*"))
    assert resp.code == 400
    assert resp.body == b""
    assert resp.header("Connection") == "close"


def test_star_target_on_http10_has_no_connection_header(mux: ServeMux) -> None:
    resp = call(mux, make_environ("GET", "", raw_uri="*", protocol="HTTP/1.0"))
    assert resp.code == 400
    assert resp.header("Connection") is None


def test_raw_uri_used_when_request_uri_missing(mux: ServeMux) -> None:
    env = make_environ("GET", "*")
    del env["REQUEST_URI"]
    env["RAW_URI"] = "*"
    assert call(mux, env).code == 400


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("//api", "", "/api"),
        ("/api/v1/../v1", "watch=1", "/api/v1?watch=1"),
        ("/api/./v1", "", "/api/v1"),
        ("/api/v1/", "", None),
        ("/a//b/", "x=1&y=2", "/a/b/?x=1&y=2"),
        ("/a/b/..", "", "/a"),
        ("/..", "", "/"),
    ],
)
def test_unclean_paths_redirect(mux: ServeMux, path: str, query: str, location: str | None) -> None:
    resp = request(mux, path=path, query=query)
    if location is None:
        assert resp.code != 301
        return
    assert resp.code == 301
    assert resp.header("Location") == location
    assert resp.body.startswith(b'<a href="')
    assert b"Moved Permanently</a>." in resp.body


def test_redirect_escapes_location() -> None:
    mux = ServeMux()
    resp = request(mux, path="//a b/\u00e9")
    assert resp.header("Location") == "/a%20b/%E9"


def test_redirect_body_only_for_get(mux: ServeMux) -> None:
    resp = request(mux, "POST", "//api")
    assert resp.code == 301
    assert resp.header("Location") == "/api"
    assert resp.body == b""


def test_connect_is_not_cleaned(mux: ServeMux) -> None:
    assert request(mux, "CONNECT", "/x/../healthz").code != 301


def test_api_404_is_status(mux: ServeMux) -> None:
    for path in ("/api", "/api/v1/nope", "/apis", "/apis/apps/v1"):
        resp = request(mux, path=path)
        assert resp.code == 404, path
        assert resp.header("Content-Type") == "application/json"
        obj = resp.json()
        assert obj["kind"] == "Status"
        assert obj["code"] == 404
        assert obj["reason"] == "NotFound"
        assert obj["message"] == "the server could not find the requested resource"
        assert obj["details"] == {}


def test_api_404_even_with_catch_all_subtree() -> None:
    mux = ServeMux()
    mux.handle_prefix("/", text_app("catch-all"))
    assert request(mux, path="/foo").body == b"catch-all"
    assert request(mux, path="/apis/x").json()["kind"] == "Status"


def test_non_api_404_goes_to_hook(mux: ServeMux) -> None:
    for path in ("/foo", "/apiz", "/api-docs", "/healthz/nope"):
        resp = request(mux, path=path)
        assert resp.code == 404, path
        assert resp.body == b"index-404", path


def test_default_not_found_is_plain_text() -> None:
    resp = request(ServeMux(), path="/nothing")
    assert resp.code == 404
    assert resp.body == b"404 page not found\n"


def test_duplicate_and_bad_registrations_rejected(mux: ServeMux) -> None:
    with pytest.raises(ValueError):
        mux.handle("/healthz", text_app("again"))
    with pytest.raises(ValueError):
        mux.handle_prefix("/nope", text_app("no slash"))
    with pytest.raises(ValueError):
        mux.handle("relative", text_app("relative"))


def test_unhandle(mux: ServeMux) -> None:
    assert mux.unhandle("/healthz") is True
    assert mux.unhandle("/healthz") is False
    assert request(mux, path="/healthz").body == b"index-404"
    assert mux.unhandle_prefix("/ui/") is True
    assert request(mux, path="/ui").body == b"index-404"


def test_path_recorder_records_and_forwards() -> None:
    mux = ServeMux()
    recorder = PathRecorderMux(mux)
    recorder.handle("/metrics", text_app("metrics"))
    recorder.handle_prefix("/swagger-ui/", text_app("swagger"))
    mux.handle("/swagger.json", text_app("openapi"))
    assert recorder.recorded_paths() == ["/metrics", "/swagger-ui/"]
    assert request(mux, path="/swagger-ui/x").body == b"swagger"
    assert recorder.unhandle("/metrics") is True
    assert recorder.recorded_paths() == ["/swagger-ui/"]


def test_clean_path_helper() -> None:
    assert clean_path("") == "/"
    assert clean_path("a/b") == "/a/b"
    assert clean_path("/a/./b/../c/") == "/a/c/"
    assert clean_path("/.well-known") == "/.well-known"


def test_is_api_path() -> None:
    assert is_api_path("/api") and is_api_path("/apis/") and is_api_path("/api/v1")
    assert not is_api_path("/apiz") and not is_api_path("/") and not is_api_path("/apis2")
