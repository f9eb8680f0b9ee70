"""`kubectl auth can-i` (a protobuf SelfSubjectAccessReview) and `can-i --list` (a
SelfSubjectRulesReview) against the default RBAC mode, for users with and without a binding."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.kubectl import Kubectl, table
from tests.integration.rbac_server import RBAC, Client, binding, kubectl_as, rbac_server, user
from tests.integration.server import Kapisup, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    with rbac_server(tmp_path_factory.mktemp("kubectl-auth")) as started:
        yield started


@pytest.fixture(scope="module")
def kubectl(server: Kapisup, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(f"https://127.0.0.1:{server.secure_port}", tmp_path_factory.mktemp("kctl"))


@pytest.fixture(scope="module")
def ns(server: Kapisup) -> str:
    """A namespace where `editor` is bound to `edit`; `viewer` has no binding at all."""
    name = f"auth-{uuid.uuid4().hex[:8]}"
    admin = Client(server, "admin")
    admin.created("/api/v1/namespaces", {"metadata": {"name": name}})
    admin.created(f"{RBAC}/namespaces/{name}/rolebindings",
                  binding("editor-edit", "ClusterRole", "edit", [user("editor")]))
    return name


def can_i(kubectl: Kubectl, who: str, *args: str) -> tuple[int, str]:
    result = kubectl_as(kubectl, who, "auth", "can-i", *args)
    return result.rc, result.stdout.strip()


def test_can_i_answers_yes_and_no_per_user(kubectl, ns):
    wait_for(lambda: can_i(kubectl, "editor", "create", "configmaps", "-n", ns) == (0, "yes"),
             30, "the editor's binding")
    assert can_i(kubectl, "viewer", "create", "configmaps", "-n", ns) == (1, "no")
    assert can_i(kubectl, "editor", "create", "configmaps", "-n", "default") == (1, "no")
    assert can_i(kubectl, "editor", "delete", "roles", "-n", ns) == (1, "no")
    assert can_i(kubectl, "admin", "delete", "nodes") == (0, "yes")
    assert can_i(kubectl, "viewer", "get", "/version") == (0, "yes")
    assert can_i(kubectl, "viewer", "get", "/metrics") == (1, "no")


def test_can_i_list_shows_the_rules_in_a_namespace(kubectl, ns):
    wait_for(lambda: can_i(kubectl, "editor", "create", "configmaps", "-n", ns) == (0, "yes"),
             30, "the editor's binding")
    out = kubectl_as(kubectl, "editor", "auth", "can-i", "--list", "-n", ns).check().stdout
    header, rows = table(out)
    assert header == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    by_resource = {row[0]: row for row in rows}
    assert "create" in by_resource["configmaps"][-1]
    assert by_resource["selfsubjectaccessreviews.authorization.k8s.io"][-1] == "[create]"
    # URL rows have no resource: their first cell is the URL list
    urls = {cell for row in rows for cell in row if cell.startswith("[/")}
    assert "[/version]" in urls and "[/healthz]" in urls
    viewer = kubectl_as(kubectl, "viewer", "auth", "can-i", "--list", "-n", ns).check().stdout
    assert "configmaps" not in viewer
    assert "selfsubjectrulesreviews.authorization.k8s.io" in viewer


def test_auth_whoami_names_the_token_user_and_groups(kubectl):
    """`kubectl auth whoami` POSTs a SelfSubjectReview; any authenticated user may."""
    out = kubectl_as(kubectl, "editor", "auth", "whoami", "-o", "json").check().stdout
    review = json.loads(out)
    assert review["kind"] == "SelfSubjectReview"
    info = review["status"]["userInfo"]
    assert info["username"] == "editor"
    assert info["uid"] == "5"
    assert info["groups"] == ["devs", "system:authenticated"]


def test_token_review_checks_tokens_for_a_delegator(server, ns):
    """TokenReview answers who a token belongs to, and only to those allowed to create it
    (system:auth-delegator), as a webhook-authenticating component would use it."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": "viewer-token"}}
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    denied = Client(server, "delegate").post(path, review)
    assert denied.status_code == 403, denied.text
    Client(server, "admin").created(
        f"{RBAC}/clusterrolebindings",
        binding(f"delegate-{uuid.uuid4().hex[:6]}", "ClusterRole", "system:auth-delegator",
                [user("delegate")], kind="ClusterRoleBinding"))
    delegate = Client(server, "delegate")
    answer = wait_for(lambda: (r := delegate.post(path, review)).status_code == 201 and r,
                      30, "the delegator's binding").json()
    assert answer["status"]["authenticated"] is True
    assert answer["status"]["user"]["username"] == "viewer"
    assert "system:authenticated" in answer["status"]["user"]["groups"]
    assert answer["spec"]["token"] == "", "the token is not echoed back"
    bogus = delegate.post(path, {**review, "spec": {"token": "not-a-token"}})
    assert bogus.status_code == 201, bogus.text
    assert bogus.json()["status"] == {"authenticated": False, "error": "invalid bearer token"}
    missing = delegate.post(path, {**review, "spec": {}})
    assert missing.status_code == 422, missing.text
    assert missing.json()["reason"] == "Invalid"
