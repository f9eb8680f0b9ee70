"""RBAC's pure parts: rule matching, the subject index, decisions, escalation coverage, and the
aggregation and bootstrap merges the control plane runs."""

from __future__ import annotations

import re

import pytest

from kapisup.apimachinery.errors import StatusError
from kapisup.auth.authorizer import Attributes, AuthorizerNotReady, Decision, build_authorizer
from kapisup.auth.rbac import (
    PolicyRule,
    RBACAuthorizer,
    RBACIndex,
    missing_rules,
    non_resource_url_matches,
    resource_matches,
    rule_allows,
)
from kapisup.auth.user import UserInfo
from kapisup.controlplane.bootstrappolicy import (
    _merged,
    cluster_role_bindings,
    cluster_roles,
)
from kapisup.controlplane.rbac import aggregate_rules
from kapisup.registry.rbac_v1 import (
    ClusterRoleBindingStrategy,
    EscalationCheck,
    RoleBindingStrategy,
    RoleStrategy,
)

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))
BOB = UserInfo("bob", groups=("system:authenticated",))
ROBOT = UserInfo("system:serviceaccount:ci:robot",
                 groups=("system:serviceaccounts", "system:authenticated"))


def req(user: UserInfo | None, verb: str, resource: str = "", namespace: str = "", *,
        group: str = "", subresource: str = "", name: str = "", path: str = "") -> Attributes:
    if path:
        return Attributes(user=user, verb=verb, is_resource_request=False, path=path)
    return Attributes(user=user, verb=verb, is_resource_request=True, api_group=group,
                      api_version="v1", resource=resource, subresource=subresource,
                      namespace=namespace, name=name)


def rule(verbs, groups=(), resources=(), names=(), urls=()) -> PolicyRule:
    return PolicyRule(tuple(verbs), tuple(groups), tuple(resources), tuple(names), tuple(urls))


# --- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(("resources", "combined", "sub", "expected"), [
    (["*"], "pods/log", "log", True),
    (["pods"], "pods", "", True),
    (["pods"], "pods/log", "log", False),
    (["pods/log"], "pods/log", "log", True),
    (["*/log"], "pods/log", "log", True),
    (["*/log"], "pods", "", False),
    (["*/status"], "pods/log", "log", False),
])
def test_resource_matching(resources, combined, sub, expected):
    assert resource_matches(rule(["get"], [""], resources), combined, sub) is expected


@pytest.mark.parametrize(("urls", "path", "expected"), [
    (["*"], "/anything", True),
    (["/healthz"], "/healthz", True),
    (["/healthz"], "/healthz/etcd", False),
    (["/healthz/*"], "/healthz/etcd", True),
    (["/apis/*"], "/apis", False),
    (["/api*"], "/apis/x", True),
])
def test_non_resource_url_matching(urls, path, expected):
    assert non_resource_url_matches(rule(["get"], urls=urls), path) is expected


def test_rule_needs_verb_group_resource_and_name():
    r = rule(["get", "list"], ["apps"], ["deployments"], names=["web"])
    assert rule_allows(r, req(ALICE, "get", "deployments", "ns", group="apps", name="web"))
    assert not rule_allows(r, req(ALICE, "get", "deployments", "ns", group="apps", name="db"))
    assert not rule_allows(r, req(ALICE, "delete", "deployments", "ns", group="apps",
                                  name="web"))
    assert not rule_allows(r, req(ALICE, "get", "deployments", "ns", group="", name="web"))
    assert rule_allows(rule(["*"], ["*"], ["*"]), req(ALICE, "escalate", "roles", group="x"))
    # a resource rule never allows a path, nor a path rule a resource
    assert not rule_allows(r, req(ALICE, "get", path="/apis"))
    assert not rule_allows(rule(["get"], urls=["*"]), req(ALICE, "get", "pods", "ns"))


# --- the index and the authorizer ------------------------------------------------------------


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict],
            namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                        "kind": role_kind, "name": role},
            "subjects": subjects}


def role(name: str, rules: list[dict], namespace: str = "") -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "rules": rules}


USER = {"kind": "User", "name": "alice"}
DEVS = {"kind": "Group", "name": "devs"}
CM_READ = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"]}


