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
    """Store the request's RequestInfo in the environ; an unresolvable URL gets a 500 Status."""

    def request_info(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            environ[REQUEST_INFO] = resolver.resolve(
                environ.get("REQUEST_METHOD", "GET"),
                environ.get("PATH_INFO", "") or "/",
                environ.get("QUERY_STRING", ""),
            )
        except RequestInfoError as err:
            cause = f"failed to create RequestInfo: {err}"
            return write_status(
                start_response, 500, f"Internal error occurred: {cause}",
                details={"causes": [{"message": cause}]},
            )
        return app(environ, start_response)

    return request_info
