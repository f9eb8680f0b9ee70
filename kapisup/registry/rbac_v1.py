"""rbac.authorization.k8s.io/v1: roles and bindings, with kube's validation and its guard
against privilege escalation.

A user may write a role only with rules it already holds where the role applies (or with the
`escalate` verb on it), and a binding only to a role whose rules it holds (or with `bind` on
that role); system:masters and the server's own writes pass. kube does this in its RBAC REST
storage; here it is the strategies' `admit`, which the generic store calls after validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import (
    Cause,
    StatusError,
    field_invalid,
    field_not_supported,
    field_required,
)
from kapisup.apimachinery.validation import is_dns1123_subdomain, is_valid_path_segment_name
from kapisup.auth.authorizer import Attributes, Authorizer, Decision
from kapisup.auth.rbac import (
    GROUP,
    PolicyRule,
    RBACIndex,
    RoleRef,
    missing_rules,
    parse_rules,
)
from kapisup.auth.user import MASTERS, UserInfo
from kapisup.registry.resource import Obj, ResourceDef, Strategy

PREFIX = "io.k8s.api.rbac.v1."
SUBJECT_KINDS = ["ServiceAccount", "User", "Group"]
#: metadata a garbage collector changes; such updates are not re-checked (kube's
#: IsOnlyMutatingGCFields)
_GC_FIELDS = ("ownerReferences", "finalizers", "managedFields", "resourceVersion")


class EscalationCheck:
    """Whether a requester may grant rules: kube's ConfirmNoEscalation and its shortcuts."""

    def __init__(self, authorizer: Authorizer, index: RBACIndex):
        self.authorizer = authorizer
        self.index = index

    @staticmethod
    def trusted(user: UserInfo | None) -> bool:
        return user is None or MASTERS in user.groups

    def allowed(self, user: UserInfo, verb: str, resource: str, namespace: str,
                name: str) -> bool:
        attrs = Attributes(user=user, verb=verb, is_resource_request=True, api_group=GROUP,
                           api_version="v1", resource=resource, namespace=namespace, name=name)
        try:
            decision, _ = self.authorizer.authorize(attrs)
        except Exception:
            return False
        return decision is Decision.ALLOW

    def confirm(self, user: UserInfo, namespace: str, rules: tuple[PolicyRule, ...]) -> str:
        """Why the user may not grant `rules` in `namespace` ("" for cluster-wide); "" if it may."""
        owned, resolution_errors = self.index.rules_for(user, namespace)
        missing = missing_rules(owned, rules)
        if not missing:
            return ""
        message = (f"user {_q(user.name)} (groups={_go_strings(user.groups)}) is attempting "
                   "to grant RBAC permissions not currently held:\n"
                   + "\n".join(rule.compact_string() for rule in missing))
        if resolution_errors:
            message += f"; resolution errors: [{', '.join(resolution_errors)}]"
        return message


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _go_strings(values: tuple[str, ...]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(_q(v) for v in values) + "]"


def _only_gc_fields_changed(new: Obj, old: Obj) -> bool:
    def strip(obj: Obj) -> Obj:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _GC_FIELDS}
        return {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": meta}

    return strip(new) == strip(old)


# --- validation helpers -------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_rule(rule: Any, path: str, namespaced: bool) -> list[Cause]:
    """kube's ValidatePolicyRule."""
    if not isinstance(rule, dict):
        return [field_invalid(path, rule, "must be an object")]
    causes = []
    if not _list(rule.get("verbs")):
        causes.append(field_required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = _list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            causes.append(field_invalid(f"{path}.nonResourceURLs", urls,
                                        "namespaced rules cannot apply to non-resource URLs"))
        if _list(rule.get("apiGroups")) or _list(rule.get("resources")) or \
                _list(rule.get("resourceNames")):
            causes.append(field_invalid(f"{path}.nonResourceURLs", urls, "rules cannot apply "
                                        "to both regular resources and non-resource URLs"))
        return causes
    if not _list(rule.get("apiGroups")):
        causes.append(field_required(f"{path}.apiGroups",
                                     "resource rules must supply at least one api group"))
    if not _list(rule.get("resources")):
        causes.append(field_required(f"{path}.resources",
                                     "resource rules must supply at least one resource"))
    return causes


def validate_subject(subject: Any, path: str, namespaced: bool) -> list[Cause]:
    """kube's ValidateRoleBindingSubject."""
    if not isinstance(subject, dict):
        return [field_invalid(path, subject, "must be an object")]
    causes = []
    name = subject.get("name") or ""
    kind = subject.get("kind") or ""
    api_group = subject.get("apiGroup") or ""
    if not name:
        causes.append(field_required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            causes += [field_invalid(f"{path}.name", name, msg)
                       for msg in is_dns1123_subdomain(name)]
        if api_group:
            causes.append(field_not_supported(f"{path}.apiGroup", api_group, [""]))
        if not namespaced and not subject.get("namespace"):
            causes.append(field_required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if api_group != GROUP:
            causes.append(field_not_supported(f"{path}.apiGroup", api_group, [GROUP]))
    else:
        causes.append(field_not_supported(f"{path}.kind", kind, SUBJECT_KINDS))
    return causes


def validate_role_ref(ref: Any, kinds: list[str]) -> list[Cause]:
    if not isinstance(ref, dict):
        return [field_required("roleRef")]
    causes = []
    api_group = ref.get("apiGroup") or ""
    if api_group != GROUP:
        causes.append(field_not_supported("roleRef.apiGroup", api_group, [GROUP]))
    kind = ref.get("kind") or ""
    if kind not in kinds:
        causes.append(field_not_supported("roleRef.kind", kind, kinds))
    name = ref.get("name") or ""
    if not name:
        causes.append(field_required("roleRef.name"))
    else:
        causes += [field_invalid("roleRef.name", name, msg)
                   for msg in is_valid_path_segment_name(name)]
    return causes


def _label_selector_causes(selector: Any, path: str) -> list[Cause]:
    from kapisup.apimachinery.selectors import label_selector_from_dict

    if not isinstance(selector, dict):
        return [field_invalid(path, selector, "must be an object")]
    try:
        label_selector_from_dict(selector)
    except StatusError as exc:
        return [field_invalid(path, selector, exc.message)]
    return []


# --- strategies ---------------------------------------------------------------------------


class _RBACStrategy(Strategy):
    #: kube's RBAC strategies create on PUT
    allow_create_on_update = True
    resource = ""
    namespaced = False

    def __init__(self, guard: EscalationCheck | None = None):
        self.guard = guard

    def name_check(self, name: str) -> list[str]:
        return is_valid_path_segment_name(name)

    def forbidden(self, obj: Obj, why: str) -> StatusError:
        name = (obj.get("metadata") or {}).get("name", "")
        return errors.forbidden(self.resource, name, why, GROUP)

    def admit(self, obj: Obj, old: Obj | None, user: Any) -> None:
        if self.guard is None or EscalationCheck.trusted(user):
            return
        if old is not None and _only_gc_fields_changed(obj, old):
            return
        self.check(obj, user)

    def check(self, obj: Obj, user: UserInfo) -> None:
        raise NotImplementedError


class _RoleStrategy(_RBACStrategy):
    def validate(self, obj: Obj) -> list[Cause]:
        causes = []
        for i, rule in enumerate(_list(obj.get("rules"))):
            causes += validate_rule(rule, f"rules[{i}]", self.namespaced)
        return causes

    def check(self, obj: Obj, user: UserInfo) -> None:
        assert self.guard is not None
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        if self.guard.allowed(user, "escalate", self.resource, namespace, name):
            return
        if not self.namespaced and obj.get("aggregationRule") is not None:
            raise self.forbidden(obj, "must have cluster-admin privileges to use the "
                                      "aggregationRule")
        why = self.guard.confirm(user, namespace, parse_rules(obj.get("rules")))
        if why:
            raise self.forbidden(obj, why)


class RoleStrategy(_RoleStrategy):
    resource = "roles"
    namespaced = True


class ClusterRoleStrategy(_RoleStrategy):
    resource = "clusterroles"

    def validate(self, obj: Obj) -> list[Cause]:
        causes = super().validate(obj)
        rule = obj.get("aggregationRule")
        if rule is not None:
            selectors = _list(rule.get("clusterRoleSelectors")) if isinstance(rule, dict) else []
            if not selectors:
                causes.append(field_required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil"))
            for i, selector in enumerate(selectors):
                causes += _label_selector_causes(
                    selector, f"aggregationRule.clusterRoleSelectors[{i}]")
        return causes


class _BindingStrategy(_RBACStrategy):
    role_kinds = ["Role", "ClusterRole"]

    def defaults(self, obj: Obj) -> None:
        """kube's SetDefaults_RoleBinding/Subject: rbac's group on roleRef, users and groups."""
        ref = obj.get("roleRef")
        if isinstance(ref, dict) and not ref.get("apiGroup"):
            ref["apiGroup"] = GROUP
        for subject in _list(obj.get("subjects")):
            if isinstance(subject, dict) and not subject.get("apiGroup") and \
                    subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP

    def validate(self, obj: Obj) -> list[Cause]:
        causes = validate_role_ref(obj.get("roleRef"), self.role_kinds)
        for i, subject in enumerate(_list(obj.get("subjects"))):
            causes += validate_subject(subject, f"subjects[{i}]", self.namespaced)
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        if new.get("roleRef") != old.get("roleRef"):
            causes.append(field_invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return causes

    def check(self, obj: Obj, user: UserInfo) -> None:
        assert self.guard is not None
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or ""
        ref = obj.get("roleRef") or {}
        role = RoleRef(ref.get("kind", ""), ref.get("name", ""))
        role_resource = "roles" if role.kind == "Role" else "clusterroles"
        if self.guard.allowed(user, "bind", role_resource, namespace, role.name):
            return
        rules = self.guard.index.reference_rules(role, namespace)
        if rules is None:
            raise self.forbidden(obj, f'{role.kind.lower()}.{GROUP} {_q(role.name)} not found')
        why = self.guard.confirm(user, namespace, rules)
        if why:
            raise self.forbidden(obj, why)


class RoleBindingStrategy(_BindingStrategy):
    resource = "rolebindings"
    namespaced = True


class ClusterRoleBindingStrategy(_BindingStrategy):
    resource = "clusterrolebindings"
    role_kinds = ["ClusterRole"]


def rbac_resources(guard: EscalationCheck | None = None) -> list[ResourceDef]:
    """The four RBAC resources; without a guard nobody's writes are checked for escalation."""
    make: list[tuple[str, str, str, bool, Callable[..., Strategy]]] = [
        ("Role", "roles", "role", True, RoleStrategy),
        ("ClusterRole", "clusterroles", "clusterrole", False, ClusterRoleStrategy),
        ("RoleBinding", "rolebindings", "rolebinding", True, RoleBindingStrategy),
        ("ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", False,
         ClusterRoleBindingStrategy),
    ]
    return [ResourceDef(GROUP, "v1", kind, plural, singular, namespaced, PREFIX + kind,
                        strategy(guard))
            for kind, plural, singular, namespaced, strategy in make]
