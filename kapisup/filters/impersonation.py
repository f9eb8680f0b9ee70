"""Act as another user (kubectl --as/--as-group) when the authorizer lets the requester.

Every part of the requested identity (user or service account, each group, the uid, each extra
value) is authorized separately with verb `impersonate`, as kube does, so a policy can allow
impersonating some users without allowing arbitrary groups such as system:masters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from kapisup.auth.authorizer import (
    Attributes,
    Authorizer,
    Decision,
    forbidden_details,
    forbidden_message,
)
from kapisup.auth.user import (
    ANONYMOUS,
    AUTHENTICATED,
    UNAUTHENTICATED,
    UserInfo,
    service_account_groups,
    split_service_account,
)
from kapisup.endpoints.request import IMPERSONATED_BY, USER, WSGIApp
from kapisup.endpoints.status import write_status
from kapisup.observability.logging import get_logger

USER_HEADER = "HTTP_IMPERSONATE_USER"
GROUP_HEADER = "HTTP_IMPERSONATE_GROUP"
UID_HEADER = "HTTP_IMPERSONATE_UID"
EXTRA_PREFIX = "HTTP_IMPERSONATE_EXTRA_"
AUTHENTICATION_GROUP = "authentication.k8s.io"

_LOGGER = "kapisup.impersonation"  # looked up when used: configure_logging() runs after import


class _BadRequest(Exception):
    pass


def _wants_impersonation(environ: dict[str, Any]) -> bool:
    if USER_HEADER in environ or GROUP_HEADER in environ or UID_HEADER in environ:
        return True
    # Extra headers have open-ended names; one C-level join beats a Python loop over the keys.
    return "\0" + EXTRA_PREFIX in "\0".join(environ)


def _split(value: str) -> list[str]:
    """Values of a header the server joined with commas (one per header line)."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _extras(environ: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Impersonate-Extra-<key> values; WSGI upper-cases keys and turns '-' into '_'."""
    extras: dict[str, tuple[str, ...]] = {}
    for env_key, value in environ.items():
        if env_key.startswith(EXTRA_PREFIX):
            values = tuple(_split(value))
            if values:
                key = unquote(env_key[len(EXTRA_PREFIX):].replace("_", "-").lower())
                extras[key] = values
    return extras


def _requests(
    environ: dict[str, Any], requester: UserInfo
) -> tuple[UserInfo | None, list[Attributes]]:
    """The identity asked for and one `impersonate` check per part of it; (None, []) if none."""
    name = environ.get(USER_HEADER, "").strip()
    groups = _split(environ.get(GROUP_HEADER, ""))
    uid = environ.get(UID_HEADER, "").strip()
    extras = _extras(environ)
    if not name:
        if groups or uid or extras:
            raise _BadRequest(
                "requested impersonation of groups, uid or extra without impersonating a user"
            )
        return None, []

    def check(resource: str, value: str, namespace: str = "", api_group: str = "",
              subresource: str = "") -> Attributes:
        return Attributes(
            user=requester, verb="impersonate", is_resource_request=True, api_group=api_group,
            resource=resource, subresource=subresource, namespace=namespace, name=value,
        )

    service_account = split_service_account(name)
    if service_account is not None:
        namespace, sa_name = service_account
        checks = [check("serviceaccounts", sa_name, namespace=namespace)]
    else:
        checks = [check("users", name)]
    checks.extend(check("groups", group) for group in groups)
    for key, values in extras.items():
        checks.extend(
            check("userextras", value, api_group=AUTHENTICATION_GROUP, subresource=key)
            for value in values
        )
    if uid:
        checks.append(check("uids", uid, api_group=AUTHENTICATION_GROUP))
    if service_account is not None and not groups:
        groups = list(service_account_groups(service_account[0]))
    target = UserInfo(name, uid, _with_implicit_group(name, groups), extras)
    return target, checks


def _with_implicit_group(name: str, groups: list[str]) -> tuple[str, ...]:
    """Like an authenticated one, an impersonated user is in system:authenticated (or
    system:unauthenticated for system:anonymous) unless the requester said otherwise."""
    if name == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups = [*groups, UNAUTHENTICATED]
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups = [*groups, AUTHENTICATED]
    return tuple(groups)


def _strip_headers(environ: dict[str, Any]) -> None:
    for key in [k for k in environ if k.startswith("HTTP_IMPERSONATE_")]:
        del environ[key]


def with_impersonation(app: WSGIApp, authorizer: Authorizer) -> WSGIApp:
    """Swap the environ's user for the impersonated one once every part is authorized."""

    def impersonation(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not _wants_impersonation(environ):
            return app(environ, start_response)
        requester: UserInfo | None = environ.get(USER)
        if requester is None:
            return write_status(
                start_response, 500, "Internal error occurred: no user found for request"
            )
        try:
            target, checks = _requests(environ, requester)
        except _BadRequest as err:
            return write_status(start_response, 400, str(err))
        for attrs in checks:
            try:
                decision, reason = authorizer.authorize(attrs)
            except Exception as err:
                get_logger(_LOGGER).warning("impersonation check failed", error=str(err),
                                            user=requester.name)
                decision, reason = Decision.NO_OPINION, ""
            if decision is not Decision.ALLOW:
                return write_status(
                    start_response, 403, forbidden_message(attrs, reason),
                    details=forbidden_details(attrs),
                )
        _strip_headers(environ)
        if target is None:
            return app(environ, start_response)
        environ[IMPERSONATED_BY] = requester
        environ[USER] = target
        return app(environ, start_response)

    return impersonation
