"""CurlyRouter: precedence, params, tails, 404 versus 405."""

from __future__ import annotations

import pytest

from kapisup.mux.router import CurlyRouter, Match, MethodNotAllowed, join_path, parse_template


def h(name: str):
    def handler(environ, start_response, params):  # pragma: no cover - identity only
        return [name.encode()]

    handler.__name__ = name
    return handler


def matched(result: object) -> Match:
    assert isinstance(result, Match), result
    return result


def test_static_route_and_params() -> None:
    items = h("items")
    router = CurlyRouter([("GET", "/api/v1/namespaces/{namespace}/{resource}/{name}", items)])
    m = matched(router.lookup("GET", "/api/v1/namespaces/default/pods/web-1"))
    assert m.handler is items
    assert m.params == {"namespace": "default", "resource": "pods", "name": "web-1"}
    assert m.template == "/api/v1/namespaces/{namespace}/{resource}/{name}"


def test_unnamed_tail_keeps_slashes() -> None:
    router = CurlyRouter([("GET", "/proxy/{kind}/{name}/{*}", h("proxy"))])
    m = matched(router.lookup("GET", "/proxy/pods/p1/a/b/c"))
    assert m.params == {"kind": "pods", "name": "p1", "*": "a/b/c"}


def test_named_tail_empty_and_trailing_slash() -> None:
    router = CurlyRouter([("GET", "/logs/{logpath:*}", h("file"))])
    assert matched(router.lookup("GET", "/logs")).params == {"logpath": ""}
    assert matched(router.lookup("GET", "/logs/")).params == {"logpath": ""}
    assert matched(router.lookup("GET", "/logs/x/y/")).params == {"logpath": "x/y/"}


def test_static_beats_param_beats_tail() -> None:
    static, param, tail = h("static"), h("param"), h("tail")
    router = CurlyRouter(
        [
            ("GET", "/api/v1/{resource:*}", tail),
            ("GET", "/api/v1/{resource}", param),
            ("GET", "/api/v1/namespaces", static),
        ]
    )
    assert matched(router.lookup("GET", "/api/v1/namespaces")).handler is static
    assert matched(router.lookup("GET", "/api/v1/pods")).handler is param
    assert matched(router.lookup("GET", "/api/v1/pods/x")).handler is tail


def test_more_static_segments_win_regardless_of_position() -> None:
    late_static, early_static = h("late"), h("early")
    router = CurlyRouter(
        [
            ("GET", "/a/{x}/{y}/{z}", early_static),
            ("GET", "/{w}/b/c/d", late_static),
        ]
    )
    assert matched(router.lookup("GET", "/a/b/c/d")).handler is late_static
    assert matched(router.lookup("GET", "/a/q/c/d")).handler is early_static


def test_non_tail_beats_tail_on_same_counts() -> None:
    listing, file = h("listing"), h("file")
    router = CurlyRouter([("GET", "/logs/{p:*}", file), ("GET", "/logs", listing)])
    assert matched(router.lookup("GET", "/logs")).handler is listing
    assert matched(router.lookup("GET", "/logs/")).handler is listing


def test_tie_goes_to_registration_order() -> None:
    first, second = h("first"), h("second")
    router = CurlyRouter([("GET", "/x/{a}", first), ("GET", "/x/{b}", second)])
    m = matched(router.lookup("GET", "/x/1"))
    assert m.handler is first
    assert m.params == {"a": "1"}


def test_param_needs_one_non_empty_segment() -> None:
    router = CurlyRouter([("GET", "/x/{name}", h("one"))])
    assert router.lookup("GET", "/x") is None
    assert router.lookup("GET", "/x/a/b") is None
    assert matched(router.lookup("GET", "/x/a/")).params == {"name": "a"}


def test_unknown_path_is_none() -> None:
    router = CurlyRouter([("GET", "/api/v1", h("v1"))])
    assert router.lookup("GET", "/api/v2") is None
    assert router.lookup("GET", "/api") is None
    assert router.lookup("GET", "/api/v1/extra") is None


def test_wrong_method_is_405_with_union_of_allowed() -> None:
    router = CurlyRouter(
        [
            (["GET", "post"], "/api/v1/namespaces/{ns}/pods", h("pods")),
            ("DELETE", "/api/v1/namespaces/{ns}/{resource}", h("any")),
        ]
    )
    result = router.lookup("PUT", "/api/v1/namespaces/default/pods")
    assert isinstance(result, MethodNotAllowed)
    assert result.allowed == ("DELETE", "GET", "POST")
    assert result.allow_header == "DELETE, GET, POST"


def test_method_falls_back_to_less_specific_route() -> None:
    specific, generic = h("specific"), h("generic")
    router = CurlyRouter(
        [("GET", "/api/v1/pods", specific), ("DELETE", "/api/v1/{resource}", generic)]
    )
    assert matched(router.lookup("DELETE", "/api/v1/pods")).handler is generic
    assert matched(router.lookup("get", "/api/v1/pods")).handler is specific


def test_any_method_route() -> None:
    router = CurlyRouter([("*", "/proxy/{*}", h("proxy"))])
    assert isinstance(router.lookup("PATCH", "/proxy/a"), Match)


def test_root_template() -> None:
    root = h("root")
    router = CurlyRouter([("GET", "/", root)])
    assert matched(router.lookup("GET", "/")).handler is root
    assert router.lookup("GET", "/x") is None


@pytest.mark.parametrize(
    "template",
    ["/x/{a}b", "/x/{*}/y", "/x/{a:[0-9]+}", "/x/{}", "/x//y", "/x/{p:*}/z"],
)
def test_bad_templates_rejected(template: str) -> None:
    with pytest.raises(ValueError):
        CurlyRouter([("GET", template, h("bad"))])


def test_empty_methods_rejected() -> None:
    with pytest.raises(ValueError):
        CurlyRouter([([], "/x", h("bad"))])


def test_parse_template_kinds() -> None:
    assert [name for _, name in parse_template("/a/{b}/{c:*}")] == ["a", "b", "c"]


def test_join_path() -> None:
    assert join_path("/version", "/") == "/version"
    assert join_path("/api/v1", "/namespaces/{ns}") == "/api/v1/namespaces/{ns}"
    assert join_path("/swaggerapi/", "{path:*}") == "/swaggerapi/{path:*}"
    assert join_path("/", "/") == "/"


def test_many_routes_still_pick_the_right_one() -> None:
    router = CurlyRouter()
    handlers = {}
    for i in range(500):
        handlers[i] = h(f"r{i}")
        router.add("GET", f"/apis/group{i}/v1/namespaces/{{ns}}/things", handlers[i])
    m = matched(router.lookup("GET", "/apis/group377/v1/namespaces/kube/things"))
    assert m.handler is handlers[377]
    assert m.params == {"ns": "kube"}
    assert len(router) == 500
