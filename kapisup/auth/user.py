"""Who a request runs as: the user the authenticators found, later impersonation's target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"

# Service account users are named system:serviceaccount:<namespace>:<name>.
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated identity; immutable so one instance can be shared by every request."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def with_group(self, group: str) -> UserInfo:
        """This user with `group` appended, unless already a member."""
        if group in self.groups:
            return self
        return UserInfo(self.name, self.uid, (*self.groups, group), self.extra)


ANONYMOUS_USER = UserInfo(ANONYMOUS, groups=(UNAUTHENTICATED,))


def user_info_json(user: UserInfo) -> dict[str, object]:
    """authentication/v1 UserInfo as JSON (audit events, reviews): empty fields left out."""
    out: dict[str, object] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {key: list(values) for key, values in user.extra.items()}
    return out


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups every service account of `namespace` belongs to."""
    return (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}")


def split_service_account(name: str) -> tuple[str, str] | None:
    """(namespace, name) of a service account user name; None for any other user name."""
    if not name.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    fields = name[len(SERVICE_ACCOUNT_PREFIX):].split(":")
    if len(fields) != 2 or not fields[0] or not fields[1]:
        return None
    return fields[0], fields[1]