def synced_index() -> RBACIndex:
    index = RBACIndex()
    for resource in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
        index.replace(resource, [])
    return index


def test_role_binding_applies_only_in_its_namespace():
    index = synced_index()
    authz = RBACAuthorizer(index)
    index.apply("clusterroles", "ADDED", role("cm-reader", [CM_READ]))
    index.apply("rolebindings", "ADDED", binding("RoleBinding", "rb", "ClusterRole", "cm-reader",
                                                 [DEVS], "team"))
    assert authz.authorize(req(ALICE, "list", "configmaps", "team"))[0] is Decision.ALLOW
    assert authz.authorize(req(ALICE, "list", "configmaps", "other")) == (Decision.NO_OPINION,
                                                                           "")
    assert authz.authorize(req(ALICE, "list", "configmaps"))[0] is Decision.NO_OPINION
    assert authz.authorize(req(BOB, "list", "configmaps", "team"))[0] is Decision.NO_OPINION
    index.apply("rolebindings", "DELETED", {"metadata": {"name": "rb", "namespace": "team"}})
    assert authz.authorize(req(ALICE, "list", "configmaps", "team"))[0] is Decision.NO_OPINION


def test_cluster_role_binding_applies_everywhere_and_to_paths():
    index = synced_index()
    authz = RBACAuthorizer(index)
    index.apply("clusterroles", "ADDED", role("r", [CM_READ, {"verbs": ["get"],
                                                              "nonResourceURLs": ["/logs/*"]}]))
    index.apply("clusterrolebindings", "ADDED", binding("ClusterRoleBinding", "crb",
                                                        "ClusterRole", "r", [USER]))
    decision, reason = authz.authorize(req(ALICE, "get", "configmaps", "any", name="x"))
    assert decision is Decision.ALLOW
    assert reason == 'RBAC: allowed by ClusterRoleBinding "crb" of ClusterRole "r"'
    assert authz.authorize(req(ALICE, "get", path="/logs/a"))[0] is Decision.ALLOW
    assert authz.authorize(req(ALICE, "get", path="/metrics"))[0] is Decision.NO_OPINION


def test_role_binding_to_a_role_of_its_namespace_and_missing_roles():
    index = synced_index()
    authz = RBACAuthorizer(index)
    index.apply("rolebindings", "ADDED", binding("RoleBinding", "rb", "Role", "reader",
                                                 [USER], "team"))
    decision, reason = authz.authorize(req(ALICE, "get", "configmaps", "team"))
    assert decision is Decision.NO_OPINION
    assert reason == 'RBAC: role.rbac.authorization.k8s.io "reader" not found'
    index.apply("roles", "ADDED", role("reader", [CM_READ], "elsewhere"))
    assert authz.authorize(req(ALICE, "get", "configmaps", "team"))[0] is Decision.NO_OPINION
    index.apply("roles", "ADDED", role("reader", [CM_READ], "team"))
    assert authz.authorize(req(ALICE, "get", "configmaps", "team"))[0] is Decision.ALLOW


def test_service_account_subjects_are_their_user_names():
    index = synced_index()
    authz = RBACAuthorizer(index)
    index.apply("clusterroles", "ADDED", role("cm-reader", [CM_READ]))
    # no namespace on the subject: the binding's namespace
    index.apply("rolebindings", "ADDED", binding("RoleBinding", "rb", "ClusterRole", "cm-reader",
                                                 [{"kind": "ServiceAccount", "name": "robot"}],
                                                 "ci"))
    assert authz.authorize(req(ROBOT, "get", "configmaps", "ci"))[0] is Decision.ALLOW
    index.apply("clusterrolebindings", "ADDED", binding(
        "ClusterRoleBinding", "crb", "ClusterRole", "cm-reader",
        [{"kind": "ServiceAccount", "name": "robot", "namespace": "other"}]))
    assert authz.authorize(req(ROBOT, "get", "configmaps", "x"))[0] is Decision.NO_OPINION


