"""with_authorization: allow passes, deny is kube's 403 Status, authorizer errors are 500."""

from __future__ import annotations

from wsgi_util import call, make_environ, ok_app

from kapisup.auth.authorizer import (
    AlwaysAllow,
    AlwaysDeny,
    Attributes,
    AuthorizerNotReady,
    Decision,
)
from kapisup.auth.user import UserInfo
from kapisup.filters.authorization import with_authorization

VIEWER = UserInfo("viewer")


class Recording:
    def __init__(self, decision=Decision.NO_OPINION, reason="", error=None):
        self.decision, self.reason, self.error = decision, reason, error
        self.seen: list[Attributes] = []

    def authorize(self, attrs):
        self.seen.append(attrs)
        if self.error:
            raise self.error
        return self.decision, self.reason


def env(method="POST", path="/api/v1/namespaces/default/configmaps", user=VIEWER):
    return make_environ(method=method, path=path, resolve=True, user=user)


def test_allowed_request_reaches_the_app_with_full_attributes():
    authorizer = Recording(Decision.ALLOW)
    response = call(with_authorization(ok_app(), authorizer),
                    env("PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale"))
    assert response.code == 200
    [attrs] = authorizer.seen
    assert attrs == Attributes(
        user=VIEWER, verb="update", is_resource_request=True,
        path="/apis/apps/v1/namespaces/ns/deployments/web/scale", api_group="apps",
        api_version="v1", resource="deployments", subresource="scale", namespace="ns",
        name="web")


def test_denied_resource_request_is_403_with_kube_message_and_details():
    response = call(with_authorization(ok_app(), Recording()), env())
    assert response.code == 403
    status = response.json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'configmaps is forbidden: User "viewer" cannot create resource "configmaps" '
        'in API group "" in the namespace "default"')
    assert status["details"] == {"kind": "configmaps"}


def test_denial_reason_is_appended():
    response = call(with_authorization(ok_app(), AlwaysDeny()),
                    env("GET", "/apis/apps/v1/namespaces/ns/deployments/web"))
    status = response.json()
    assert status["message"].endswith(
        'in the namespace "ns": Everything is forbidden.')
    assert status["message"].startswith('deployments.apps "web" is forbidden:')
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_denied_non_resource_request():
    response = call(with_authorization(ok_app(), Recording()),
                    env("GET", "/foo", user=UserInfo("system:anonymous")))
    assert response.code == 403
    assert response.json()["message"] == (
        'forbidden: User "system:anonymous" cannot get path "/foo"')


def test_authorizer_exception_is_500():
    response = call(with_authorization(ok_app(), Recording(error=RuntimeError("webhook down"))),
                    env())
    assert response.code == 500
    assert response.json()["reason"] == "InternalError"
    assert "webhook down" in response.json()["message"]


def test_an_authorizer_without_its_policy_yet_is_503_with_retry_after():
    response = call(with_authorization(
        ok_app(), Recording(error=AuthorizerNotReady("RBAC: the policy has not been read yet"))),
        env())
    assert response.code == 503
    assert response.json()["reason"] == "ServiceUnavailable"
    assert response.header("Retry-After") == "1"


def test_missing_request_info_is_500():
    response = call(with_authorization(ok_app(), AlwaysAllow()), make_environ(user=VIEWER))
    assert response.code == 500
