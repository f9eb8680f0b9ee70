"""RBAC on a real server: anonymous and limited users, bindings seen by every worker, the
escalation check, aggregation, impersonation and the access reviews over HTTPS and kubectl."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import yaml

from tests.integration.kubectl import Kubectl
from tests.integration.rbac_server import (
    RBAC,
    Client,
    binding,
    group,
    kubectl_as,
    rbac_server,
    user,
)
from tests.integration.server import Kapisup, wait_for

DEADLINE = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    with rbac_server(tmp_path_factory.mktemp("rbac")) as started:
        yield started


@pytest.fixture(scope="module")
def kubectl(server: Kapisup, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(f"https://127.0.0.1:{server.secure_port}", tmp_path_factory.mktemp("kctl"))


@pytest.fixture
def ns(server: Kapisup) -> str:
    name = f"rbac-{uuid.uuid4().hex[:8]}"
    Client(server, "admin").created("/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def test_anonymous_reaches_public_info_only(server):
    anonymous = Client(server, None)
    assert anonymous.get("/version").status_code == 200
    assert anonymous.get("/healthz").status_code == 200
    denied = anonymous.get("/api/v1/namespaces")
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in '
        'API group "" at the cluster scope')
    # discovery is for authenticated users only, as in kube
    assert anonymous.get("/api").status_code == 403
    assert Client(server, "viewer").get("/api").status_code == 200
    assert server.get("/readyz/poststarthook/rbac/bootstrap-roles").text == "ok"


def test_binding_through_one_worker_takes_effect_on_the_other(server, ns):
    viewer, admin = Client(server, "viewer"), Client(server, "admin")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    denied = viewer.post(path, {"metadata": {"name": "nope"}})
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        f'configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API '
        f'group "" in the namespace "{ns}"')
    assert viewer.get(path).status_code == 403
    mark = server.mark()
    admin.created(f"{RBAC}/namespaces/{ns}/rolebindings",
                  binding("viewer-view", "ClusterRole", "view", [user("viewer")]))
    # access lines are written in batches after the response: wait for the create's
    created = wait_for(lambda: [e for e in server.access(f"{RBAC}/namespaces/{ns}/rolebindings",
                                                         mark) if e.get("status") == 201],
                       what="the binding's access line")
    writer = created[0]["pid"]
    # fresh connections until a worker other than the writer has answered the viewer with 200
    deadline = time.monotonic() + DEADLINE
    sent = 0
    while True:
        code = viewer.get(path).status_code
        assert code in (200, 403), code
        sent += 1
        wait_for(lambda n=sent: len(server.access(path, mark)) >= n, what="access lines")
        others = {e["pid"] for e in server.access(path, mark)
                  if e.get("status") == 200 and e["pid"] != writer}
        if others:
            break
        assert time.monotonic() < deadline, "no other worker ever allowed the viewer"
        time.sleep(0.02)
    # view reads, never writes
    assert viewer.post(path, {"metadata": {"name": "nope"}}).status_code == 403


def test_role_ref_is_immutable(server, ns):
    admin = Client(server, "admin")
    made = admin.created(f"{RBAC}/namespaces/{ns}/rolebindings",
                         binding("b", "ClusterRole", "view", [group("devs")]))
    made["roleRef"]["name"] = "edit"
    response = admin.request("PUT", f"{RBAC}/namespaces/{ns}/rolebindings/b", json=made)
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "Invalid"
    assert [c["field"] for c in body["details"]["causes"]] == ["roleRef"]
    assert "cannot change roleRef" in body["message"]
    bad = admin.post(f"{RBAC}/clusterrolebindings",
                     binding(f"bad-{ns}", "Role", "x", [{"kind": "Robot", "name": "r"}],
                             kind="ClusterRoleBinding"))
    assert bad.status_code == 422
    assert [c["field"] for c in bad.json()["details"]["causes"]] == ["roleRef.kind",
                                                                     "subjects[0].kind"]


def test_escalation_is_refused(server, ns):
    admin, delegate = Client(server, "admin"), Client(server, "delegate")
    admin.created(f"{RBAC}/namespaces/{ns}/rolebindings",
                  binding("delegate-admin", "ClusterRole", "admin", [user("delegate")]))
    roles = f"{RBAC}/namespaces/{ns}/roles"
    held = {"metadata": {"name": "cm-reader"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""],
                       "resources": ["configmaps"]}]}
    # bounded wait for the binding, and for admin's rules (aggregated) to be read
    wait_for(lambda: delegate.post(roles, held).status_code == 201, DEADLINE,
             "the delegate's admin binding")
    too_much = {"metadata": {"name": "node-lister"},
                "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}]}
    refused = delegate.post(roles, too_much)
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        'roles.rbac.authorization.k8s.io "node-lister" is forbidden: user "delegate" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["list"]}')
    bindings = f"{RBAC}/namespaces/{ns}/rolebindings"
    assert delegate.post(bindings, binding("to-view", "ClusterRole", "view",
                                           [user("viewer")])).status_code == 201
    root = delegate.post(bindings, binding("to-root", "ClusterRole", "cluster-admin",
                                           [user("viewer")]))
    assert root.status_code == 403
    assert "attempting to grant RBAC permissions not currently held" in root.json()["message"]
    # cluster-wide the delegate holds nothing
    assert delegate.post(f"{RBAC}/clusterroles", {"metadata": {"name": f"x-{ns}"}, "rules": [
        held["rules"][0]]}).status_code == 403
    # system:masters may grant anything
    assert admin.post(roles, too_much).status_code == 201


def test_aggregation_follows_labelled_cluster_roles(server, kubectl):
    out = kubectl_as(kubectl, "admin", "get", "clusterrole", "admin", "-o", "yaml").check()
    admin_role = yaml.safe_load(out.stdout)
    assert admin_role["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]
    assert admin_role["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    resources = {r for rule in admin_role["rules"] for r in rule.get("resources", ())}
    # from system:aggregate-to-admin, -edit and (through edit) -view
    assert {"rolebindings", "localsubjectaccessreviews", "secrets", "configmaps"} <= resources
    Client(server, "admin").created(f"{RBAC}/clusterroles", {
        "metadata": {"name": "widget-viewer",
                     "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]})

    def gathered(name: str) -> bool:
        role = Client(server, "admin").get(f"{RBAC}/clusterroles/{name}").json()
        return any("widgets" in r.get("resources", ()) for r in role.get("rules") or ())

    for name in ("view", "edit", "admin"):
        wait_for(lambda n=name: gathered(n), DEADLINE, f"widgets aggregated into {name}")
    table = kubectl_as(kubectl, "admin", "get", "clusterrolebinding",
                       "system:public-info-viewer", "-o", "wide").check().stdout
    assert "ClusterRole/system:public-info-viewer" in table
    assert "system:authenticated, system:unauthenticated" in table


def test_impersonation_needs_the_impersonate_verb(server, kubectl, ns):
    admin = Client(server, "admin")
    admin.created(f"{RBAC}/namespaces/{ns}/rolebindings",
                  binding("devs-view", "ClusterRole", "view", [group("devs")]))
    args = ("--as", "someone", "--as-group", "devs", "get", "configmaps", "-n", ns)
    denied = kubectl_as(kubectl, "imp", *args)
    assert denied.rc != 0
    assert ('users "someone" is forbidden: User "imp" cannot impersonate resource "users" in '
            'API group "" at the cluster scope') in denied.stderr
    admin.created(f"{RBAC}/clusterroles", {
        "metadata": {"name": f"impersonator-{ns}"},
        "rules": [{"verbs": ["impersonate"], "apiGroups": [""],
                   "resources": ["users", "groups"]}]})
    admin.created(f"{RBAC}/clusterrolebindings",
                  binding(f"imp-{ns}", "ClusterRole", f"impersonator-{ns}", [user("imp")],
                          kind="ClusterRoleBinding"))
    wait_for(lambda: kubectl_as(kubectl, "imp", *args).rc == 0, DEADLINE,
             "impersonation allowed")
    # the impersonated identity is what is authorized: devs may read, not write
    wrote = kubectl_as(kubectl, "imp", "--as", "someone", "--as-group", "devs", "create",
                       "configmap", "c", "-n", ns)
    assert wrote.rc != 0
    assert 'User "someone" cannot create resource "configmaps"' in wrote.stderr
    # each requested group is its own check: a role naming some groups grants only those
    admin.created(f"{RBAC}/clusterroles", {
        "metadata": {"name": f"narrow-{ns}"},
        "rules": [{"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"]},
                  {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["groups"],
                   "resourceNames": ["devs"]}]})
    admin.created(f"{RBAC}/clusterrolebindings",
                  binding(f"narrow-{ns}", "ClusterRole", f"narrow-{ns}", [user("editor")],
                          kind="ClusterRoleBinding"))
    wait_for(lambda: kubectl_as(kubectl, "editor", *args).rc == 0, DEADLINE,
             "narrow impersonation allowed")
    masters = kubectl_as(kubectl, "editor", "--as", "someone", "--as-group", "system:masters",
                         "get", "nodes")
    assert masters.rc != 0
    assert ('groups "system:masters" is forbidden: User "editor" cannot impersonate resource '
            '"groups"') in masters.stderr


def test_access_reviews(server, ns):
    admin, viewer = Client(server, "admin"), Client(server, "viewer")
    reviews = "/apis/authorization.k8s.io/v1"
    sar = admin.created(f"{reviews}/subjectaccessreviews", {"spec": {
        "user": "viewer", "groups": ["system:authenticated"],
        "resourceAttributes": {"verb": "get", "resource": "configmaps", "namespace": ns}}})
    assert sar["status"]["allowed"] is False
    assert sar["kind"] == "SubjectAccessReview"
    sar = admin.created(f"{reviews}/subjectaccessreviews", {"spec": {
        "user": "x", "groups": ["system:masters"],
        "nonResourceAttributes": {"verb": "get", "path": "/metrics"}}})
    assert sar["status"]["allowed"] is True
    invalid = admin.post(f"{reviews}/subjectaccessreviews", {"spec": {
        "resourceAttributes": {"verb": "get", "resource": "pods"}}})
    assert invalid.status_code == 422
    assert invalid.json()["details"]["causes"][0]["field"] == "spec.user"
    local = admin.post(f"{reviews}/namespaces/{ns}/localsubjectaccessreviews", {"spec": {
        "user": "viewer", "resourceAttributes": {"verb": "get", "resource": "pods",
                                                 "namespace": "elsewhere"}}})
    assert local.status_code == 422
    assert "must match metadata.namespace" in local.text
    # a viewer may ask about itself, but not about others
    own = viewer.created(f"{reviews}/selfsubjectaccessreviews", {"spec": {
        "resourceAttributes": {"verb": "create", "resource": "configmaps", "namespace": ns}}})
    assert own["status"]["allowed"] is False
    assert viewer.post(f"{reviews}/subjectaccessreviews", {"spec": {
        "user": "admin", "nonResourceAttributes": {"verb": "get", "path": "/"}}}
    ).status_code == 403
    # nothing is stored: there is no list, get or delete
    assert admin.get(f"{reviews}/subjectaccessreviews").status_code == 405
    discovery = admin.get(reviews).json()
    verbs = {r["name"]: r["verbs"] for r in discovery["resources"]}
    assert verbs == {"subjectaccessreviews": ["create"], "selfsubjectaccessreviews": ["create"],
                     "localsubjectaccessreviews": ["create"],
                     "selfsubjectrulesreviews": ["create"]}