def test_modified_binding_drops_old_subjects_and_relist_drops_the_gone():
    index = synced_index()
    authz = RBACAuthorizer(index)
    index.apply("clusterroles", "ADDED", role("cm-reader", [CM_READ]))
    crb = binding("ClusterRoleBinding", "crb", "ClusterRole", "cm-reader", [USER])
    index.apply("clusterrolebindings", "ADDED", crb)
    index.apply("clusterrolebindings", "MODIFIED", {**crb, "subjects": [DEVS]})
    assert authz.authorize(req(BOB, "get", "configmaps", "x"))[0] is Decision.NO_OPINION
    assert authz.authorize(req(ALICE, "get", "configmaps", "x"))[0] is Decision.ALLOW
    index.replace("clusterrolebindings", [])
    assert authz.authorize(req(ALICE, "get", "configmaps", "x"))[0] is Decision.NO_OPINION
    assert index.binding_count() == 0


def test_unsynced_index_is_an_error_not_a_denial():
    authz = RBACAuthorizer(RBACIndex(), sync_wait=0.05)
    with pytest.raises(AuthorizerNotReady, match="not been read"):
        authz.authorize(req(ALICE, "get", "configmaps", "x"))
    # behind system:masters in a union, it is still "not ready", not a fault
    union = build_authorizer(("RBAC",))
    with pytest.raises(AuthorizerNotReady):
        union.authorize(req(ALICE, "get", "configmaps", "x"))


def test_decision_cost_follows_the_user_not_all_bindings():
    index = synced_index()
    index.apply("clusterroles", "ADDED", role("cm-reader", [CM_READ]))
    for i in range(1000):
        index.apply("rolebindings", "ADDED", binding(
            "RoleBinding", f"rb{i}", "ClusterRole", "cm-reader",
            [{"kind": "User", "name": f"user{i}"}], f"ns{i % 50}"))
    assert len(list(index.bindings_for(ALICE, "ns1"))) == 0
    assert len(list(index.bindings_for(UserInfo("user7"), "ns7"))) == 1
    assert RBACAuthorizer(index).authorize(req(UserInfo("user7"), "get", "configmaps",
                                               "ns7"))[0] is Decision.ALLOW


def test_rules_for_lists_resource_and_url_rules():
    index = synced_index()
    index.apply("clusterroles", "ADDED", role("r", [CM_READ, {"verbs": ["get"],
                                                              "nonResourceURLs": ["/x"]}]))
    index.apply("clusterrolebindings", "ADDED", binding("ClusterRoleBinding", "crb",
                                                        "ClusterRole", "r", [DEVS]))
    resource, non_resource, incomplete, error = RBACAuthorizer(index).rules_for(ALICE, "ns")
    assert resource == [{"verbs": ["get", "list"], "apiGroups": [""],
                         "resources": ["configmaps"]}]
    assert non_resource == [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]
    assert (incomplete, error) == (False, "")


def test_union_with_rbac_reports_rules_and_masters():
    authz = build_authorizer(("RBAC",))
    rbac = authz.members[1]
    for resource in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
        rbac.index.replace(resource, [])
    root = UserInfo("root", groups=("system:masters",))
    assert authz.authorize(req(root, "delete", "nodes", name="n1"))[0] is Decision.ALLOW
    assert authz.authorize(req(ALICE, "get", "nodes"))[0] is Decision.NO_OPINION
    assert authz.rules_for(ALICE, "ns") == ([], [], False, "")


# --- escalation ------------------------------------------------------------------------------


