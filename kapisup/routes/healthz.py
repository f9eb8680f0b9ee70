"""/healthz, /livez and /readyz with their per-check paths, as kube-apiserver answers them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

TEXT = "text/plain; charset=utf-8"

# A check returns None when healthy, or the reason it is not.
CheckFn = Callable[[], str | None]


@dataclass(frozen=True)
class HealthCheck:
    name: str
    check: CheckFn


def ping() -> str | None:
    return None


def _respond(start_response: Callable[..., Any], code: int, body: str) -> list[bytes]:
    data = body.encode()
    status = "200 OK" if code == 200 else "500 Internal Server Error"
    start_response(status, [("Content-Type", TEXT), ("Content-Length", str(len(data))),
                            ("X-Content-Type-Options", "nosniff")])
    return [data]


def root_handler(kind: str, checks: list[HealthCheck]) -> Callable[..., Iterable[bytes]]:
    """All checks at once: `ok`, or a listing of each check with `?verbose`."""

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        excluded = {name for value in query.get("exclude", []) for name in value.split(",")}
        verbose = "verbose" in query
        lines, failed = [], False
        for health in checks:
            if health.name in excluded:
                lines.append(f"[+]{health.name} excluded: ok")
                continue
            problem = health.check()
            if problem is None:
                lines.append(f"[+]{health.name} ok")
            else:
                failed = True
                lines.append(f"[-]{health.name} failed: reason withheld")
        if failed:
            return _respond(start_response, 500, "\n".join(lines) + f"\n{kind} check failed\n")
        if verbose:
            return _respond(start_response, 200, "\n".join(lines) + f"\n{kind} check passed\n")
        return _respond(start_response, 200, "ok")

    return handle


def check_handler(health: HealthCheck) -> Callable[..., Iterable[bytes]]:
    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        problem = health.check()
        if problem is None:
            return _respond(start_response, 200, "ok")
        return _respond(start_response, 500, f"internal server error: {problem}\n")

    return handle
