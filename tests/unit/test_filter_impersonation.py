"""Impersonation: every part authorized with verb impersonate, user swapped, headers stripped."""

from __future__ import annotations

from wsgi_util import call, make_environ

from kapisup.auth.authorizer import AlwaysAllow, Attributes, Decision
from kapisup.auth.user import ANONYMOUS, AUTHENTICATED, UNAUTHENTICATED, UserInfo
from kapisup.endpoints.request import IMPERSONATED_BY, USER
from kapisup.filters.impersonation import with_impersonation

ADMIN = UserInfo("admin", "0", ("system:masters", AUTHENTICATED))


class Policy:
    """Allows impersonate on the (resource, name) pairs given; records every check."""

    def __init__(self, *allowed: tuple[str, str]):
        self.allowed = set(allowed)
        self.seen: list[Attributes] = []

    def authorize(self, attrs):
        self.seen.append(attrs)
        if (attrs.resource, attrs.name) in self.allowed:
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""


def capturing_app(seen):
    def app(environ, start_response):
        seen["user"] = environ.get(USER)
        seen["by"] = environ.get(IMPERSONATED_BY)
        seen["headers"] = sorted(k for k in environ if k.startswith("HTTP_IMPERSONATE"))
        start_response("200 OK", [])
        return [b""]

    return app


def env(headers, user=ADMIN):
    return make_environ(path="/api/v1/pods", headers=headers, resolve=True, user=user)


def test_no_headers_passes_through_unchanged():
    seen = {}
    assert call(with_impersonation(capturing_app(seen), Policy()), env({})).code == 200
    assert seen["user"] is ADMIN
    assert seen["by"] is None


def test_allowed_user_and_groups_replace_the_user():
    seen = {}
    policy = Policy(("users", "jane"), ("groups", "devs"), ("groups", "ops"))
    # In WSGI repeated Impersonate-Group headers arrive comma-joined.
    response = call(with_impersonation(capturing_app(seen), policy),
                    env({"Impersonate-User": "jane", "Impersonate-Group": "devs,ops"}))
    assert response.code == 200
    assert seen["user"] == UserInfo("jane", "", ("devs", "ops", AUTHENTICATED), {})
    assert seen["by"] is ADMIN
    assert seen["headers"] == []
    assert [(a.verb, a.resource, a.name, a.api_group) for a in policy.seen] == [
        ("impersonate", "users", "jane", ""),
        ("impersonate", "groups", "devs", ""),
        ("impersonate", "groups", "ops", ""),
    ]
    assert all(a.user is ADMIN and a.is_resource_request for a in policy.seen)


def test_denied_group_is_403_with_kube_message():
    seen = {}
    policy = Policy(("users", "jane"))
    response = call(with_impersonation(capturing_app(seen), policy),
                    env({"Impersonate-User": "jane", "Impersonate-Group": "system:masters"},
                        user=UserInfo("alice")))
    assert response.code == 403
    status = response.json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'groups "system:masters" is forbidden: User "alice" cannot impersonate resource '
        '"groups" in API group "" at the cluster scope')
    assert status["details"] == {"name": "system:masters", "kind": "groups"}
    assert seen == {}


def test_denied_user_is_403():
    response = call(with_impersonation(capturing_app({}), Policy()),
                    env({"Impersonate-User": "root"}))
    assert response.code == 403
    assert response.json()["message"].startswith('users "root" is forbidden: User "admin"')


def test_authorizer_error_is_a_denial():
    class Broken:
        def authorize(self, attrs):
            raise RuntimeError("down")

    response = call(with_impersonation(capturing_app({}), Broken()),
                    env({"Impersonate-User": "jane"}))
    assert response.code == 403


def test_groups_without_user_is_400():
    for headers in ({"Impersonate-Group": "devs"}, {"Impersonate-Uid": "42"},
                    {"Impersonate-Extra-Scopes": "view"}):
        response = call(with_impersonation(capturing_app({}), AlwaysAllow()), env(headers))
        assert response.code == 400
        assert response.json()["reason"] == "BadRequest"


def test_service_account_gets_its_groups_and_is_checked_by_namespace():
    seen = {}
    policy = Policy(("serviceaccounts", "builder"))
    response = call(with_impersonation(capturing_app(seen), policy),
                    env({"Impersonate-User": "system:serviceaccount:ci:builder"}))
    assert response.code == 200
    [check] = policy.seen
    assert (check.resource, check.namespace, check.name) == ("serviceaccounts", "ci", "builder")
    assert seen["user"].groups == (
        "system:serviceaccounts", "system:serviceaccounts:ci", AUTHENTICATED)


def test_uid_and_extras_use_the_authentication_group():
    seen = {}
    policy = Policy(("users", "jane"), ("uids", "1234"), ("userextras", "view"),
                    ("userextras", "edit"))
    response = call(
        with_impersonation(capturing_app(seen), policy),
        env({"Impersonate-User": "jane", "Impersonate-Uid": "1234",
             "Impersonate-Extra-Scopes": "view,edit",
             "Impersonate-Extra-Example.com%2fteam": ""}),
    )
    assert response.code == 200
    extras = [(a.subresource, a.name, a.api_group) for a in policy.seen
              if a.resource == "userextras"]
    assert extras == [("scopes", "view", "authentication.k8s.io"),
                      ("scopes", "edit", "authentication.k8s.io")]
    uid_check = [a for a in policy.seen if a.resource == "uids"]
    assert [(a.name, a.api_group) for a in uid_check] == [("1234", "authentication.k8s.io")]
    assert seen["user"].uid == "1234"
    assert seen["user"].extra == {"scopes": ("view", "edit")}
    assert seen["headers"] == []


def test_percent_encoded_extra_key_is_decoded():
    seen = {}
    response = call(with_impersonation(capturing_app(seen), AlwaysAllow()),
                    env({"Impersonate-User": "jane",
                         "Impersonate-Extra-Example.com%2fteam": "a"}))
    assert response.code == 200
    assert seen["user"].extra == {"example.com/team": ("a",)}


def test_anonymous_is_unauthenticated_and_explicit_groups_are_respected():
    seen = {}
    app = with_impersonation(capturing_app(seen), AlwaysAllow())
    call(app, env({"Impersonate-User": ANONYMOUS}))
    assert seen["user"].groups == (UNAUTHENTICATED,)
    call(app, env({"Impersonate-User": "x", "Impersonate-Group": UNAUTHENTICATED}))
    assert seen["user"].groups == (UNAUTHENTICATED,)
    call(app, env({"Impersonate-User": "x", "Impersonate-Group": AUTHENTICATED}))
    assert seen["user"].groups == (AUTHENTICATED,)


def test_without_an_authenticated_user_it_is_500():
    response = call(with_impersonation(capturing_app({}), AlwaysAllow()),
                    make_environ(headers={"Impersonate-User": "jane"}, resolve=True))
    assert response.code == 500
