"""authorization.k8s.io/v1 access reviews: questions put to the authorizer, never stored.

A review is created (POST) and answered at once with its `status` filled, as kube's REST storage
for these kinds does; nothing is written, so the store below only offers `create`. This is what
`kubectl auth can-i` (SelfSubjectAccessReview) and `kubectl auth can-i --list`
(SelfSubjectRulesReview) ask.
"""

from __future__ import annotations

from typing import Any

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import Cause, field_invalid
from kapisup.auth.authorizer import Attributes, Authorizer, Decision
from kapisup.auth.user import AUTHENTICATED, MASTERS, UserInfo
from kapisup.registry.resource import Obj, ResourceDef, Strategy
from kapisup.registry.store import Store, WriteOptions, WriteResult

GROUP = "authorization.k8s.io"
PREFIX = "io.k8s.api.authorization.v1."
#: who asks on the insecure port, where nobody is authenticated: kube's old insecure-port user
UNSECURED = UserInfo("system:unsecured", groups=(MASTERS, AUTHENTICATED))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def attributes(user: UserInfo, spec: Obj) -> Attributes:
    """kube's AuthorizationAttributesFrom: the request a review describes."""
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(user=user, verb=_str(resource.get("verb")), is_resource_request=True,
                          api_group=_str(resource.get("group")),
                          api_version=_str(resource.get("version")),
                          resource=_str(resource.get("resource")),
                          subresource=_str(resource.get("subresource")),
                          namespace=_str(resource.get("namespace")),
                          name=_str(resource.get("name")))
    other = _dict(spec.get("nonResourceAttributes"))
    return Attributes(user=user, verb=_str(other.get("verb")), is_resource_request=False,
                      path=_str(other.get("path")))


def validate_spec(spec: Obj, path: str = "spec") -> list[Cause]:
    """kube's ValidateSubjectAccessReviewSpec (the user part is the caller's)."""
    resource, other = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and other is not None:
        return [field_invalid(f"{path}.nonResourceAttributes", other,
                              "cannot be specified in combination with resourceAttributes")]
    if resource is None and other is None:
        return [field_invalid(f"{path}.resourceAttributes", None, "exactly one of "
                              "nonResourceAttributes or resourceAttributes must be specified")]
    return []


class ReviewStrategy(Strategy):
    """Nothing to default or keep: a review lives only for its request."""


class ReviewStore(Store):
    """A create-only resource answered by the authorizer; the storage is never touched."""

    def __init__(self, resource: ResourceDef, storage: Any, schemas: Any,
                 authorizer: Authorizer, **kwargs: Any):
        super().__init__(resource, storage, schemas, **kwargs)
        self.authorizer = authorizer

    def create(self, namespace: str, obj: Obj, opts: WriteOptions,
               keep_managed_fields: bool = False) -> WriteResult:
        warnings = self.check_fields(obj, opts.field_validation)
        user: UserInfo = opts.user if opts.user is not None else UNSECURED
        meta = _dict(obj.get("metadata"))
        spec = _dict(obj.get("spec"))
        kind = self.resource.kind
        if kind == "SelfSubjectRulesReview":
            status = self._rules(user, spec)
        else:
            self._validate(kind, namespace, meta, spec)
            if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
                user = UserInfo(_str(spec.get("user")), _str(spec.get("uid")),
                                tuple(g for g in spec.get("groups") or () if isinstance(g, str)),
                                {k: tuple(v) for k, v in _dict(spec.get("extra")).items()
                                 if isinstance(v, list)})
            status = self._decide(attributes(user, spec))
        out_meta: Obj = {"creationTimestamp": None}
        if self.resource.namespaced:
            out_meta["namespace"] = namespace
        answer = {"kind": kind, "apiVersion": self.resource.api_version, "metadata": out_meta,
                  "spec": spec if kind != "SelfSubjectRulesReview" else {}, "status": status}
        return WriteResult(answer, created=True, warnings=warnings)

    def _validate(self, kind: str, namespace: str, meta: Obj, spec: Obj) -> None:
        causes = validate_spec(spec)
        if kind == "LocalSubjectAccessReview":
            given = meta.get("namespace")
            if given and given != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            resource = spec.get("resourceAttributes")
            if isinstance(resource, dict) and resource.get("namespace") != namespace:
                causes.append(field_invalid("spec.resourceAttributes.namespace",
                                            resource.get("namespace", ""),
                                            "must match metadata.namespace"))
            if spec.get("nonResourceAttributes") is not None:
                causes.append(field_invalid("spec.nonResourceAttributes",
                                            spec["nonResourceAttributes"],
                                            "disallowed on this kind of request"))
        if kind in ("SubjectAccessReview", "LocalSubjectAccessReview") and \
                not spec.get("user") and not spec.get("groups"):
            causes.append(field_invalid("spec.user", _str(spec.get("user")),
                                        "at least one of user or group must be specified"))
        if causes:
            raise errors.invalid(kind, "", causes, GROUP)

    def _decide(self, attrs: Attributes) -> Obj:
        try:
            decision, reason = self.authorizer.authorize(attrs)
            error = ""
        except Exception as exc:  # kube reports it in the status, not as a failed request
            decision, reason, error = Decision.NO_OPINION, "", str(exc)
        status: Obj = {"allowed": decision is Decision.ALLOW}
        if decision is Decision.DENY:
            status["denied"] = True
        if reason:
            status["reason"] = reason
        if error:
            status["evaluationError"] = error
        return status

    def _rules(self, user: UserInfo, spec: Obj) -> Obj:
        namespace = _str(spec.get("namespace"))
        if not namespace:
            raise errors.bad_request("no namespace on request")
        rules_for = getattr(self.authorizer, "rules_for", None)
        if rules_for is None:
            return {"resourceRules": [], "nonResourceRules": [], "incomplete": True}
        try:
            resource, non_resource, incomplete, error = rules_for(user, namespace)
        except Exception as exc:
            resource, non_resource, incomplete, error = [], [], True, str(exc)
        status: Obj = {"resourceRules": resource, "nonResourceRules": non_resource,
                       "incomplete": incomplete}
        if error:
            status["evaluationError"] = error
        return status


def review_resources() -> list[ResourceDef]:
    """The four reviews: create is their only verb."""
    return [ResourceDef(GROUP, "v1", kind, plural, kind.lower(), namespaced, PREFIX + kind,
                        ReviewStrategy(), verbs=("create",))
            for kind, plural, namespaced in (
                ("SubjectAccessReview", "subjectaccessreviews", False),
                ("SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
                ("LocalSubjectAccessReview", "localsubjectaccessreviews", True),
                ("SelfSubjectRulesReview", "selfsubjectrulesreviews", False))]
