"""LongRunningCheck: watch and proxy verbs, streaming subresources of resource requests."""

from __future__ import annotations

import pytest

from kapisup.endpoints.request import RequestInfoResolver
from kapisup.filters.longrunning import LongRunningCheck

resolver = RequestInfoResolver()
check = LongRunningCheck()


@pytest.mark.parametrize(
    "method,path,query,expected",
    [
        ("GET", "/api/v1/pods", "watch=true", True),
        ("GET", "/api/v1/watch/namespaces/ns/pods", "", True),
        ("GET", "/api/v1/proxy/nodes/n1/x", "", True),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", "", True),
        ("POST", "/api/v1/namespaces/ns/pods/p/exec", "", True),
        ("POST", "/api/v1/namespaces/ns/pods/p/attach", "", True),
        ("POST", "/api/v1/namespaces/ns/pods/p/portforward", "", True),
        ("GET", "/api/v1/namespaces/ns/services/s/proxy", "", True),
        ("GET", "/api/v1/pods", "", False),
        ("GET", "/api/v1/namespaces/ns/pods/p", "watch=true", False),
        ("PUT", "/api/v1/namespaces/ns/pods/p/status", "", False),
        ("GET", "/healthz/log", "", False),
        ("GET", "/log", "", False),
    ],
)
def test_long_running(method, path, query, expected):
    assert check(resolver.resolve(method, path, query)) is expected


def test_custom_sets_and_missing_info():
    only_watch = LongRunningCheck(verbs={"watch"}, subresources=())
    assert only_watch(resolver.resolve("GET", "/api/v1/pods", "watch=1"))
    assert not only_watch(resolver.resolve("GET", "/api/v1/namespaces/n/pods/p/log", ""))
    assert not check(None)
