"""Who is asking: put the authenticated UserInfo in the environ, or answer 401."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapisup.auth.authenticator import AuthenticationError, Authenticator
from kapisup.endpoints.request import USER, WSGIApp
from kapisup.endpoints.status import write_status
from kapisup.observability.logging import get_logger

_LOGGER = "kapisup.authentication"  # looked up when used: configure_logging() runs after import


def with_authentication(app: WSGIApp, authenticator: Authenticator) -> WSGIApp:
    """Authenticate, then drop the Authorization header so nothing below can replay it."""

    def authentication(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            user = authenticator.authenticate(environ)
        except AuthenticationError as err:
            # debug, not warning: a client retrying a bad token must not flood the log.
            get_logger(_LOGGER).debug("unable to authenticate the request", error=str(err),
                                      remote=environ.get("REMOTE_ADDR"))
            user = None
        if user is None:
            return write_status(start_response, 401, "Unauthorized")
        environ[USER] = user
        environ.pop("HTTP_AUTHORIZATION", None)
        return app(environ, start_response)

    return authentication
