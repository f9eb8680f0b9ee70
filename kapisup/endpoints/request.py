"""What a request is about (verb, resource, namespace...), resolved once from its URL.

Every filter after the first (limits, timeout, audit, authorization) decides on these fields,
so they are computed once per request and kept in the WSGI environ under `REQUEST_INFO`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

# A WSGI application, as every filter takes and returns one.
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Keys of the per-request values filters leave in the WSGI environ for the ones below them.
REQUEST_INFO = "kapisup.request_info"
USER = "kapisup.user"
AUDIT_ID = "kapisup.audit_id"
# The authenticated user when the request impersonates another one (USER then holds the latter).
IMPERSONATED_BY = "kapisup.impersonated_by"

# Path words that carry the verb themselves: /api/v1/watch/pods, /api/v1/proxy/nodes/n1/...
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
# After these verbs the third part is the start of a proxied path, not a subresource.
_VERBS_WITHOUT_SUBRESOURCE = frozenset({"proxy"})
# /namespaces/<ns>/<one of these> addresses the namespace object, not a resource inside it.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_FALSE_WATCH = frozenset({"", "false", "0"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


class RequestInfoError(ValueError):
    """The URL names an API path whose kind and namespace cannot be told apart."""


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The authorization-relevant reading of a request, as kube's RequestInfo."""

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


class RequestInfoResolver:
    """Reads kube's URL layout: /<prefix>[/<group>]/<version>[/namespaces/<ns>]/<res>/<name>/<sub>.

    `groupless_prefixes` are the API prefixes without a group segment (the legacy `/api`).
    """

    __slots__ = ("_api_prefixes", "_groupless_prefixes")

    def __init__(
        self,
        api_prefixes: Iterable[str] = ("api", "apis"),
        groupless_prefixes: Iterable[str] = ("api",),
    ):
        self._api_prefixes = frozenset(p.strip("/") for p in api_prefixes)
        self._groupless_prefixes = frozenset(p.strip("/") for p in groupless_prefixes)

    def resolve(self, method: str, path: str, query_string: str = "") -> RequestInfo:
        """Resolve one request; raises RequestInfoError for a special verb with nothing after it."""
        trimmed = path.strip("/")
        parts = trimmed.split("/") if trimmed else []
        if len(parts) < 3 or parts[0] not in self._api_prefixes:
            return RequestInfo(False, path, method.lower())
        prefix = parts[0]
        api_group = ""
        if prefix in self._groupless_prefixes:
            rest = parts[1:]
        else:
            if len(parts) < 4:
                return RequestInfo(False, path, method.lower(), api_prefix=prefix)
            api_group = parts[1]
            rest = parts[2:]
        api_version = rest[0]
        rest = rest[1:]  # never empty here: at least one part follows the version

        if rest[0] in _SPECIAL_VERBS:
            if len(rest) < 2:
                raise RequestInfoError(
                    f"unable to determine kind and namespace from url, {_url(path, query_string)}"
                )
            verb = rest[0]
            rest = rest[1:]
        else:
            verb = _METHOD_VERBS.get(method, "")

        namespace = ""
        if rest[0] == "namespaces" and len(rest) > 1:
            namespace = rest[1]
            if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]

        n = len(rest)
        resource = rest[0]
        name = rest[1] if n >= 2 else ""
        subresource = rest[2] if n >= 3 and verb not in _VERBS_WITHOUT_SUBRESOURCE else ""

        if not name:
            if verb == "get":
                verb = "watch" if _wants_watch(query_string) else "list"
            elif verb == "delete":
                verb = "deletecollection"

        return RequestInfo(
            True, path, verb, prefix, api_group, api_version, namespace, resource, subresource,
            name, tuple(rest),
        )


def _wants_watch(query_string: str) -> bool:
    """A list turns into a watch when `watch` is given and not false-ish (first value counts)."""
    if "watch" not in query_string:
        return False
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key == "watch":
            return value.lower() not in _FALSE_WATCH
    return False


def _url(path: str, query_string: str) -> str:
    return f"{path}?{query_string}" if query_string else path
