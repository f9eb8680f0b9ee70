"""Authorizers: may this user do this verb on this resource or path?

Modes are tried in order by a union, so RBAC, ABAC or a webhook slot in later as one more
`Authorizer` without the filters changing.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from kapisup.auth.user import UserInfo


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"  # final: later authorizers are not asked
    NO_OPINION = "no-opinion"  # ask the next one; forbidden if nobody allows


class AuthorizationError(Exception):
    """An authorizer could not evaluate the request (answered 500, not 403)."""


@dataclass(frozen=True, slots=True)
class Attributes:
    """What is being asked, in kube's authorizer.Attributes terms."""

    user: UserInfo | None
    verb: str
    is_resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        """The decision and a reason shown to the user; raise if it cannot decide."""
        ...


class AlwaysAllow:
    __slots__ = ()

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class AlwaysDeny:
    """Forbids everything; a no-opinion as in current kube, so a later mode can still allow."""

    __slots__ = ()

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, "Everything is forbidden."


class UnionAuthorizer:
    """Ask in order: the first allow or deny decides; errors are raised only if nobody did."""

    __slots__ = ("_authorizers",)

    def __init__(self, authorizers: Sequence[Authorizer]):
        self._authorizers = tuple(authorizers)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        reasons: list[str] = []
        errors: list[Exception] = []
        for authorizer in self._authorizers:
            try:
                decision, reason = authorizer.authorize(attrs)
            except Exception as err:
                errors.append(err)
                continue
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        if errors:
            raise AuthorizationError("; ".join(str(e) for e in errors)) from errors[0]
        return Decision.NO_OPINION, "\n".join(reasons)


_MODES: Mapping[str, Callable[[], Authorizer]] = {
    "AlwaysAllow": AlwaysAllow,
    "AlwaysDeny": AlwaysDeny,
}


def build_authorizer(modes: tuple[str, ...]) -> Authorizer:
    """The authorizer of --authorization-mode; ValueError for an empty, unknown or repeated mode."""
    if not modes:
        raise ValueError("at least one authorization mode is needed")
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization mode listed twice: {', '.join(modes)}")
    unknown = [m for m in modes if m not in _MODES]
    if unknown:
        raise ValueError(f"unknown authorization mode {unknown[0]!r} (known: {', '.join(_MODES)})")
    authorizers = [_MODES[m]() for m in modes]
    return authorizers[0] if len(authorizers) == 1 else UnionAuthorizer(authorizers)


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """The message of kube's 403 Status, e.g. `pods "p" is forbidden: User "u" cannot get ...`."""
    username = attrs.user.name if attrs.user is not None else ""
    if not attrs.is_resource_request:
        text = f"User {_q(username)} cannot {attrs.verb} path {_q(attrs.path)}"
    else:
        resource = attrs.resource
        if attrs.subresource:
            resource = f"{resource}/{attrs.subresource}"
        scope = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else (
            "at the cluster scope"
        )
        text = (
            f"User {_q(username)} cannot {attrs.verb} resource {_q(resource)} "
            f"in API group {_q(attrs.api_group)} {scope}"
        )
    if reason:
        text = f"{text}: {reason}"
    if not attrs.resource:
        return f"forbidden: {text}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f"{qualified} {_q(attrs.name)} is forbidden: {text}"
    return f"{qualified} is forbidden: {text}"


def forbidden_details(attrs: Attributes) -> dict[str, str]:
    """Status details of a 403: name, group and kind (the resource), empty ones left out."""
    details = {"name": attrs.name, "group": attrs.api_group, "kind": attrs.resource}
    return {key: value for key, value in details.items() if value}



def _q(value: str) -> str:
    """Double-quoted with escapes, as Go's %q renders names in kube's messages."""
    return json.dumps(value, ensure_ascii=False)
