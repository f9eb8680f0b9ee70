"""The API container: web services, listed and unlisted non-API routes, one shared mux.

Mirrors kube-apiserver's APIContainer so `/` can list exactly what kube lists and every
path is dispatched by the same ServeMux rules; web services can come and go at run time
(CRDs add groups) without stopping request handling.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kapisup.endpoints.status import METHOD_NOT_ALLOWED, write_status
from kapisup.mux.router import CurlyRouter, Handler, MethodNotAllowed, Route, join_path, route_specs
from kapisup.mux.servemux import (
    NOT_FOUND_MESSAGE,
    PathRecorderMux,
    ServeMux,
    StartResponse,
    WSGIApp,
)

METHOD_NOT_ALLOWED_MESSAGE = METHOD_NOT_ALLOWED

RouteSpec = Route | tuple[str | Iterable[str], str, Handler]


@dataclass(frozen=True, slots=True)
class WebService:
    """A registered root and its routes; templates are stored joined onto the root."""

    root_path: str
    prefix: str
    routes: tuple[Route, ...]
    listed: bool


def root_prefix(root_path: str) -> str:
    """The mux pattern base of a root: the text before its first `{`, as go-restful uses."""
    return root_path.split("{", 1)[0]


def mux_patterns(prefix: str) -> list[tuple[str, bool]]:
    """(pattern, is_subtree) a web-service prefix claims: `/x` plus `/x/`, or just `/x/`."""
    if prefix.endswith("/"):
        return [(prefix, True)]
    return [(prefix, False), (prefix + "/", True)]


class APIContainer:
    """WSGI app for everything behind the filter chain; see the module docstring.

    `non_swagger_routes` records its paths for the index; `unlisted_routes` is the bare mux.
    Writers serialise on a lock and swap immutable tables, so readers never lock.
    """

    def __init__(self, not_found: WSGIApp | None = None) -> None:
        self.mux = ServeMux(not_found)
        self.non_swagger_routes = PathRecorderMux(self.mux)
        self.unlisted_routes = self.mux
        self._lock = threading.Lock()
        self._services: dict[str, WebService] = {}
        self._routers: dict[str, CurlyRouter] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.mux(environ, start_response)

    def set_not_found(self, app: WSGIApp) -> None:
        self.mux.set_not_found(app)

    def add_web_service(
        self,
        root_path: str,
        routes: Iterable[RouteSpec],
        listed: bool = True,
        *,
        replace: bool = False,
    ) -> WebService:
        """Register routes (templates relative to `root_path`, "/" = the root itself).

        A second service with the same root is an error, as in go-restful, unless
        `replace` swaps it in one step so its paths never 404 in between.
        """
        if not root_path.startswith("/"):
            raise ValueError(f"web service root {root_path!r} must start with '/'")
        joined = tuple(
            Route(methods, join_path(root_path, template), handler)
            for methods, template, handler in route_specs(routes)
        )
        service = WebService(root_path, root_prefix(root_path), joined, listed)
        with self._lock:
            old = self._services.get(root_path)
            if old is not None and not replace:
                raise ValueError(f"web service with root {root_path!r} already added")
            services = dict(self._services)
            services[root_path] = service  # a replacement keeps its registration slot
            routers = dict(self._routers)
            routers[service.prefix] = _group_router(services, service.prefix)
            if old is not None and old.prefix != service.prefix:
                _regroup(routers, services, old.prefix)
            previous = (self._services, self._routers)
            # Tables first, mux second: a claimed pattern never dispatches to nothing.
            self._services, self._routers = services, routers
            if service.prefix not in previous[1]:
                try:
                    self._claim(service.prefix)
                except ValueError:
                    self._services, self._routers = previous
                    raise
            if old is not None and old.prefix not in routers:
                self._release(old.prefix)
        return service

    def remove_web_service(self, root_path: str) -> bool:
        """Drop a service; its mux patterns go too once no other service shares them."""
        with self._lock:
            if root_path not in self._services:
                return False
            services = dict(self._services)
            old = services.pop(root_path)
            routers = dict(self._routers)
            _regroup(routers, services, old.prefix)
            self._routers = routers
            self._services = services
            if old.prefix not in routers:
                self._release(old.prefix)
            return True

    def web_services(self) -> list[WebService]:
        """Registered services in registration order."""
        return list(self._services.values())

    def listed_paths(self) -> list[str]:
        """What the index shows: listed service roots plus recorded non-swagger paths."""
        roots = {ws.root_path for ws in self._services.values() if ws.listed}
        return sorted(roots | set(self.non_swagger_routes.recorded_paths()))

    def is_known_path(self, path: str) -> bool:
        """A registered pattern: a bounded set, so safe as a metrics label (else "other")."""
        return self.mux.has_pattern(path)

    def _claim(self, prefix: str) -> None:
        def dispatch(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            return self._serve(prefix, environ, start_response)

        done: list[tuple[str, bool]] = []
        try:
            for pattern, subtree in mux_patterns(prefix):
                if subtree:
                    self.mux.handle_prefix(pattern, dispatch)
                else:
                    self.mux.handle(pattern, dispatch)
                done.append((pattern, subtree))
        except ValueError:
            for pattern, subtree in done:
                self._unclaim_one(pattern, subtree)
            raise

    def _release(self, prefix: str) -> None:
        for pattern, subtree in mux_patterns(prefix):
            self._unclaim_one(pattern, subtree)

    def _unclaim_one(self, pattern: str, subtree: bool) -> None:
        if subtree:
            self.mux.unhandle_prefix(pattern)
        else:
            self.mux.unhandle(pattern)

    def _serve(
        self, prefix: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        router = self._routers.get(prefix)
        if router is None:  # removed between mux lookup and here
            return write_status(start_response, 404, NOT_FOUND_MESSAGE, details={})
        method = environ.get("REQUEST_METHOD", "GET")
        found = router.lookup(method, environ.get("PATH_INFO") or "/")
        if found is None:
            return write_status(start_response, 404, NOT_FOUND_MESSAGE, details={})
        if isinstance(found, MethodNotAllowed):
            return write_status(
                start_response,
                405,
                METHOD_NOT_ALLOWED_MESSAGE,
                details={},
                headers=[("Allow", found.allow_header)],
            )
        return found.handler(environ, start_response, found.params)


def _group_router(services: dict[str, WebService], prefix: str) -> CurlyRouter:
    """One router per mux prefix, over every service sharing it, in registration order."""
    router = CurlyRouter()
    for ws in services.values():
        if ws.prefix == prefix:
            for route in ws.routes:
                router.add(route.methods, route.template, route.handler)
    return router


def _regroup(routers: dict[str, CurlyRouter], services: dict[str, WebService], prefix: str) -> None:
    if any(ws.prefix == prefix for ws in services.values()):
        routers[prefix] = _group_router(services, prefix)
    else:
        routers.pop(prefix, None)


__all__ = [
    "METHOD_NOT_ALLOWED_MESSAGE",
    "APIContainer",
    "RouteSpec",
    "WebService",
    "mux_patterns",
    "root_prefix",
]
