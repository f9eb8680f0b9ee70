"""RBAC: rules matched against a request, bindings indexed by subject, kube's RBAC authorizer.

Pure policy: the index holds roles and bindings as plain values that the control plane feeds from
storage (an informer per worker), so this module knows no storage and no API objects' life. A
decision looks only at the bindings of the user's name and groups, in the request's namespace
and cluster-wide, so its cost does not grow with the bindings of everybody else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kapisup.auth.authorizer import Attributes, AuthorizerNotReady, Decision
from kapisup.auth.user import SERVICE_ACCOUNT_PREFIX, UserInfo

GROUP = "rbac.authorization.k8s.io"
ALL = "*"
ROLE_KINDS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
#: how long a decision waits for the worker's first full read of the policy
SYNC_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rbac/v1 PolicyRule; tuples keep the order the object gave (rules reviews show it)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any]) -> PolicyRule:
        return cls(_strings(rule.get("verbs")), _strings(rule.get("apiGroups")),
                   _strings(rule.get("resources")), _strings(rule.get("resourceNames")),
                   _strings(rule.get("nonResourceURLs")))

    def as_dict(self) -> dict[str, list[str]]:
        """The rule as the API writes it: empty lists left out."""
        out: dict[str, list[str]] = {}
        for key, values in (("verbs", self.verbs), ("apiGroups", self.api_groups),
                            ("resources", self.resources), ("resourceNames", self.resource_names),
                            ("nonResourceURLs", self.non_resource_urls)):
            if values:
                out[key] = list(values)
        return out

    def compact_string(self) -> str:
        """kube's CompactString, the form escalation errors list missing rules in."""
        parts = []
        for label, values in (("APIGroups", self.api_groups), ("Resources", self.resources),
                              ("NonResourceURLs", self.non_resource_urls),
                              ("ResourceNames", self.resource_names), ("Verbs", self.verbs)):
            if values:
                parts.append(f"{label}:[{' '.join(_q(v) for v in values)}]")
        return "{" + ", ".join(parts) + "}"


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def parse_rules(rules: Any) -> tuple[PolicyRule, ...]:
    if not isinstance(rules, list):
        return ()
    return tuple(PolicyRule.from_dict(r) for r in rules if isinstance(r, Mapping))


# --- matching (kube's rbac.RuleAllows and the rbac/v1 helpers) -------------------------------


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    return ALL in rule.verbs or verb in rule.verbs


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return ALL in rule.api_groups or group in rule.api_groups


def resource_matches(rule: PolicyRule, combined: str, subresource: str) -> bool:
    """`*`, the exact `resource[/subresource]`, or `*/subresource` for any resource's one."""
    for resource in rule.resources:
        if resource in (ALL, combined):
            return True
        if subresource and resource == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    return not rule.resource_names or name in rule.resource_names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    """`*`, the exact path, or a prefix given with a trailing `*`."""
    for url in rule.non_resource_urls:
        if url in (ALL, path):
            return True
        if url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def rule_allows(rule: PolicyRule, attrs: Attributes) -> bool:
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.is_resource_request:
        return non_resource_url_matches(rule, attrs.path)
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    return (api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name))


def rules_allow(rules: Iterable[PolicyRule], attrs: Attributes) -> bool:
    return any(rule_allows(rule, attrs) for rule in rules)


# --- coverage (kube's escalation check: may this user hand these rules out?) ------------------


def _atomic(rule: PolicyRule) -> Iterator[PolicyRule]:
    """A rule broken into single-verb, single-target rules (kube's BreakdownRule)."""
    for verb in rule.verbs:
        for group in rule.api_groups:
            for resource in rule.resources:
                if rule.resource_names:
                    for name in rule.resource_names:
                        yield PolicyRule((verb,), (group,), (resource,), (name,))
                else:
                    yield PolicyRule((verb,), (group,), (resource,))
        for url in rule.non_resource_urls:
            yield PolicyRule((verb,), non_resource_urls=(url,))


