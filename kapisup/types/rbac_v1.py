"""rbac.authorization.k8s.io/v1: roles, cluster roles and the bindings that grant them.

Field numbers follow k8s.io/api rbac/v1 generated.proto.
"""

from __future__ import annotations

from kapisup.types.dsl import (
    LABEL_SELECTOR,
    Schema,
    kind,
    list_of,
    obj,
    ref,
    string,
    string_list,
)

GROUP = "rbac.authorization.k8s.io"
PREFIX = "io.k8s.api.rbac.v1."


def r(name: str) -> str:
    """Component name of an rbac/v1 type."""
    return PREFIX + name


_RULES = "Rules granted together."
_SUBJECTS = "Who the role is granted to."

SCHEMAS: dict[str, Schema] = {
    r("PolicyRule"): obj("Actions allowed on resources or non-resource URLs.", {
        "verbs": string_list("Verbs allowed; * for all.", 1),
        "apiGroups": string_list("API groups of the resources; \"\" is core, * all.", 2),
        "resources": string_list("Resources, resource/subresource or */subresource; * for all.",
                                 3),
        "resourceNames": string_list("Object names; empty means every object.", 4),
        "nonResourceURLs": string_list("URL paths (a trailing * matches a prefix); only for "
                                       "ClusterRoles bound cluster-wide.", 5),
    }, required=["verbs"]),
    r("AggregationRule"): obj("Which ClusterRoles' rules this ClusterRole gathers.", {
        "clusterRoleSelectors": list_of(LABEL_SELECTOR, "ClusterRoles matching any of these "
                                        "give their rules.", 1, list_type="atomic"),
    }),
    r("RoleRef"): obj("The role a binding grants.", {
        "apiGroup": string("API group of the role.", 1),
        "kind": string("Role or ClusterRole.", 2),
        "name": string("Name of the role.", 3),
    }, required=["apiGroup", "kind", "name"], map_type="atomic"),
    r("Subject"): obj("A user, group or service account a binding applies to.", {
        "kind": string("User, Group or ServiceAccount.", 1),
        "apiGroup": string("rbac.authorization.k8s.io for users and groups, \"\" for service "
                           "accounts.", 2),
        "name": string("Name of the subject.", 3),
        "namespace": string("Namespace of a service account.", 4),
    }, required=["kind", "name"], map_type="atomic"),
    r("Role"): kind(GROUP, "v1", "Role", "Rules that apply within one namespace.", {
        "rules": list_of(r("PolicyRule"), _RULES, 2, list_type="atomic"),
    }),
    r("ClusterRole"): kind(GROUP, "v1", "ClusterRole",
                           "Rules that apply cluster-wide or, through a RoleBinding, in one "
                           "namespace.", {
        "rules": list_of(r("PolicyRule"), _RULES, 2, list_type="atomic"),
        "aggregationRule": ref(r("AggregationRule"), "When set, the rules are the union of the "
                               "selected ClusterRoles' and kept so by a controller.", 3),
    }),
    r("RoleBinding"): kind(GROUP, "v1", "RoleBinding",
                           "Grants a Role or ClusterRole within the binding's namespace.", {
        "subjects": list_of(r("Subject"), _SUBJECTS, 2, list_type="atomic"),
        "roleRef": ref(r("RoleRef"), "The role granted; immutable.", 3),
    }, required=["roleRef"]),
    r("ClusterRoleBinding"): kind(GROUP, "v1", "ClusterRoleBinding",
                                  "Grants a ClusterRole in every namespace and cluster-wide.", {
        "subjects": list_of(r("Subject"), _SUBJECTS, 2, list_type="atomic"),
        "roleRef": ref(r("RoleRef"), "The ClusterRole granted; immutable.", 3),
    }, required=["roleRef"]),
}

KINDS: list[tuple[str, str, str, str]] = [
    (GROUP, "v1", name, r(name))
    for name in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
]