def test_missing_rules_breaks_down_and_compacts():
    owned = [rule(["get", "list"], [""], ["configmaps"]), rule(["*"], [""], ["pods/*"]),
             rule(["get"], [""], ["*/status"]), rule(["get"], urls=["/healthz/*"])]
    assert missing_rules(owned, [rule(["get"], [""], ["configmaps"])]) == []
    assert missing_rules(owned, [rule(["get"], [""], ["nodes/status"])]) == []
    assert missing_rules(owned, [rule(["get"], urls=["/healthz/etcd"])]) == []
    missing = missing_rules(owned, [rule(["get", "delete", "watch"], [""],
                                         ["configmaps", "secrets"])])
    assert [m.compact_string() for m in missing] == [
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["delete" "watch"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete" "watch"]}',
    ]
    # names: an owner limited to names covers only those names
    limited = [rule(["get"], [""], ["configmaps"], names=["a"])]
    assert missing_rules(limited, [rule(["get"], [""], ["configmaps"], names=["a"])]) == []
    assert missing_rules(limited, [rule(["get"], [""], ["configmaps"])]) != []


def escalation_fixture() -> tuple[EscalationCheck, RBACIndex]:
    index = synced_index()
    index.apply("clusterroles", "ADDED", role("cm-reader", [CM_READ]))
    index.apply("clusterroles", "ADDED", role("root", [{"verbs": ["*"], "apiGroups": ["*"],
                                                        "resources": ["*"]}]))
    index.apply("rolebindings", "ADDED", binding("RoleBinding", "rb", "ClusterRole", "cm-reader",
                                                 [USER], "team"))
    return EscalationCheck(RBACAuthorizer(index), index), index


def test_roles_only_with_held_rules():
    guard, _ = escalation_fixture()
    strategy = RoleStrategy(guard)
    ok = role("r", [CM_READ], "team")
    strategy.admit(ok, None, ALICE)
    strategy.admit(ok, None, None)  # the server's own writes
    too_much = role("r2", [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}],
                    "team")
    with pytest.raises(StatusError) as caught:
        strategy.admit(too_much, None, ALICE)
    assert caught.value.code == 403
    assert caught.value.message == (
        'roles.rbac.authorization.k8s.io "r2" is forbidden: user "alice" (groups=["devs" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
    strategy.admit(too_much, None, UserInfo("root", groups=("system:masters",)))
    # elsewhere alice holds nothing
    with pytest.raises(StatusError):
        strategy.admit(role("r", [CM_READ], "other"), None, ALICE)


def test_bindings_only_to_held_roles():
    guard, _ = escalation_fixture()
    rb = RoleBindingStrategy(guard)
    rb.admit(binding("RoleBinding", "b", "ClusterRole", "cm-reader", [DEVS], "team"), None,
             ALICE)
    with pytest.raises(StatusError, match="not currently held"):
        rb.admit(binding("RoleBinding", "b", "ClusterRole", "root", [DEVS], "team"), None,
                 ALICE)
    with pytest.raises(StatusError, match=re.escape(
            'clusterrole.rbac.authorization.k8s.io "gone" not found')):
        rb.admit(binding("RoleBinding", "b", "ClusterRole", "gone", [DEVS], "team"), None,
                 ALICE)
    crb = ClusterRoleBindingStrategy(guard)
    with pytest.raises(StatusError, match="not currently held"):
        crb.admit(binding("ClusterRoleBinding", "b", "ClusterRole", "cm-reader", [DEVS]), None,
                  ALICE)


def test_bind_and_escalate_verbs_skip_the_rules_check():
    guard, index = escalation_fixture()
    index.apply("clusterroles", "ADDED", role("binder", [
        {"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"],
         "resources": ["clusterroles"], "resourceNames": ["root"]},
        {"verbs": ["escalate"], "apiGroups": ["rbac.authorization.k8s.io"],
         "resources": ["roles"]}]))
    index.apply("rolebindings", "ADDED", binding("RoleBinding", "rb2", "ClusterRole", "binder",
                                                 [USER], "team"))
    RoleBindingStrategy(guard).admit(
        binding("RoleBinding", "b", "ClusterRole", "root", [DEVS], "team"), None, ALICE)
    RoleStrategy(guard).admit(role("r", [{"verbs": ["*"], "apiGroups": ["*"],
                                          "resources": ["*"]}], "team"), None, ALICE)


