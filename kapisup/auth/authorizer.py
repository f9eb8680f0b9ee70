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

from kapisup.auth.user import MASTERS, UserInfo


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"  # final: later authorizers are not asked
    NO_OPINION = "no-opinion"  # ask the next one; forbidden if nobody allows


class AuthorizationError(Exception):
    """An authorizer could not evaluate the request (answered 500, not 403)."""


class AuthorizerNotReady(AuthorizationError):
    """The authorizer has not read its policy yet (e.g. storage is down while a worker starts):
    answered 503 with a retry hint, a state that passes, not a fault."""


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


#: (resource rules, non-resource rules, incomplete, evaluation error) as a rules review shows
#: them: kube's RuleResolver.RulesFor
Rules = tuple[list[dict[str, list[str]]], list[dict[str, list[str]]], bool, str]


class AlwaysAllow:
    __slots__ = ()

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                [{"verbs": ["*"], "nonResourceURLs": ["*"]}], False, "")


class AlwaysDeny:
    """Forbids everything; a no-opinion as in current kube, so a later mode can still allow."""

    __slots__ = ()

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, "Everything is forbidden."

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return [], [], False, ""


class PrivilegedGroups:
    """Members of these groups may do anything, whatever the modes say (kube puts this ahead
    of every configured mode for system:masters)."""

    __slots__ = ("groups",)

    def __init__(self, *groups: str):
        self.groups = frozenset(groups)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        user = attrs.user
        if user is not None and not self.groups.isdisjoint(user.groups):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        return [], [], False, ""  # kube's privileged-groups authorizer lists no rules either


class UnionAuthorizer:
    """Ask in order: the first allow or deny decides; errors are raised only if nobody did."""

    __slots__ = ("_authorizers",)

    def __init__(self, authorizers: Sequence[Authorizer]):
        self._authorizers = tuple(authorizers)

    @property
    def members(self) -> tuple[Authorizer, ...]:
        return self._authorizers

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Every member's rules; incomplete when one cannot list them (kube's union)."""
        resource: list[dict[str, list[str]]] = []
        non_resource: list[dict[str, list[str]]] = []
        incomplete, errors = False, []
        for authorizer in self._authorizers:
            rules_for = getattr(authorizer, "rules_for", None)
            if rules_for is None:
                incomplete = True
                continue
            more, more_non, partial, error = rules_for(user, namespace)
            resource += more
            non_resource += more_non
            incomplete = incomplete or partial
            if error:
                errors.append(error)
        return resource, non_resource, incomplete, "; ".join(errors)

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
            error_class = AuthorizerNotReady if all(
                isinstance(e, AuthorizerNotReady) for e in errors) else AuthorizationError
            raise error_class("; ".join(str(e) for e in errors)) from errors[0]
        return Decision.NO_OPINION, "\n".join(reasons)


ABAC = "ABAC"


def _rbac() -> Authorizer:
    from kapisup.auth.rbac import RBACAuthorizer  # rbac builds on this module

    return RBACAuthorizer()


_MODES: Mapping[str, Callable[[], Authorizer]] = {
    "AlwaysAllow": AlwaysAllow,
    "AlwaysDeny": AlwaysDeny,
    "RBAC": _rbac,
}


def build_authorizer(modes: tuple[str, ...], policy_file: str = "") -> Authorizer:
    """The authorizer of --authorization-mode; ValueError for an empty, unknown or repeated mode,
    or for ABAC without --authorization-policy-file and the file without ABAC (kube's rules)."""
    if not modes:
        raise ValueError("at least one authorization mode is needed")
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization mode listed twice: {', '.join(modes)}")
    known = [*_MODES, ABAC]
    unknown = [m for m in modes if m not in known]
    if unknown:
        raise ValueError(f"unknown authorization mode {unknown[0]!r} (known: {', '.join(known)})")
    if ABAC in modes and not policy_file:
        raise ValueError("authorization-mode ABAC's authorization policy file not passed")
    if policy_file and ABAC not in modes:
        raise ValueError("cannot specify --authorization-policy-file without mode ABAC")
    authorizers = [_abac(policy_file) if m == ABAC else _MODES[m]() for m in modes]
    if modes == ("AlwaysAllow",):
        return authorizers[0]  # nothing to put ahead of it
    # system:masters may do anything under every mode, ahead of them all, as in kube
    return UnionAuthorizer([PrivilegedGroups(MASTERS), *authorizers])


def members(authorizer: Authorizer) -> list[Authorizer]:
    """The authorizer and, for a union, everything in it (depth first)."""
    found = [authorizer]
    for member in getattr(authorizer, "members", ()):
        found += members(member)
    return found


def _abac(policy_file: str) -> Authorizer:
    from kapisup.auth.abac import ABACAuthorizer  # abac builds on this module's types

    return ABACAuthorizer.from_file(policy_file)


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
