"""Users, the token file, the authenticator union, the authorizers and kube's 403 text."""

from __future__ import annotations

from dataclasses import replace

import pytest
from wsgi_util import make_environ

from kapisup.auth.authenticator import (
    AnonymousAuthenticator,
    AuthenticationError,
    TokenFileAuthenticator,
    UnionAuthenticator,
    bearer_token,
)
from kapisup.auth.authorizer import (
    AlwaysAllow,
    AlwaysDeny,
    Attributes,
    AuthorizationError,
    Decision,
    UnionAuthorizer,
    build_authorizer,
    forbidden_details,
    forbidden_message,
)
from kapisup.auth.user import (
    ANONYMOUS,
    AUTHENTICATED,
    UNAUTHENTICATED,
    UserInfo,
    split_service_account,
)


def token_file(tmp_path, text: str) -> str:
    path = tmp_path / "tokens.csv"
    path.write_text(text)
    return str(path)


def bearer(token: str) -> dict:
    return make_environ(headers={"Authorization": f"Bearer {token}"})


# --- token file -------------------------------------------------------------------------------


def test_token_file_columns_and_quoted_groups(tmp_path):
    auth = TokenFileAuthenticator.from_file(token_file(
        tmp_path, 'tok1,alice,1001,"system:masters,devs"\ntok2,bob,1002\ntok3,carol,1003,ops\n'))
    assert auth.authenticate(bearer("tok1")) == UserInfo(
        "alice", "1001", ("system:masters", "devs"))
    assert auth.authenticate(bearer("tok2")) == UserInfo("bob", "1002", ())
    assert auth.authenticate(bearer("tok3")).groups == ("ops",)


def test_token_file_extra_columns_ignored_and_blank_lines_skipped(tmp_path):
    auth = TokenFileAuthenticator.from_file(token_file(
        tmp_path, "\ntok,alice,1,g,ignored,more\n\n"))
    assert auth.authenticate(bearer("tok")) == UserInfo("alice", "1", ("g",))


def test_token_file_keeps_quoted_commas_and_spaces_verbatim(tmp_path):
    auth = TokenFileAuthenticator.from_file(token_file(
        tmp_path, '"to,k", alice ,1,"a, b"\n'))
    user = auth.authenticate_token("to,k")
    assert user is not None
    assert user.name == " alice "
    assert user.groups == ("a", " b")


def test_token_file_short_line_is_an_error_naming_the_line(tmp_path):
    path = token_file(tmp_path, "tok1,alice,1\ntok2,bob\n")
    with pytest.raises(ValueError, match="line 2") as err:
        TokenFileAuthenticator.from_file(path)
    assert "3 columns" in str(err.value)


def test_token_file_malformed_quotes_are_an_error(tmp_path):
    path = token_file(tmp_path, 'tok1,alice,1\ntok2,"bob,2\n')
    with pytest.raises(ValueError, match="token file"):
        TokenFileAuthenticator.from_file(path)


def test_token_file_duplicate_token_last_wins(tmp_path):
    auth = TokenFileAuthenticator.from_file(token_file(tmp_path, "tok,alice,1\ntok,bob,2\n"))
    assert auth.authenticate(bearer("tok")).name == "bob"


def test_token_file_empty_token_is_never_accepted(tmp_path):
    auth = TokenFileAuthenticator.from_file(token_file(tmp_path, ",ghost,1\ntok,alice,1\n"))
    assert auth.authenticate_token("") is None


def test_missing_token_file_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        TokenFileAuthenticator.from_file(str(tmp_path / "absent.csv"))


# --- bearer header ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,token",
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("  Bearer abc  ", "abc"),
        ("Bearer abc extra", "abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearerabc", None),
        ("", None),
    ],
)
def test_bearer_token_parsing(header, token):
    environ = make_environ(headers={"Authorization": header} if header else {})
    assert bearer_token(environ) == token


def test_bearer_with_empty_token_is_invalid_not_absent():
    with pytest.raises(AuthenticationError):
        bearer_token(make_environ(headers={"Authorization": "Bearer  abc"}))