def _resources_cover(owned: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if ALL in owned:
        return True
    for resource in wanted:
        if resource in owned:
            continue
        if "/" not in resource or "*/" + resource.split("/", 1)[1] not in owned:
            return False
    return True


def _urls_cover(owned: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    return all(any(o == w or (o.endswith("*") and w.startswith(o[:-1])) for o in owned)
               for w in wanted)


def rule_covers(owner: PolicyRule, sub: PolicyRule) -> bool:
    """Whether holding `owner` means holding all of `sub` (kube's ruleCovers)."""
    verbs = ALL in owner.verbs or set(sub.verbs) <= set(owner.verbs)
    groups = ALL in owner.api_groups or set(sub.api_groups) <= set(owner.api_groups)
    if sub.resource_names:
        names = not owner.resource_names or set(sub.resource_names) <= set(owner.resource_names)
    else:
        names = not owner.resource_names
    return (verbs and groups and names and _resources_cover(owner.resources, sub.resources)
            and _urls_cover(owner.non_resource_urls, sub.non_resource_urls))


def missing_rules(owned: Iterable[PolicyRule], wanted: Iterable[PolicyRule]) -> list[PolicyRule]:
    """What of `wanted` `owned` does not cover, compacted (verbs merged per target) and sorted
    by their compact form, as kube lists them in an escalation error."""
    owned = tuple(owned)
    missing: dict[tuple[Any, ...], list[str]] = {}
    for rule in wanted:
        for atom in _atomic(rule):
            if not any(rule_covers(o, atom) for o in owned):
                key = (atom.api_groups, atom.resources, atom.resource_names,
                       atom.non_resource_urls)
                verbs = missing.setdefault(key, [])
                if atom.verbs[0] not in verbs:
                    verbs.append(atom.verbs[0])
    rules = [PolicyRule(tuple(verbs), *key) for key, verbs in missing.items()]
    return sorted(rules, key=PolicyRule.compact_string)


# --- subjects and bindings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleRef:
    kind: str  # Role | ClusterRole
    name: str


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding (namespace set) or a ClusterRoleBinding (namespace empty)."""

    namespace: str
    name: str
    role: RoleRef
    subjects: tuple[str, ...]  # subject keys, see subject_key

    @property
    def kind(self) -> str:
        return "RoleBinding" if self.namespace else "ClusterRoleBinding"

    def describe(self) -> str:
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {_q(name)} of {self.role.kind} {_q(self.role.name)}"


def user_key(name: str) -> str:
    return "User\0" + name


def group_key(name: str) -> str:
    return "Group\0" + name


def subject_key(subject: Mapping[str, Any], binding_namespace: str) -> str | None:
    """The index key of an rbac/v1 Subject: service accounts are their user name."""
    kind, name = subject.get("kind"), subject.get("name")
    if not isinstance(name, str) or not name:
        return None
    if kind == "User":
        return user_key(name)
    if kind == "Group":
        return group_key(name)
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        if not isinstance(namespace, str) or not namespace:
            return None
        return user_key(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}")
    return None


def binding_from_object(obj: Mapping[str, Any]) -> Binding | None:
    """The Binding of a stored rbac/v1 (Cluster)RoleBinding; None if it names no role."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    ref = obj.get("roleRef") or {}
    kind, role_name = ref.get("kind"), ref.get("name")
    if kind not in ("Role", "ClusterRole") or not isinstance(role_name, str):
        return None
    keys = []
    for subject in obj.get("subjects") or ():
        if isinstance(subject, Mapping):
            key = subject_key(subject, namespace)
            if key is not None and key not in keys:
                keys.append(key)
    return Binding(namespace, meta.get("name", ""), RoleRef(kind, role_name), tuple(keys))


def user_keys(user: UserInfo) -> list[str]:
    return [user_key(user.name), *(group_key(g) for g in user.groups)]


class RBACIndex:
    """Roles and bindings of one worker, indexed by subject then namespace.

    Fed by one writer (the worker's informer greenlet); readers see each single update whole,
    as every change replaces a value or one dict entry.
    """

    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = {}
        self.cluster_roles: dict[str, tuple[PolicyRule, ...]] = {}
        self._bindings: dict[tuple[str, str], Binding] = {}
        #: subject key -> namespace ("" for cluster-wide) -> binding name -> binding
        self._by_subject: dict[str, dict[str, dict[str, Binding]]] = {}
        self._synced: set[str] = set()

    # --- feeding ---------------------------------------------------------------------------

    def set_role(self, namespace: str, name: str, rules: tuple[PolicyRule, ...]) -> None:
        if namespace:
            self.roles[(namespace, name)] = rules
        else:
            self.cluster_roles[name] = rules

    def delete_role(self, namespace: str, name: str) -> None:
        if namespace:
            self.roles.pop((namespace, name), None)
        else:
            self.cluster_roles.pop(name, None)

    def set_binding(self, binding: Binding) -> None:
        self.delete_binding(binding.namespace, binding.name)
        self._bindings[(binding.namespace, binding.name)] = binding
        for key in binding.subjects:
            self._by_subject.setdefault(key, {}).setdefault(binding.namespace, {})[
                binding.name] = binding

    def delete_binding(self, namespace: str, name: str) -> None:
        old = self._bindings.pop((namespace, name), None)
        if old is None:
            return
        for key in old.subjects:
            spaces = self._by_subject.get(key)
            if spaces is None:
                continue
            names = spaces.get(namespace)
            if names is not None:
                names.pop(name, None)
                if not names:
                    del spaces[namespace]
            if not spaces:
                del self._by_subject[key]

    def apply(self, resource: str, event: str, obj: Mapping[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED) of one of the four RBAC resources."""
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace") or "", meta.get("name") or ""
        if resource in ("roles", "clusterroles"):
            if event == "DELETED":
                self.delete_role(namespace, name)
            else:
                self.set_role(namespace, name, parse_rules(obj.get("rules")))
            return
        if event == "DELETED":
            self.delete_binding(namespace, name)
            return
        binding = binding_from_object(obj)
        if binding is None:
            self.delete_binding(namespace, name)
        else:
            self.set_binding(binding)

    def replace(self, resource: str, objects: Iterable[Mapping[str, Any]]) -> None:
        """A full list of one resource: what is not in it is gone."""
        objects = list(objects)
        seen = {((o.get("metadata") or {}).get("namespace") or "",
                 (o.get("metadata") or {}).get("name") or "") for o in objects}
        if resource == "roles":
            stale = [k for k in self.roles if k not in seen]
        elif resource == "clusterroles":
            stale = [("", k) for k in self.cluster_roles if ("", k) not in seen]
        else:
            cluster = resource == "clusterrolebindings"
            stale = [k for k in self._bindings if bool(k[0]) != cluster and k not in seen]
        for namespace, name in stale:
            self.apply(resource, "DELETED", {"metadata": {"namespace": namespace,
                                                          "name": name}})
        for obj in objects:
            self.apply(resource, "ADDED", obj)
        self._synced.add(resource)

    @property
    def synced(self) -> bool:
        """Every one of the four resources has been read in full at least once."""
        return len(self._synced) == len(ROLE_KINDS)

    def mark_unsynced(self) -> None:
        self._synced.clear()

    # --- reading ---------------------------------------------------------------------------

    def binding_count(self) -> int:
        return len(self._bindings)

    def bindings_for(self, user: UserInfo, namespace: str) -> Iterator[Binding]:
        """Cluster-wide bindings of the user's name and groups, then those of `namespace`."""
        keys = user_keys(user)
        for scope in ("", namespace) if namespace else ("",):
            for key in keys:
                spaces = self._by_subject.get(key)
                if spaces is not None:
                    yield from spaces.get(scope, {}).values()

    def role_rules(self, binding: Binding) -> tuple[tuple[PolicyRule, ...], str]:
        """The rules the binding's role holds; an error text when the role is missing."""
        ref = binding.role
        if ref.kind == "Role":
            found = self.roles.get((binding.namespace, ref.name))
            if found is None:
                return (), f'role.{GROUP} "{ref.name}" not found'
            return found, ""
        found = self.cluster_roles.get(ref.name)
        if found is None:
            return (), f'clusterrole.{GROUP} "{ref.name}" not found'
        return found, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]:
        """Every rule the user holds in `namespace` (cluster-wide ones included) and the
        errors met resolving them (kube's RulesFor)."""
        rules: list[PolicyRule] = []
        errors: list[str] = []
        for binding in self.bindings_for(user, namespace):
            found, error = self.role_rules(binding)
            rules.extend(found)
            if error:
                errors.append(error)
        return rules, errors

    def reference_rules(self, ref: RoleRef, namespace: str) -> tuple[PolicyRule, ...] | None:
        """The rules a roleRef names (a Role of `namespace`, or a ClusterRole); None if gone."""
        if ref.kind == "Role":
            return self.roles.get((namespace, ref.name))
        return self.cluster_roles.get(ref.name)


class RBACAuthorizer:
    """kube's RBAC authorizer: allow when a binding of the user's gives a matching rule.

    Built in the master with an empty index; each worker's informer fills its own copy after
    the fork. Until that first read is complete a decision waits briefly, then fails (a 503,
    never a 403 from a half-read policy) and the worker's readiness check is failing meanwhile.
    """

    __slots__ = ("index", "sync_wait")

    def __init__(self, index: RBACIndex | None = None, sync_wait: float = SYNC_WAIT):
        self.index = index if index is not None else RBACIndex()
        self.sync_wait = sync_wait

    def _wait_synced(self) -> None:
        deadline = time.monotonic() + self.sync_wait
        while not self.index.synced:
            if time.monotonic() >= deadline:
                raise AuthorizerNotReady("RBAC: the policy has not been read yet")
            time.sleep(0.02)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        if not self.index.synced:
            self._wait_synced()
        user = attrs.user
        if user is None:
            return Decision.NO_OPINION, ""
        errors: list[str] = []
        namespace = attrs.namespace if attrs.is_resource_request else ""
        for binding in self.index.bindings_for(user, namespace):
            rules, error = self.index.role_rules(binding)
            if error:
                errors.append(error)
            elif rules_allow(rules, attrs):
                return Decision.ALLOW, f"RBAC: allowed by {binding.describe()}"
        if not errors:
            return Decision.NO_OPINION, ""
        text = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
        return Decision.NO_OPINION, f"RBAC: {text}"

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[dict[str, list[str]]],
                                                                list[dict[str, list[str]]],
                                                                bool, str]:
        """(resource rules, non-resource rules, incomplete, error) for a rules review."""
        if not self.index.synced:
            self._wait_synced()
        rules, errors = self.index.rules_for(user, namespace)
        resource_rules, non_resource_rules = [], []
        for rule in rules:
            if rule.resources:
                resource_rules.append({"verbs": list(rule.verbs),
                                       "apiGroups": list(rule.api_groups),
                                       "resources": list(rule.resources),
                                       "resourceNames": list(rule.resource_names)})
            if rule.non_resource_urls:
                non_resource_rules.append({"verbs": list(rule.verbs),
                                           "nonResourceURLs": list(rule.non_resource_urls)})
        for rule in resource_rules:
            if not rule["resourceNames"]:
                del rule["resourceNames"]
        return resource_rules, non_resource_rules, bool(errors), "; ".join(errors)
