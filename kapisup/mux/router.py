"""Curly-brace path router for API web services (go-restful's CurlyRouter, reimplemented).

The Kubernetes API registers hundreds of routes, so lookup walks a segment trie instead of
trying every route's regex: cost grows with path depth and the few parameter branches the
path actually reaches, not with the number of routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

StartResponse = Callable[..., Any]
Handler = Callable[[dict[str, Any], StartResponse, dict[str, str]], Iterable[bytes]]

ANY_METHOD = "*"
TAIL_PARAM = "*"

_STATIC, _PARAM, _TAIL = 0, 1, 2


class Route(NamedTuple):
    """One registered route; `methods` containing "*" accepts every method."""

    methods: frozenset[str]
    template: str
    handler: Handler


@dataclass(frozen=True, slots=True)
class Match:
    """A successful lookup: the route plus the values its `{...}` segments captured."""

    route: Route
    params: dict[str, str]

    @property
    def handler(self) -> Handler:
        return self.route.handler

    @property
    def template(self) -> str:
        return self.route.template


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """The path matched some route but none accepts the method; `allowed` feeds `Allow`."""

    allowed: tuple[str, ...]

    @property
    def allow_header(self) -> str:
        return ", ".join(self.allowed)


class _Entry(NamedTuple):
    route: Route
    # (kind, static text or param name) per template segment.
    segments: tuple[tuple[int, str], ...]
    # Sort key: more static segments first, then more params, then no tail, then order.
    rank: tuple[int, int, int, int]


class _Node:
    """Trie node; params and tails carry no name here because names differ per route."""

    __slots__ = ("leaves", "param", "static", "tails")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.leaves: list[_Entry] = []
        self.tails: list[_Entry] = []


def normalize_methods(methods: str | Iterable[str]) -> frozenset[str]:
    """Accept "GET" or ["GET", "head"]; upper-cased so lookups need no case folding."""
    items = [methods] if isinstance(methods, str) else list(methods)
    out = frozenset(m.strip().upper() for m in items if m.strip())
    if not out:
        raise ValueError("a route needs at least one method")
    return out


def parse_template(template: str) -> tuple[tuple[int, str], ...]:
    """Split a template into typed segments, rejecting forms the router cannot honour."""
    parts = _split(template)[0]
    out: list[tuple[int, str]] = []
    for i, part in enumerate(parts):
        if not (part.startswith("{") and part.endswith("}")):
            if "{" in part or "}" in part:
                raise ValueError(f"{template!r}: a parameter must fill a whole segment")
            if not part:
                raise ValueError(f"{template!r}: empty segment")
            out.append((_STATIC, part))
            continue
        inner = part[1:-1].strip()
        name, sep, pattern = inner.partition(":")
        name, pattern = name.strip(), pattern.strip()
        if inner == TAIL_PARAM or (sep and pattern == TAIL_PARAM):
            if i != len(parts) - 1:
                raise ValueError(f"{template!r}: a tail parameter must be the last segment")
            out.append((_TAIL, name or TAIL_PARAM))
        elif sep:
            raise ValueError(f"{template!r}: only {{name}} and {{name:*}} are supported")
        elif not name:
            raise ValueError(f"{template!r}: parameter without a name")
        else:
            out.append((_PARAM, name))
    return tuple(out)


def _split(path: str) -> tuple[list[str], list[int]]:
    """Segments of a path and where each starts; one trailing slash is not a segment."""
    segs: list[str] = []
    starts: list[int] = []
    pos = 1 if path.startswith("/") else 0
    end = len(path)
    if end > pos and path.endswith("/"):
        end -= 1
    if end <= pos:
        return segs, starts
    while True:
        cut = path.find("/", pos, end)
        if cut < 0:
            segs.append(path[pos:end])
            starts.append(pos)
            return segs, starts
        segs.append(path[pos:cut])
        starts.append(pos)
        pos = cut + 1


class CurlyRouter:
    """Routes `{name}`/`{*}`/`{name:*}` templates; `add` is for setup, not live mutation.

    Callers that change routes at run time build a new router and swap it in (the
    container does), so readers never see a half-built trie.
    """

    def __init__(self, routes: Iterable[tuple[str | Iterable[str], str, Handler]] = ()) -> None:
        self._root = _Node()
        self._routes: list[Route] = []
        for methods, template, handler in routes:
            self.add(methods, template, handler)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def add(self, methods: str | Iterable[str], template: str, handler: Handler) -> Route:
        segments = parse_template(template)
        route = Route(normalize_methods(methods), template, handler)
        statics = sum(1 for kind, _ in segments if kind == _STATIC)
        params = sum(1 for kind, _ in segments if kind == _PARAM)
        has_tail = int(bool(segments) and segments[-1][0] == _TAIL)
        entry = _Entry(route, segments, (-statics, -params, has_tail, len(self._routes)))
        node = self._root
        for kind, text in segments:
            if kind == _STATIC:
                node = node.static.setdefault(text, _Node())
            elif kind == _PARAM:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node.tails.append(entry)
                break
        else:
            node.leaves.append(entry)
        self._routes.append(route)
        return route

    def lookup(self, method: str, path: str) -> Match | MethodNotAllowed | None:
        """Best route for method+path; MethodNotAllowed if only the method is wrong."""
        segs, starts = _split(path)
        found: list[tuple[_Entry, int]] = []
        _collect(self._root, segs, 0, found)
        if not found:
            return None
        found.sort(key=lambda hit: hit[0].rank)
        method = method.upper()
        for entry, at in found:
            methods = entry.route.methods
            if method in methods or ANY_METHOD in methods:
                return Match(entry.route, _params(entry, path, segs, starts, at))
        allowed = sorted({m for entry, _ in found for m in entry.route.methods})
        return MethodNotAllowed(tuple(allowed))


def _collect(node: _Node, segs: list[str], i: int, found: list[tuple[_Entry, int]]) -> None:
    """Every route matching segs[i:] below node, with the index where a tail starts."""
    found.extend((entry, i) for entry in node.tails)
    if i == len(segs):
        found.extend((entry, i) for entry in node.leaves)
        return
    seg = segs[i]
    child = node.static.get(seg)
    if child is not None:
        _collect(child, segs, i + 1, found)
    if node.param is not None and seg:
        _collect(node.param, segs, i + 1, found)


def _params(
    entry: _Entry, path: str, segs: list[str], starts: list[int], tail_at: int
) -> dict[str, str]:
    params: dict[str, str] = {}
    for i, (kind, name) in enumerate(entry.segments):
        if kind == _PARAM:
            params[name] = segs[i]
        elif kind == _TAIL:
            # Raw remainder so a trailing slash survives (proxies care about it).
            params[name] = path[starts[tail_at] :] if tail_at < len(segs) else ""
    return params


def join_path(root: str, template: str) -> str:
    """A route template under a web-service root, go-restful style: "/" means the root."""
    sub = template.strip("/")
    base = root.rstrip("/")
    if not sub:
        return base or "/"
    return f"{base}/{sub}"


def route_specs(
    routes: Iterable[Route | tuple[str | Iterable[str], str, Handler]],
) -> list[tuple[frozenset[str], str, Handler]]:
    """Normalise user route tuples early so bad templates fail at registration time."""
    out: list[tuple[frozenset[str], str, Handler]] = []
    for methods, template, handler in routes:
        parse_template(template)
        out.append((normalize_methods(methods), template, handler))
    return out


__all__ = [
    "ANY_METHOD",
    "TAIL_PARAM",
    "CurlyRouter",
    "Handler",
    "Match",
    "MethodNotAllowed",
    "Route",
    "join_path",
    "normalize_methods",
    "parse_template",
    "route_specs",
]