def test_unknown_token_raises_and_no_header_returns_none():
    auth = TokenFileAuthenticator({"good": UserInfo("alice")})
    with pytest.raises(AuthenticationError, match="invalid bearer token"):
        auth.authenticate(bearer("bad"))
    assert auth.authenticate(make_environ()) is None
    assert auth.authenticate(make_environ(headers={"Authorization": "Basic Zm9vOmJhcg=="})) is None


# --- union ------------------------------------------------------------------------------------

TOKENS = TokenFileAuthenticator({
    "admin": UserInfo("admin", "1", ("system:masters",)),
    "already": UserInfo("x", "2", (AUTHENTICATED,)),
})


def test_union_adds_system_authenticated_once():
    union = UnionAuthenticator([TOKENS], anonymous=False)
    assert union.authenticate(bearer("admin")).groups == ("system:masters", AUTHENTICATED)
    assert union.authenticate(bearer("already")).groups == (AUTHENTICATED,)


def test_union_without_credentials_is_anonymous_only_when_allowed():
    assert UnionAuthenticator([TOKENS], anonymous=False).authenticate(make_environ()) is None
    user = UnionAuthenticator([TOKENS], anonymous=True).authenticate(make_environ())
    assert user.name == ANONYMOUS
    assert user.groups == (UNAUTHENTICATED,)


def test_union_accepts_an_anonymous_authenticator_instance():
    union = UnionAuthenticator([TOKENS], anonymous=AnonymousAuthenticator())
    assert union.authenticate(make_environ()).name == ANONYMOUS
    assert UnionAuthenticator([TOKENS], anonymous=None).authenticate(make_environ()) is None


def test_invalid_token_fails_even_with_anonymous():
    union = UnionAuthenticator([TOKENS], anonymous=True)
    with pytest.raises(AuthenticationError):
        union.authenticate(bearer("wrong"))


def test_union_error_of_one_does_not_stop_the_next():
    other = TokenFileAuthenticator({"second": UserInfo("bob")})
    union = UnionAuthenticator([TOKENS, other], anonymous=False)
    assert union.authenticate(bearer("second")).name == "bob"
    with pytest.raises(AuthenticationError):
        union.authenticate(bearer("neither"))


def test_no_authenticators_with_anonymous_makes_everyone_anonymous():
    union = UnionAuthenticator([], anonymous=True)
    assert union.authenticate(bearer("anything")).name == ANONYMOUS


# --- users ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("system:serviceaccount:kube-system:default", ("kube-system", "default")),
        ("system:serviceaccount:ns", None),
        ("system:serviceaccount:ns:", None),
        ("system:serviceaccount:a:b:c", None),
        ("alice", None),
    ],
)
def test_split_service_account(name, expected):
    assert split_service_account(name) == expected


# --- authorizers ------------------------------------------------------------------------------

VIEWER = UserInfo("viewer", groups=(AUTHENTICATED,))
CREATE_CM = Attributes(user=VIEWER, verb="create", is_resource_request=True, api_version="v1",
                       resource="configmaps", namespace="default", path="/api/v1/x")


def test_always_allow_and_deny():
    assert AlwaysAllow().authorize(CREATE_CM) == (Decision.ALLOW, "")
    decision, reason = AlwaysDeny().authorize(CREATE_CM)
    assert decision is not Decision.ALLOW
    assert reason == "Everything is forbidden."


class Fixed:
    def __init__(self, decision: Decision, reason: str = "", error: Exception | None = None):
        self.decision, self.reason, self.error = decision, reason, error
        self.calls = 0

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.decision, self.reason


def test_union_first_allow_wins_after_no_opinions():
    union = UnionAuthorizer([AlwaysDeny(), AlwaysAllow()])
    assert union.authorize(CREATE_CM)[0] is Decision.ALLOW


