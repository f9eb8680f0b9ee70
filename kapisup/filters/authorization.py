"""May the (possibly impersonated) user do what the RequestInfo says? 403 Status if not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kapisup.auth.authorizer import (
    Attributes,
    Authorizer,
    AuthorizerNotReady,
    Decision,
    forbidden_details,
    forbidden_message,
)
from kapisup.endpoints.request import REQUEST_INFO, USER, RequestInfo, WSGIApp
from kapisup.endpoints.status import write_status
from kapisup.observability.logging import get_logger

_LOGGER = "kapisup.authorization"  # looked up when used: configure_logging() runs after import

# ("allow" | "forbid", reason) left in the environ for audit's authorization.k8s.io annotations.
AUTHORIZATION_DECISION = "kapisup.authorization_decision"


def attributes(environ: dict[str, Any], info: RequestInfo) -> Attributes:
    """The authorizer's view of a request: its user plus the resolved RequestInfo."""
    return Attributes(
        user=environ.get(USER),
        verb=info.verb,
        is_resource_request=info.is_resource_request,
        path=info.path,
        api_group=info.api_group,
        api_version=info.api_version,
        resource=info.resource,
        subresource=info.subresource,
        namespace=info.namespace,
        name=info.name,
    )


def with_authorization(app: WSGIApp, authorizer: Authorizer) -> WSGIApp:
    """Pass allowed requests on; 403 for the rest, 503 while the authorizer has not read its
    policy, 500 when it cannot decide."""

    def authorization(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        info: RequestInfo | None = environ.get(REQUEST_INFO)
        if info is None:
            return write_status(
                start_response, 500,
                "Internal error occurred: no RequestInfo found, the handler chain is wrong",
            )
        attrs = attributes(environ, info)
        try:
            decision, reason = authorizer.authorize(attrs)
        except AuthorizerNotReady as err:
            return write_status(start_response, 503, f"the authorizer is not ready: {err}",
                                reason="ServiceUnavailable", details={"retryAfterSeconds": 1})
        except Exception as err:
            get_logger(_LOGGER).error("authorizer failed", error=str(err), path=info.path,
                                      exc_info=True)
            return write_status(start_response, 500, f"Internal error occurred: {err}",
                                details={"causes": [{"message": str(err)}]})
        if decision is Decision.ALLOW:
            environ[AUTHORIZATION_DECISION] = ("allow", reason)
            return app(environ, start_response)
        environ[AUTHORIZATION_DECISION] = ("forbid", reason)
        return write_status(
            start_response, 403, forbidden_message(attrs, reason),
            details=forbidden_details(attrs),
        )

    return authorization
