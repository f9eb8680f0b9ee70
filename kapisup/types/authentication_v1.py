"""authentication.k8s.io/v1: TokenRequest (serviceaccounts/token) and TokenReview.

Field numbers follow k8s.io/api authentication/v1 generated.proto (TokenRequestSpec skips 2:
expirationSeconds is 4). `UserInfo.extra`'s values travel as {repeated string items = 1}.
"""

from __future__ import annotations

from kapisup.types.dsl import (
    Schema,
    boolean,
    int64,
    kind,
    map_of,
    obj,
    ref,
    string,
    string_list,
    time,
    wrapped_string_list,
)

GROUP = "authentication.k8s.io"
PREFIX = "io.k8s.api.authentication.v1."


def a(name: str) -> str:
    """Component name of an authentication/v1 type."""
    return PREFIX + name


SCHEMAS: dict[str, Schema] = {
    a("BoundObjectReference"): obj("The object a token is bound to.", {
        "kind": string("Kind of the referent: Pod or Secret.", 1),
        "apiVersion": string("API version of the referent.", 2),
        "name": string("Name of the referent.", 3),
        "uid": string("UID of the referent.", 4),
    }),
    a("TokenRequestSpec"): obj("What the client asks of a token.", {
        "audiences": string_list("Intended audiences of the token.", 1),
        "expirationSeconds": {**int64("Requested lifetime in seconds.", 4),
                              "x-kapisup-proto-keep-zero": True},
        "boundObjectRef": ref(a("BoundObjectReference"),
                              "Object whose lifetime bounds the token's.", 3),
    }, required=["audiences"]),
    a("TokenRequestStatus"): obj("The token issued.", {
        "token": string("The opaque bearer token.", 1),
        "expirationTimestamp": time("When the token expires.", 2),
    }, required=["token", "expirationTimestamp"]),
    a("TokenRequest"): kind(GROUP, "v1", "TokenRequest",
                            "Requests a token for a service account.", {
        "spec": ref(a("TokenRequestSpec"), "The request.", 2),
        "status": ref(a("TokenRequestStatus"), "The token.", 3),
    }, required=["spec"]),
    a("TokenReviewSpec"): obj("The token to check.", {
        "token": string("The opaque bearer token.", 1),
        "audiences": string_list("Audiences the token must be meant for.", 2),
    }),
    a("UserInfo"): obj("The user a token authenticates as.", {
        "username": string("User name.", 1),
        "uid": string("User uid.", 2),
        "groups": string_list("Groups of the user.", 3),
        "extra": map_of(wrapped_string_list(), "Extra attributes of the user.", 4),
    }),
    a("TokenReviewStatus"): obj("Whether the token authenticates, and as whom.", {
        "authenticated": boolean("Whether the token is valid.", 1),
        "user": ref(a("UserInfo"), "The user of the token.", 2),
        "audiences": string_list("Audiences both the review and the token name.", 4),
        "error": string("Why the token could not be checked.", 3),
    }),
    a("TokenReview"): kind(GROUP, "v1", "TokenReview", "Checks a bearer token.", {
        "spec": ref(a("TokenReviewSpec"), "The token.", 2),
        "status": ref(a("TokenReviewStatus"), "The answer.", 3),
    }, required=["spec"]),
    a("SelfSubjectReviewStatus"): obj("Who the server thinks the requester is.", {
        "userInfo": ref(a("UserInfo"), "The requester's user.", 1),
    }),
    a("SelfSubjectReview"): kind(GROUP, "v1", "SelfSubjectReview",
                                 "Asks who the requester is authenticated as.", {
        "status": ref(a("SelfSubjectReviewStatus"), "The answer.", 2),
    }),
}

KINDS: list[tuple[str, str, str, str]] = [
    (GROUP, "v1", name, a(name))
    for name in ("TokenRequest", "TokenReview", "SelfSubjectReview")
]
