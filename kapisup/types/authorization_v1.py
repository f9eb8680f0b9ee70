"""authorization.k8s.io/v1: access reviews (`kubectl auth can-i` and webhook-style checks).

Field numbers follow k8s.io/api authorization/v1 generated.proto. The `extra` map's values are
wrapped on the wire in a message {repeated string items = 1}: `x-kapisup-proto-kind: string-list`.
"""

from __future__ import annotations

from kapisup.types.dsl import (
    META,
    Schema,
    boolean,
    kind,
    list_of,
    map_of,
    obj,
    ref,
    string,
    string_list,
    wrapped_string_list,
)

GROUP = "authorization.k8s.io"
PREFIX = "io.k8s.api.authorization.v1."


def a(name: str) -> str:
    """Component name of an authorization/v1 type."""
    return PREFIX + name


SCHEMAS: dict[str, Schema] = {
    META + "FieldSelectorRequirement": obj("One clause of a field selector.", {
        "key": string("Field the clause tests.", 1),
        "operator": string("In, NotIn, Exists or DoesNotExist.", 2),
        "values": string_list("Values for In and NotIn.", 3),
    }, required=["key", "operator"]),
    a("FieldSelectorAttributes"): obj("A field selector limiting the access asked about.", {
        "rawSelector": string("The selector as a query parameter would carry it.", 1),
        "requirements": list_of(META + "FieldSelectorRequirement", "The parsed clauses.", 2,
                                list_type="atomic"),
    }),
    a("LabelSelectorAttributes"): obj("A label selector limiting the access asked about.", {
        "rawSelector": string("The selector as a query parameter would carry it.", 1),
        "requirements": list_of(META + "LabelSelectorRequirement", "The parsed clauses.", 2,
                                list_type="atomic"),
    }),
    a("ResourceAttributes"): obj("A request on a resource.", {
        "namespace": string("Namespace; empty means all (or none, for cluster scope).", 1),
        "verb": string("Verb such as get, list or create; * for all.", 2),
        "group": string("API group; * for all.", 3),
        "version": string("API version; * for all.", 4),
        "resource": string("Resource; * for all.", 5),
        "subresource": string("Subresource; empty for none.", 6),
        "name": string("Object name; empty for all.", 7),
        "fieldSelector": ref(a("FieldSelectorAttributes"), "Field limits of the request.", 8),
        "labelSelector": ref(a("LabelSelectorAttributes"), "Label limits of the request.", 9),
    }),
    a("NonResourceAttributes"): obj("A request on a non-resource URL.", {
        "path": string("URL path.", 1),
        "verb": string("HTTP verb in lower case.", 2),
    }),
    a("SubjectAccessReviewSpec"): obj("The request and the user it is checked for.", {
        "resourceAttributes": ref(a("ResourceAttributes"), "A resource request.", 1),
        "nonResourceAttributes": ref(a("NonResourceAttributes"), "A non-resource request.", 2),
        "user": string("User checked.", 3),
        "groups": string_list("Groups of the user.", 4),
        "extra": map_of(wrapped_string_list(), "Extra attributes of the user.", 5),
        "uid": string("UID of the user.", 6),
    }),
    a("SelfSubjectAccessReviewSpec"): obj("The request checked for the caller.", {
        "resourceAttributes": ref(a("ResourceAttributes"), "A resource request.", 1),
        "nonResourceAttributes": ref(a("NonResourceAttributes"), "A non-resource request.", 2),
    }),
    a("SubjectAccessReviewStatus"): obj("The authorizer's answer.", {
        "allowed": boolean("Whether the request would be allowed.", 1),
        "denied": boolean("Whether the request would be explicitly denied.", 4),
        "reason": string("Why it was allowed or denied.", 2),
        "evaluationError": string("Error met while deciding.", 3),
    }, required=["allowed"]),
    a("SelfSubjectRulesReviewSpec"): obj("Where to list the caller's rules.", {
        "namespace": string("Namespace to evaluate.", 1),
    }),
    a("ResourceRule"): obj("Actions allowed on resources.", {
        "verbs": string_list("Verbs; * for all.", 1),
        "apiGroups": string_list("API groups; * for all.", 2),
        "resources": string_list("Resources; * for all.", 3),
        "resourceNames": string_list("Object names; empty for all.", 4),
    }, required=["verbs"]),
    a("NonResourceRule"): obj("Actions allowed on non-resource URLs.", {
        "verbs": string_list("Verbs; * for all.", 1),
        "nonResourceURLs": string_list("URL paths; a trailing * matches a prefix.", 2),
    }, required=["verbs"]),
    a("SubjectRulesReviewStatus"): obj("What the caller may do; possibly incomplete.", {
        "resourceRules": list_of(a("ResourceRule"), "Rules on resources.", 1,
                                 list_type="atomic"),
        "nonResourceRules": list_of(a("NonResourceRule"), "Rules on non-resource URLs.", 2,
                                    list_type="atomic"),
        "incomplete": boolean("Whether the lists may miss rules.", 3),
        "evaluationError": string("Error met while listing.", 4),
    }, required=["resourceRules", "nonResourceRules", "incomplete"]),
    a("SubjectAccessReview"): kind(GROUP, "v1", "SubjectAccessReview",
                                   "Asks whether a user may perform an action.", {
        "spec": ref(a("SubjectAccessReviewSpec"), "The question.", 2),
        "status": ref(a("SubjectAccessReviewStatus"), "The answer.", 3),
    }, required=["spec"]),
    a("LocalSubjectAccessReview"): kind(GROUP, "v1", "LocalSubjectAccessReview",
                                        "Asks whether a user may act in one namespace.", {
        "spec": ref(a("SubjectAccessReviewSpec"), "The question.", 2),
        "status": ref(a("SubjectAccessReviewStatus"), "The answer.", 3),
    }, required=["spec"]),
    a("SelfSubjectAccessReview"): kind(GROUP, "v1", "SelfSubjectAccessReview",
                                       "Asks whether the caller may perform an action.", {
        "spec": ref(a("SelfSubjectAccessReviewSpec"), "The question.", 2),
        "status": ref(a("SubjectAccessReviewStatus"), "The answer.", 3),
    }, required=["spec"]),
    a("SelfSubjectRulesReview"): kind(GROUP, "v1", "SelfSubjectRulesReview",
                                      "Lists what the caller may do in a namespace.", {
        "spec": ref(a("SelfSubjectRulesReviewSpec"), "The question.", 2),
        "status": ref(a("SubjectRulesReviewStatus"), "The answer.", 3),
    }, required=["spec"]),
}

KINDS: list[tuple[str, str, str, str]] = [
    (GROUP, "v1", name, a(name))
    for name in ("SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview",
                 "SelfSubjectRulesReview")
]
