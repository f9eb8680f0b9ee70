"""with_request_info stores the resolved RequestInfo or answers a 404 Status."""

from __future__ import annotations

from wsgi_util import call, make_environ

from kapisup.endpoints.request import REQUEST_INFO, RequestInfoResolver
from kapisup.filters.requestinfo import with_request_info


def test_request_info_reaches_the_app():
    seen = {}

    def app(environ, start_response):
        seen["info"] = environ[REQUEST_INFO]
        start_response("200 OK", [])
        return [b""]

    response = call(with_request_info(app, RequestInfoResolver()), method="GET",
                    path="/api/v1/namespaces/ns/pods", query="watch=1")
    assert response.code == 200
    info = seen["info"]
    assert (info.verb, info.namespace, info.resource) == ("watch", "ns", "pods")


def test_unresolvable_url_is_a_404_status_and_the_app_is_not_called():
    called = []

    def app(environ, start_response):
        called.append(True)
        start_response("200 OK", [])
        return [b""]

    response = call(with_request_info(app, RequestInfoResolver()),
                    make_environ(path="/api/v1/watch"))
    assert response.code == 404
    status = response.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["message"].startswith("the server could not find the requested resource")
    assert "/api/v1/watch" in status["message"]
    assert called == []
