"""RequestInfoResolver against the reference's table and the modern-kube edge cases."""

from __future__ import annotations

import dataclasses

import pytest

from kapisup.endpoints.request import RequestInfo, RequestInfoError, RequestInfoResolver

resolver = RequestInfoResolver()


def resolve(method: str, url: str) -> RequestInfo:
    path, _, query = url.partition("?")
    return resolver.resolve(method, path, query)


# (method, url, verb, prefix, group, version, namespace, resource, name, subresource, parts)
TABLE = [
    ("GET", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", ("pods",)),
    ("GET", "/api/v1/pods?watch=true", "watch", "api", "", "v1", "", "pods", "", "", ("pods",)),
    ("GET", "/api/v1/namespaces", "list", "api", "", "v1", "", "namespaces", "", "",
     ("namespaces",)),
    ("GET", "/api/v1/namespaces/ns", "get", "api", "", "v1", "ns", "namespaces", "ns", "",
     ("namespaces", "ns")),
    ("PUT", "/api/v1/namespaces/ns/finalize", "update", "api", "", "v1", "ns", "namespaces", "ns",
     "finalize", ("namespaces", "ns", "finalize")),
    ("PUT", "/api/v1/namespaces/ns/status", "update", "api", "", "v1", "ns", "namespaces", "ns",
     "status", ("namespaces", "ns", "status")),
    ("PUT", "/api/v1/namespaces/ns/pods/name/status", "update", "api", "", "v1", "ns", "pods",
     "name", "status", ("pods", "name", "status")),
    ("DELETE", "/api/v1/namespaces/ns/pods", "deletecollection", "api", "", "v1", "ns", "pods",
     "", "", ("pods",)),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", "delete", "api", "", "v1", "ns", "pods", "p", "",
     ("pods", "p")),
    ("POST", "/apis/apps/v1beta1/namespaces/ns/deployments", "create", "apis", "apps", "v1beta1",
     "ns", "deployments", "", "", ("deployments",)),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", "patch", "apis", "apps", "v1",
     "ns", "deployments", "d", "scale", ("deployments", "d", "scale")),
    ("GET", "/api/v1/watch/namespaces/ns/pods/name", "watch", "api", "", "v1", "ns", "pods",
     "name", "", ("pods", "name")),
    ("GET", "/api/v1/watch/pods", "watch", "api", "", "v1", "", "pods", "", "", ("pods",)),
    ("GET", "/api/v1/proxy/namespaces/ns/services/svc/a/b", "proxy", "api", "", "v1", "ns",
     "services", "svc", "", ("services", "svc", "a", "b")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", "get", "api", "", "v1", "ns", "pods", "p", "log",
     ("pods", "p", "log")),
    ("GET", "/api/v1/namespaces/ns/pods/p?watch=true", "get", "api", "", "v1", "ns", "pods", "p",
     "", ("pods", "p")),
    ("HEAD", "/api/v1/nodes/n1", "get", "api", "", "v1", "", "nodes", "n1", "", ("nodes", "n1")),
    ("OPTIONS", "/api/v1/pods", "", "api", "", "v1", "", "pods", "", "", ("pods",)),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "get", "apis",
     "rbac.authorization.k8s.io", "v1", "", "clusterroles", "admin", "",
     ("clusterroles", "admin")),
]


@pytest.mark.parametrize(
    "method,url,verb,prefix,group,version,namespace,resource,name,sub,parts", TABLE
)
def test_resource_requests(method, url, verb, prefix, group, version, namespace, resource, name,
                           sub, parts):
    info = resolve(method, url)
    assert info.is_resource_request
    assert info.path == url.partition("?")[0]
    assert (info.verb, info.api_prefix, info.api_group, info.api_version) == (
        verb, prefix, group, version)
    assert (info.namespace, info.resource, info.name, info.subresource) == (
        namespace, resource, name, sub)
    assert info.parts == parts


@pytest.mark.parametrize(
    "method,path,verb,prefix",
    [
        ("GET", "/healthz", "get", ""),
        ("GET", "/", "get", ""),
        ("GET", "", "get", ""),
        ("POST", "/healthz/ping", "post", ""),
        ("GET", "/api/v1", "get", ""),
        ("GET", "/api", "get", ""),
        ("GET", "/apis/extensions/v1beta1", "get", "apis"),
        ("GET", "/apis/apps/v1/", "get", "apis"),
        ("GET", "/other/v1/pods", "get", ""),
        ("DELETE", "/metrics", "delete", ""),
    ],
)
def test_non_resource_requests(method, path, verb, prefix):
    info = resolver.resolve(method, path, "")
    assert not info.is_resource_request
    assert info.verb == verb
    assert info.api_prefix == prefix
    assert info.path == path
    assert (info.resource, info.name, info.namespace, info.api_group) == ("", "", "", "")


@pytest.mark.parametrize(
    "query,verb",
    [
        ("watch=true", "watch"),
        ("watch=1", "watch"),
        ("watch=True", "watch"),
        ("watch=false", "list"),
        ("watch=FALSE", "list"),
        ("watch=0", "list"),
        ("watch=", "list"),
        ("labelSelector=a%3Db&watch=true", "watch"),
        ("watch=false&watch=true", "list"),  # the first value counts
        ("watchy=true", "list"),
        ("resourceVersion=5&allowWatchBookmarks=true", "list"),
        ("", "list"),
    ],
)
def test_watch_query_parameter(query, verb):
    assert resolver.resolve("GET", "/api/v1/namespaces/ns/pods", query).verb == verb


@pytest.mark.parametrize("path", ["/api/v1/watch", "/api/v1/proxy", "/apis/apps/v1/watch",
                                  "/api/v1/watch/"])
def test_special_verb_without_anything_after_it_is_an_error(path):
    with pytest.raises(RequestInfoError, match="unable to determine kind and namespace"):
        resolver.resolve("GET", path, "")


def test_error_names_the_url():
    with pytest.raises(RequestInfoError, match=r"/api/v1/watch\?x=1"):
        resolver.resolve("GET", "/api/v1/watch", "x=1")


def test_namespace_object_with_more_parts_is_a_resource_in_it():
    info = resolve("GET", "/api/v1/namespaces/ns/configmaps/cm")
    assert (info.namespace, info.resource, info.name) == ("ns", "configmaps", "cm")


def test_proxy_verb_has_no_subresource_but_keeps_parts():
    info = resolve("GET", "/api/v1/proxy/nodes/n1/stats/summary")
    assert info.verb == "proxy"
    assert info.subresource == ""
    assert info.parts == ("nodes", "n1", "stats", "summary")


def test_extra_slashes_are_trimmed_at_the_ends_only():
    info = resolve("GET", "//api/v1/pods/")
    assert info.is_resource_request
    assert (info.verb, info.resource) == ("list", "pods")


def test_custom_prefixes():
    custom = RequestInfoResolver(api_prefixes=("api", "apis", "custom"), groupless_prefixes=())
    info = custom.resolve("GET", "/custom/g/v1/things", "")
    assert (info.api_prefix, info.api_group, info.api_version, info.resource) == (
        "custom", "g", "v1", "things")
    # `api` is not groupless any more: its second part is read as the group.
    legacy = custom.resolve("GET", "/api/v1/pods", "")
    assert not legacy.is_resource_request


def test_request_info_is_immutable():
    info = resolve("GET", "/api/v1/pods")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.verb = "delete"  # type: ignore[misc]
