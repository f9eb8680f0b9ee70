"""APIContainer: web services behind the mux, routing errors as Status, listed paths."""

from __future__ import annotations

import pytest
from wsgi_util import request, route_handler, text_app

from kapisup.mux.container import APIContainer


@pytest.fixture
def container() -> APIContainer:
    c = APIContainer()
    c.add_web_service("/api", [("GET", "/", route_handler("api"))])
    c.add_web_service(
        "/api/v1",
        [
            ("GET", "/", route_handler("v1")),
            (["GET", "POST"], "/namespaces/{namespace}/{resource}", route_handler("list")),
            (["GET", "DELETE"], "/namespaces/{namespace}/{resource}/{name}", route_handler("item")),
            ("GET", "/proxy/{kind}/{name}/{*}", route_handler("proxy")),
        ],
    )
    c.add_web_service("/version", [("GET", "/", route_handler("version"))])
    c.add_web_service(
        "/logs",
        [("GET", "/", route_handler("logdir")), ("GET", "/{logpath:*}", route_handler("logfile"))],
    )
    c.non_swagger_routes.handle("/healthz", text_app("ok"))
    c.non_swagger_routes.handle("/metrics", text_app("metrics"))
    c.non_swagger_routes.handle_prefix("/ui/", text_app("ui"))
    c.unlisted_routes.handle("/", text_app("index"))
    c.unlisted_routes.handle("/swagger.json", text_app("openapi"))
    c.set_not_found(text_app("index-404", "404 Not Found"))
    return c


def test_routes_dispatch_with_params(container: APIContainer) -> None:
    obj = request(container, path="/api/v1/namespaces/default/pods/web").json()
    assert obj == {
        "route": "item",
        "params": {"namespace": "default", "resource": "pods", "name": "web"},
    }
    assert request(container, path="/api/v1").json()["route"] == "v1"
    assert request(container, path="/api/v1/").json()["route"] == "v1"
    assert request(container, path="/api").json()["route"] == "api"


def test_proxy_tail(container: APIContainer) -> None:
    obj = request(container, path="/api/v1/proxy/pods/p1/a/b/c").json()
    assert obj["params"] == {"kind": "pods", "name": "p1", "*": "a/b/c"}


def test_root_route_and_tail_route(container: APIContainer) -> None:
    assert request(container, path="/version").json()["route"] == "version"
    assert request(container, path="/logs").json()["route"] == "logdir"
    obj = request(container, path="/logs/kube/apiserver.log").json()
    assert obj == {"route": "logfile", "params": {"logpath": "kube/apiserver.log"}}


def test_404_inside_web_service_is_status(container: APIContainer) -> None:
    resp = request(container, path="/api/v1/nope")
    assert resp.code == 404
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }
    assert request(container, path="/version/extra").json()["reason"] == "NotFound"


def test_405_is_status_with_allow(container: APIContainer) -> None:
    resp = request(container, "PUT", "/api/v1/namespaces/default/pods/web")
    assert resp.code == 405
    obj = resp.json()
    assert obj["reason"] == "MethodNotAllowed"
    assert obj["message"] == "the server does not allow this method on the requested resource"
    assert obj["details"] == {}
    assert resp.header("Allow") == "DELETE, GET"


def test_apis_without_web_service_is_status(container: APIContainer) -> None:
    resp = request(container, path="/apis/apps/v1beta1")
    assert resp.code == 404
    assert resp.json()["kind"] == "Status"


def test_non_api_paths(container: APIContainer) -> None:
    assert request(container, path="/").body == b"index"
    assert request(container, path="/healthz").body == b"ok"
    assert request(container, path="/swagger.json").body == b"openapi"
    resp = request(container, path="/foo")
    assert (resp.code, resp.body) == (404, b"index-404")
    assert request(container, path="/ui").code == 301


def test_mux_rules_apply_to_container(container: APIContainer) -> None:
    resp = request(container, path="/api/v1/../v1", query="pretty=1")
    assert resp.code == 301
    assert resp.header("Location") == "/api/v1?pretty=1"


def test_listed_paths(container: APIContainer) -> None:
    container.add_web_service("/hidden", [("GET", "/", route_handler("hidden"))], listed=False)
    assert container.listed_paths() == [
        "/api",
        "/api/v1",
        "/healthz",
        "/logs",
        "/metrics",
        "/ui/",
        "/version",
    ]
    assert request(container, path="/hidden").json()["route"] == "hidden"


def test_add_and_remove_web_service_at_run_time(container: APIContainer) -> None:
    path = "/apis/stable.example.com/v1/namespaces/default/crontabs"
    assert request(container, path=path).code == 404
    container.add_web_service(
        "/apis/stable.example.com/v1",
        [("GET", "/namespaces/{namespace}/crontabs", route_handler("crontabs"))],
    )
    assert request(container, path=path).json()["route"] == "crontabs"
    assert "/apis/stable.example.com/v1" in container.listed_paths()

    assert container.remove_web_service("/apis/stable.example.com/v1") is True
    resp = request(container, path=path)
    assert resp.code == 404
    assert resp.json()["kind"] == "Status"
    assert "/apis/stable.example.com/v1" not in container.listed_paths()
    assert container.remove_web_service("/apis/stable.example.com/v1") is False


def test_duplicate_root_rejected_unless_replace(container: APIContainer) -> None:
    with pytest.raises(ValueError):
        container.add_web_service("/version", [("GET", "/", route_handler("again"))])
    container.add_web_service("/version", [("GET", "/", route_handler("v2"))], replace=True)
    assert request(container, path="/version").json()["route"] == "v2"
    assert [ws.root_path for ws in container.web_services()] == [
        "/api",
        "/api/v1",
        "/version",
        "/logs",
    ]


def test_bad_route_leaves_no_trace(container: APIContainer) -> None:
    with pytest.raises(ValueError):
        container.add_web_service("/apis/bad", [("GET", "/{x:[0-9]}", route_handler("bad"))])
    assert "/apis/bad" not in container.listed_paths()
    assert request(container, path="/apis/bad").json()["kind"] == "Status"


def test_conflict_with_non_swagger_path_rolls_back(container: APIContainer) -> None:
    with pytest.raises(ValueError):
        container.add_web_service("/healthz", [("GET", "/", route_handler("clash"))])
    assert request(container, path="/healthz").body == b"ok"
    assert request(container, path="/healthz/x").body == b"index-404"
    assert all(ws.root_path != "/healthz" for ws in container.web_services())


def test_services_sharing_a_prefix(container: APIContainer) -> None:
    container.add_web_service("/x/{a}", [("GET", "/one", route_handler("a"))])
    container.add_web_service("/x/{b}", [("GET", "/two", route_handler("b"))])
    assert request(container, path="/x/q/one").json() == {"route": "a", "params": {"a": "q"}}
    assert request(container, path="/x/q/two").json() == {"route": "b", "params": {"b": "q"}}
    container.remove_web_service("/x/{a}")
    assert request(container, path="/x/q/one").code == 404
    assert request(container, path="/x/q/two").json()["route"] == "b"
    container.remove_web_service("/x/{b}")
    assert request(container, path="/x/q/two").body == b"index-404"


def test_is_known_path_only_for_registered_patterns(container: APIContainer) -> None:
    for path in ("/", "/healthz", "/api", "/api/v1/", "/ui/", "/swagger.json", "/version"):
        assert container.is_known_path(path), path
    for path in ("/api/v1/namespaces", "/ui/x", "/foo", "/healthz/"):
        assert not container.is_known_path(path), path
