"""Which requests may outlive --request-timeout and the in-flight limits (watches, streams)."""

from __future__ import annotations

from collections.abc import Iterable

from kapisup.endpoints.request import RequestInfo


class LongRunningCheck:
    """True for a long-running verb, or a long-running subresource of a resource request."""

    __slots__ = ("_subresources", "_verbs")

    def __init__(
        self,
        verbs: Iterable[str] = ("watch", "proxy"),
        subresources: Iterable[str] = ("attach", "exec", "proxy", "log", "portforward"),
    ):
        self._verbs = frozenset(verbs)
        self._subresources = frozenset(subresources)

    def __call__(self, info: RequestInfo | None) -> bool:
        if info is None:
            return False
        if info.verb in self._verbs:
            return True
        return info.is_resource_request and info.subresource in self._subresources
