"""with_authentication: user in the environ, 401 Status, Authorization header removed."""

from __future__ import annotations

from wsgi_util import call, make_environ

from kapisup.auth.authenticator import TokenFileAuthenticator, UnionAuthenticator
from kapisup.auth.user import ANONYMOUS, AUTHENTICATED, UserInfo
from kapisup.endpoints.request import USER
from kapisup.filters.authentication import with_authentication

TOKENS = TokenFileAuthenticator({"good": UserInfo("alice", "1", ("devs",))})


def capturing_app(seen):
    def app(environ, start_response):
        seen["user"] = environ.get(USER)
        seen["authorization"] = environ.get("HTTP_AUTHORIZATION")
        start_response("200 OK", [])
        return [b""]

    return app


def env(token: str | None = None):
    return make_environ(headers={"Authorization": f"Bearer {token}"} if token else {})


def test_valid_token_sets_user_and_strips_the_header():
    seen = {}
    app = with_authentication(capturing_app(seen), UnionAuthenticator([TOKENS], False))
    assert call(app, env("good")).code == 200
    assert seen["user"].name == "alice"
    assert seen["user"].groups == ("devs", AUTHENTICATED)
    assert seen["authorization"] is None


def assert_401(response):
    assert response.code == 401
    status = response.json()
    assert (status["reason"], status["message"], status["code"]) == (
        "Unauthorized", "Unauthorized", 401)


def test_invalid_token_is_401_even_with_anonymous_on():
    seen = {}
    app = with_authentication(capturing_app(seen), UnionAuthenticator([TOKENS], True))
    assert_401(call(app, env("bad")))
    assert seen == {}


def test_no_credentials_without_anonymous_is_401():
    seen = {}
    app = with_authentication(capturing_app(seen), UnionAuthenticator([TOKENS], False))
    assert_401(call(app, env()))
    assert seen == {}


def test_no_credentials_with_anonymous_runs_as_anonymous():
    seen = {}
    app = with_authentication(capturing_app(seen), UnionAuthenticator([TOKENS], True))
    assert call(app, env()).code == 200
    assert seen["user"].name == ANONYMOUS


def test_basic_credentials_are_not_removed_when_nobody_used_them():
    seen = {}
    app = with_authentication(capturing_app(seen), UnionAuthenticator([TOKENS], True))
    call(app, make_environ(headers={"Authorization": "Basic Zm9vOmJhcg=="}))
    assert seen["user"].name == ANONYMOUS
    assert seen["authorization"] is None  # removed after any successful authentication
