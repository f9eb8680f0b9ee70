"""The default RBAC policy every cluster starts with, reconciled at each worker's start.

kube-apiserver's post-start hook rbac/bootstrap-roles writes these: cluster-admin for
system:masters, discovery, basic-user and public-info for everybody, and the user-facing admin,
edit and view roles, whose rules are gathered from the system:aggregate-to-* roles by the
aggregation controller. Reconciling only adds what is missing (rules, subjects, labels and
annotations) to objects annotated `rbac.authorization.kubernetes.io/autoupdate: "true"`, so
running it in every worker, at every start, is harmless, and an administrator can opt a role out
by setting the annotation to "false".
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from kapisup.apimachinery.errors import StatusError
from kapisup.auth.user import AUTHENTICATED, MASTERS, UNAUTHENTICATED
from kapisup.registry.store import Store, WriteOptions
from kapisup.storage.interface import KeyNotFoundError

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
MANAGER = "kapisup-rbac-bootstrap"
ATTEMPTS = 5

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

Obj = dict[str, Any]


def rule(verbs: Iterable[str], groups: Iterable[str] = (), resources: Iterable[str] = (),
         urls: Iterable[str] = ()) -> Obj:
    out: Obj = {"verbs": list(verbs)}
    if urls:
        out["nonResourceURLs"] = list(urls)
    else:
        out["apiGroups"] = list(groups)
        out["resources"] = list(resources)
    return out


def _cluster_role(name: str, rules: list[Obj] | None = None, labels: dict[str, str] | None = None,
                  aggregate_from: str = "") -> Obj:
    role: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                 "metadata": {"name": name, "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
                              "annotations": {AUTOUPDATE: "true"}}}
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]}
    else:
        role["rules"] = rules or []
    return role


def _binding(name: str, role: str, groups: Iterable[str]) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABELS),
                         "annotations": {AUTOUPDATE: "true"}},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": g} for g in groups]}


def _aggregated(to: str) -> dict[str, str]:
    return {AGGREGATE_TO + to: "true"}


def cluster_roles() -> list[Obj]:
    """kube's bootstrap ClusterRoles, their rules cut to the API groups kube defines."""
    apps, batch, ext = "apps", "batch", "extensions"
    return [
        _cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"])]),
        _cluster_role("system:discovery", [rule(["get"], urls=[
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
            "/openapi/*", "/readyz", "/version", "/version/"])]),
        _cluster_role("system:basic-user", [
            rule(["create"], ["authorization.k8s.io"],
                 ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        _cluster_role("system:auth-delegator", [
            rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"])]),
        _cluster_role("system:public-info-viewer", [rule(["get"], urls=[
            "/healthz", "/livez", "/readyz", "/version", "/version/"])]),
        _cluster_role("admin", aggregate_from="admin"),
        _cluster_role("edit", labels=_aggregated("admin"), aggregate_from="edit"),
        _cluster_role("view", labels=_aggregated("edit"), aggregate_from="view"),
        _cluster_role("system:aggregate-to-admin", [
            rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
            rule(READ_WRITE, [GROUP], ["rolebindings", "roles"])], labels=_aggregated("admin")),
        _cluster_role("system:aggregate-to-edit", [
            rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
                              "secrets", "services/proxy"]),
            rule(["impersonate"], [""], ["serviceaccounts"]),
            rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward",
                               "pods/proxy"]),
            rule(["create"], [""], ["pods/eviction"]),
            rule(WRITE, [""], ["configmaps", "persistentvolumeclaims", "replicationcontrollers",
                               "replicationcontrollers/scale", "secrets", "serviceaccounts",
                               "services", "services/proxy"]),
            rule(["create"], [""], ["serviceaccounts/token"]),
            rule(WRITE, [apps], ["daemonsets", "deployments", "deployments/rollback",
                                 "deployments/scale", "replicasets", "replicasets/scale",
                                 "statefulsets", "statefulsets/scale"]),
            rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
            rule(WRITE, [batch], ["cronjobs", "jobs"]),
            rule(WRITE, [ext], ["daemonsets", "deployments", "deployments/rollback",
                                "deployments/scale", "ingresses", "networkpolicies",
                                "replicasets", "replicasets/scale",
                                "replicationcontrollers/scale"]),
            rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
            rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
        ], labels=_aggregated("edit")),
        _cluster_role("system:aggregate-to-view", [
            rule(READ, [""], ["configmaps", "endpoints", "persistentvolumeclaims",
                              "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                              "replicationcontrollers/scale", "serviceaccounts", "services",
                              "services/status"]),
            rule(READ, [""], ["bindings", "events", "limitranges", "namespaces/status",
                              "pods/log", "pods/status", "replicationcontrollers/status",
                              "resourcequotas", "resourcequotas/status"]),
            rule(READ, [""], ["namespaces"]),
            rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
            rule(READ, [apps], ["controllerrevisions", "daemonsets", "daemonsets/status",
                                "deployments", "deployments/scale", "deployments/status",
                                "replicasets", "replicasets/scale", "replicasets/status",
                                "statefulsets", "statefulsets/scale", "statefulsets/status"]),
            rule(READ, ["autoscaling"], ["horizontalpodautoscalers",
                                         "horizontalpodautoscalers/status"]),
            rule(READ, [batch], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
            rule(READ, [ext], ["daemonsets", "daemonsets/status", "deployments",
                               "deployments/scale", "deployments/status", "ingresses",
                               "ingresses/status", "networkpolicies", "replicasets",
                               "replicasets/scale", "replicasets/status",
                               "replicationcontrollers/scale"]),
            rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
            rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status",
                                               "networkpolicies"]),
        ], labels=_aggregated("view")),
    ]


def cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", "cluster-admin", [MASTERS]),
        _binding("system:discovery", "system:discovery", [AUTHENTICATED]),
        _binding("system:basic-user", "system:basic-user", [AUTHENTICATED]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 [AUTHENTICATED, UNAUTHENTICATED]),
    ]


# --- reconciling ----------------------------------------------------------------------------


def _merged(existing: Obj, wanted: Obj) -> Obj | None:
    """`existing` with what `wanted` adds; None when nothing is missing or it opted out."""
    meta = existing.setdefault("metadata", {})
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = copy.deepcopy(existing)
    out_meta = out["metadata"]
    for key in ("labels", "annotations"):
        merged = {**(wanted["metadata"].get(key) or {}), **(out_meta.get(key) or {})}
        if merged:
            out_meta[key] = merged
    if "aggregationRule" in wanted:
        rule_now = out.get("aggregationRule") or {}
        selectors = list(rule_now.get("clusterRoleSelectors") or [])
        selectors += [s for s in wanted["aggregationRule"]["clusterRoleSelectors"]
                      if s not in selectors]
        out["aggregationRule"] = {"clusterRoleSelectors": selectors}
    elif "rules" in wanted:
        rules = list(out.get("rules") or [])
        rules += [r for r in wanted["rules"] if r not in rules]
        out["rules"] = rules
    if "subjects" in wanted:
        subjects = list(out.get("subjects") or [])
        subjects += [s for s in wanted["subjects"] if s not in subjects]
        out["subjects"] = subjects
    return None if out == existing else out


def reconcile(store: Store, wanted: Obj, log: Any) -> str:
    """Create `wanted` or add what it misses; what was done, as a word for the log."""
    name = wanted["metadata"]["name"]
    opts = WriteOptions(field_manager=MANAGER)
    for _ in range(ATTEMPTS):
        try:
            existing = store.storage.get(store.resource.key("", name))
        except KeyNotFoundError:
            try:
                store.create("", copy.deepcopy(wanted), opts)
                return "created"
            except StatusError as exc:
                if exc.code == 409:
                    continue  # another worker made it: look again
                raise
        if "roleRef" in wanted and existing.get("roleRef") != wanted["roleRef"]:
            # roleRef is immutable: kube replaces a binding that points elsewhere
            if (existing["metadata"].get("annotations") or {}).get(AUTOUPDATE) == "false":
                return "kept"
            try:
                store.delete("", name, WriteOptions())
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise
            continue
        updated = _merged(existing, wanted)
        if updated is None:
            return "kept"
        try:
            store.update("", name, updated, opts)
            return "updated"
        except StatusError as exc:
            if exc.code != 409:
                raise
    log.warning("rbac bootstrap gave up after conflicts", name=name)
    return "conflict"


def ensure_bootstrap_policy(roles: Store, bindings: Store, log: Any) -> None:
    """Every default ClusterRole and ClusterRoleBinding, made or completed."""
    changed = []
    for store, objects in ((roles, cluster_roles()), (bindings, cluster_role_bindings())):
        for wanted in objects:
            if reconcile(store, wanted, log) in ("created", "updated"):
                changed.append(f"{store.resource.plural}/{wanted['metadata']['name']}")
    if changed:
        log.info("rbac bootstrap policy written", objects=changed)