def test_binding_validation_and_immutable_role_ref():
    strategy = RoleBindingStrategy()
    obj = {"metadata": {"name": "b", "namespace": "n"},
           "roleRef": {"kind": "ClusterRole", "name": "view"},
           "subjects": [{"kind": "User", "name": "a"}, {"kind": "Robot", "name": "r"},
                        {"kind": "ServiceAccount", "name": "s", "apiGroup": "x"}]}
    strategy.defaults(obj)
    assert obj["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert obj["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    causes = [str(c) for c in strategy.validate(obj)]
    assert causes == [
        'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", '
        '"User", "Group"',
        'subjects[2].apiGroup: Unsupported value: "x": supported values: ""']
    new = {**obj, "subjects": [], "roleRef": {**obj["roleRef"], "name": "edit"}}
    assert [c.field for c in strategy.validate_update(new, obj)] == ["roleRef"]
    crb = ClusterRoleBindingStrategy()
    assert [c.field for c in crb.validate({"roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                       "kind": "Role", "name": "x"},
                                           "subjects": [{"kind": "ServiceAccount",
                                                         "name": "s"}]})] == [
        "roleRef.kind", "subjects[0].namespace"]


def test_role_validation():
    causes = RoleStrategy().validate({"rules": [
        {"verbs": [], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "nonResourceURLs": ["/x"]},
        {"verbs": ["get"]}]})
    assert [str(c) for c in causes] == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        'rules[1].nonResourceURLs: Invalid value: ["/x"]: namespaced rules cannot apply to '
        "non-resource URLs",
        "rules[2].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[2].resources: Required value: resource rules must supply at least one resource"]
    assert RoleStrategy().name_check("system:x") == []
    assert RoleStrategy().name_check("a/b") == ["may not contain '/'"]


# --- aggregation and bootstrap ---------------------------------------------------------------


def test_aggregate_rules_unions_matching_roles_by_name():
    roles = {
        "agg": {"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"to-agg": "true"}}]}, "rules": []},
        "b": {"metadata": {"name": "b", "labels": {"to-agg": "true"}}, "rules": [CM_READ]},
        "a": {"metadata": {"name": "a", "labels": {"to-agg": "true"}},
              "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, CM_READ]},
        "c": {"metadata": {"name": "c"}, "rules": [{"verbs": ["*"]}]},
    }
    assert aggregate_rules(roles["agg"], roles) == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, CM_READ]
    assert aggregate_rules(roles["a"], roles) is None


def test_bootstrap_policy_shape_and_merge():
    names = {r["metadata"]["name"] for r in cluster_roles()}
    assert {"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
            "system:public-info-viewer", "system:aggregate-to-admin",
            "system:aggregate-to-edit", "system:aggregate-to-view"} <= names
    for obj in cluster_roles() + cluster_role_bindings():
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert obj["metadata"]["annotations"][
            "rbac.authorization.kubernetes.io/autoupdate"] == "true"
    public = next(b for b in cluster_role_bindings()
                  if b["metadata"]["name"] == "system:public-info-viewer")
    assert [s["name"] for s in public["subjects"]] == ["system:authenticated",
                                                       "system:unauthenticated"]
    wanted = next(r for r in cluster_roles() if r["metadata"]["name"] == "system:discovery")
    existing = {"metadata": {"name": "system:discovery", "labels": {"mine": "1"}},
                "rules": [{"verbs": ["get"], "nonResourceURLs": ["/custom"]}]}
    merged = _merged(existing, wanted)
    assert merged is not None
    assert merged["rules"][0] == {"verbs": ["get"], "nonResourceURLs": ["/custom"]}
    assert merged["rules"][1:] == wanted["rules"]
    assert merged["metadata"]["labels"]["mine"] == "1"
    assert _merged(merged, wanted) is None
    opted_out = {"metadata": {"name": "x", "annotations": {
        "rbac.authorization.kubernetes.io/autoupdate": "false"}}, "rules": []}
    assert _merged(opted_out, wanted) is None


def test_printers_match_kubes_columns():
    from kapisup.registry.printers import cells_for, columns_for

    group = "rbac.authorization.k8s.io"
    assert [c.name for c in columns_for("clusterroles", group)] == ["Name", "Created At"]
    assert [c.name for c in columns_for("rolebindings", group)] == [
        "Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    assert [c.priority for c in columns_for("clusterrolebindings", group)] == [0, 0, 0, 1, 1, 1]
    obj = {"metadata": {"name": "b", "creationTimestamp": "2024-01-01T00:00:00Z"},
           "roleRef": {"kind": "ClusterRole", "name": "view"},
           "subjects": [USER, DEVS, {"kind": "User", "name": "bob"},
                        {"kind": "ServiceAccount", "name": "robot", "namespace": "ci"}]}
    assert cells_for("rolebindings", group, obj, 1704067200 + 90) == [
        "b", "ClusterRole/view", "90s", "alice, bob", "devs", "ci/robot"]
    assert cells_for("roles", group, obj, 0) == ["b", "2024-01-01T00:00:00Z"]
