"""Authenticators: turn a request's credentials into a UserInfo.

The contract keeps "no credentials of my kind" (None: let the next one try, maybe anonymous)
apart from "credentials that are wrong" (AuthenticationError: 401 even with anonymous on), which
is what stops a mistyped token from silently running as system:anonymous.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kapisup.auth.user import ANONYMOUS_USER, AUTHENTICATED, UNAUTHENTICATED, UserInfo
from kapisup.observability.logging import get_logger

Environ = Mapping[str, Any]

_LOGGER = "kapisup.auth"  # looked up when used: configure_logging() runs after import


class AuthenticationError(Exception):
    """Credentials were presented but are not valid."""


class Authenticator(Protocol):
    def authenticate(self, environ: Environ) -> UserInfo | None:
        """The user, None when the request has no credentials of this kind, or raise."""
        ...


def bearer_token(environ: Environ) -> str | None:
    """The token of `Authorization: Bearer <token>` (scheme case-insensitive), else None."""
    header = environ.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, sep, rest = header.strip().partition(" ")
    if not sep or scheme.lower() != "bearer":
        return None
    token = rest.split(" ", 1)[0]
    if not token:
        raise AuthenticationError("invalid bearer token")
    return token


class TokenFileAuthenticator:
    """Static bearer tokens from kube's CSV file: token,user,uid[,"group1,group2"]."""

    __slots__ = ("_tokens",)

    def __init__(self, tokens: Mapping[str, UserInfo]):
        self._tokens = dict(tokens)

    @classmethod
    def from_file(cls, path: str) -> TokenFileAuthenticator:
        """Parse the file; ValueError naming the line for a short or malformed record."""
        tokens: dict[str, UserInfo] = {}
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, strict=True)
            try:
                for record in reader:
                    if not record:
                        continue  # blank line
                    if len(record) < 3:
                        raise ValueError(
                            f"token file {path!r} line {reader.line_num}: needs at least 3 "
                            f"columns (token, user name, user uid), found {len(record)}"
                        )
                    token, name, uid = record[0], record[1], record[2]
                    if not token:
                        get_logger(_LOGGER).warning("empty token ignored", file=path,
                                                    line=reader.line_num)
                        continue
                    groups = tuple(g for g in record[3].split(",") if g) if len(record) > 3 else ()
                    if token in tokens:
                        get_logger(_LOGGER).warning("duplicate token, the last one wins",
                                                    file=path, line=reader.line_num)
                    tokens[token] = UserInfo(name, uid, groups)
            except csv.Error as err:
                raise ValueError(f"token file {path!r} line {reader.line_num}: {err}") from err
        return cls(tokens)

    def authenticate_token(self, token: str,
                           audiences: Sequence[str] | None = None) -> UserInfo | None:
        """Static tokens name no audience: like kube's, they are good for any."""
        return self._tokens.get(token)

    def authenticate(self, environ: Environ) -> UserInfo | None:
        token = bearer_token(environ)
        if token is None:
            return None
        user = self._tokens.get(token)
        if user is None:
            raise AuthenticationError("invalid bearer token")
        return user


class AnonymousAuthenticator:
    """Everyone is system:anonymous in group system:unauthenticated."""

    __slots__ = ()

    def authenticate(self, environ: Environ) -> UserInfo | None:
        return ANONYMOUS_USER


class UnionAuthenticator:
    """kube's request authenticator: first success wins, then anonymous if allowed.

    Errors of one authenticator do not stop the next (another may own the credential), but
    when nobody succeeds they are raised even with anonymous on.
    """

    __slots__ = ("_anonymous", "_authenticators", "_judges_tokens")

    def __init__(
        self,
        authenticators: Sequence[Authenticator],
        anonymous: bool | Authenticator | None,
    ):
        """`anonymous`: True (or an authenticator to use) lets credential-less requests in."""
        self._authenticators = tuple(authenticators)
        # kube's bearer-token authenticator: once any token authenticator is configured, a
        # bearer token that none of them accepts is a 401, never a fall-through to anonymous
        self._judges_tokens = any(hasattr(a, "authenticate_token") for a in authenticators)
        self._anonymous: Authenticator | None
        if anonymous is True:
            self._anonymous = AnonymousAuthenticator()
        elif anonymous is False or anonymous is None:
            self._anonymous = None
        else:
            self._anonymous = anonymous

    @property
    def authenticators(self) -> tuple[Authenticator, ...]:
        return self._authenticators

    def authenticate(self, environ: Environ) -> UserInfo | None:
        errors: list[AuthenticationError] = []
        for authenticator in self._authenticators:
            try:
                user = authenticator.authenticate(environ)
            except AuthenticationError as err:
                errors.append(err)
                continue
            if user is not None:
                return _add_authenticated(user)
        if errors:
            if len(errors) == 1:
                raise errors[0]
            raise AuthenticationError("; ".join(str(e) for e in errors))
        if self._judges_tokens and bearer_token(environ) is not None:
            raise AuthenticationError("invalid bearer token")
        if self._anonymous is None:
            return None
        return self._anonymous.authenticate(environ)


def review_token(authenticators: Sequence[Authenticator], token: str,
                 audiences: Sequence[str] = ()) -> tuple[UserInfo | None, str]:
    """A TokenReview's verdict: the user of `token` by the first token authenticator that
    knows it, else None and why; `audiences`, when given, are the ones the token must name."""
    errors: list[str] = []
    for authenticator in authenticators:
        check = getattr(authenticator, "authenticate_token", None)
        if check is None:
            continue
        try:
            user = check(token, audiences or None)
        except AuthenticationError as err:
            errors.append(str(err))
            continue
        if user is not None:
            return _add_authenticated(user), ""
    return None, "; ".join(errors) or "invalid bearer token"


def _add_authenticated(user: UserInfo) -> UserInfo:
    """Every credentialed user is in system:authenticated, unless it says it is unauthenticated."""
    groups = user.groups
    if AUTHENTICATED in groups or UNAUTHENTICATED in groups:
        return user
    return user.with_group(AUTHENTICATED)
