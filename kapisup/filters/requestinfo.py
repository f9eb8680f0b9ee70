"""First filter: resolve the RequestInfo every later filter decides on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapisup.endpoints.request import (
    REQUEST_INFO,
    RequestInfoError,
    RequestInfoResolver,
    WSGIApp,
)
from kapisup.endpoints.status import write_status


def with_request_info(app: WSGIApp, resolver: RequestInfoResolver) -> WSGIApp:
    """Store the request's RequestInfo in the environ; an unresolvable URL gets a 404 Status.

    kube-apiserver answers such URLs (`/api/v1/watch`, `/api/v1/proxy`) with a 500, but the
    mistake is the client's: no resource lives there, so kapisup says NotFound.
    """

    def request_info(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            environ[REQUEST_INFO] = resolver.resolve(
                environ.get("REQUEST_METHOD", "GET"),
                environ.get("PATH_INFO", "") or "/",
                environ.get("QUERY_STRING", ""),
            )
        except RequestInfoError as err:
            return write_status(
                start_response, 404, f"the server could not find the requested resource: {err}",
                details={},
            )
        return app(environ, start_response)

    return request_info