def test_union_explicit_deny_stops():
    later = Fixed(Decision.ALLOW)
    union = UnionAuthorizer([Fixed(Decision.DENY, "no"), later])
    assert union.authorize(CREATE_CM) == (Decision.DENY, "no")
    assert later.calls == 0


def test_union_joins_reasons_when_nobody_decides():
    union = UnionAuthorizer([Fixed(Decision.NO_OPINION, "a"), Fixed(Decision.NO_OPINION, "b")])
    assert union.authorize(CREATE_CM) == (Decision.NO_OPINION, "a\nb")


def test_union_errors_raise_only_if_nobody_allows():
    broken = Fixed(Decision.ALLOW, error=RuntimeError("webhook down"))
    assert UnionAuthorizer([broken, AlwaysAllow()]).authorize(CREATE_CM)[0] is Decision.ALLOW
    with pytest.raises(AuthorizationError, match="webhook down"):
        UnionAuthorizer([broken, AlwaysDeny()]).authorize(CREATE_CM)


def test_build_authorizer():
    assert isinstance(build_authorizer(("AlwaysAllow",)), AlwaysAllow)
    union = build_authorizer(("AlwaysDeny", "AlwaysAllow"))
    assert union.authorize(CREATE_CM)[0] is Decision.ALLOW
    assert build_authorizer(("AlwaysDeny",)).authorize(CREATE_CM)[0] is not Decision.ALLOW
    for bad in [(), ("RBAC2",), ("AlwaysAllow", "AlwaysAllow")]:
        with pytest.raises(ValueError):
            build_authorizer(bad)


def test_system_masters_are_allowed_ahead_of_every_mode():
    admin = UserInfo("root", groups=("system:masters",))
    deny_all = build_authorizer(("AlwaysDeny",))
    assert deny_all.authorize(replace(CREATE_CM, user=admin))[0] is Decision.ALLOW
    assert deny_all.authorize(CREATE_CM)[0] is not Decision.ALLOW


# --- 403 text ---------------------------------------------------------------------------------


def test_forbidden_message_namespaced_resource():
    assert forbidden_message(CREATE_CM, "") == (
        'configmaps is forbidden: User "viewer" cannot create resource "configmaps" '
        'in API group "" in the namespace "default"'
    )


def test_forbidden_message_named_grouped_subresource_cluster_scope_with_reason():
    attrs = Attributes(user=VIEWER, verb="update", is_resource_request=True, api_group="apps",
                       resource="deployments", subresource="scale", name="web")
    assert forbidden_message(attrs, "Everything is forbidden.") == (
        'deployments.apps "web" is forbidden: User "viewer" cannot update resource '
        '"deployments/scale" in API group "apps" at the cluster scope: Everything is forbidden.'
    )
    assert forbidden_details(attrs) == {"name": "web", "group": "apps", "kind": "deployments"}


def test_forbidden_message_non_resource():
    attrs = Attributes(user=UserInfo(ANONYMOUS), verb="get", is_resource_request=False,
                       path="/foo")
    assert forbidden_message(attrs, "") == (
        'forbidden: User "system:anonymous" cannot get path "/foo"')
    assert forbidden_details(attrs) == {}


def test_forbidden_message_quotes_like_go():
    attrs = Attributes(user=UserInfo('ev"il'), verb="get", is_resource_request=False, path="/")
    assert 'User "ev\\"il"' in forbidden_message(attrs)


def test_a_bearer_token_no_token_authenticator_accepts_is_401_not_anonymous():
    """A service-account authenticator passes on tokens that are not its JWTs; the union must
    still refuse the token rather than serve the request as system:anonymous (kube's rule)."""

    class JWTOnly:
        def authenticate_token(self, token: str) -> UserInfo | None:
            return None

        def authenticate(self, environ) -> UserInfo | None:
            return None

    union = UnionAuthenticator([JWTOnly()], anonymous=True)
    with pytest.raises(AuthenticationError, match="invalid bearer token"):
        union.authenticate(make_environ(headers={"Authorization": "Bearer not-a-jwt"}))
    assert union.authenticate(make_environ()).name == "system:anonymous"
