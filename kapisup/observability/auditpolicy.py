"""audit.k8s.io/v1 Policy: which requests are audited, at which level and in which stages.

A policy file is read and checked once (in the master, so a bad file stops start-up with one
line) and compiled into rules of frozensets; deciding a request's level is then a few set
lookups per rule, with no parsing on the hot path. Matching follows kube-apiserver's policy
checker: the first rule that matches decides, no match means level None.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

#: Where the master leaves the checked policy in the server Config's `extra` for the workers.
AUDIT_POLICY_KEY = "audit_policy"
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")


class Level(enum.IntEnum):
    """Ordered, so `level >= Level.REQUEST` reads as "bodies are wanted"."""

    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3

    @property
    def wire(self) -> str:
        return _WIRE[self]


_WIRE = {Level.NONE: "None", Level.METADATA: "Metadata", Level.REQUEST: "Request",
         Level.REQUEST_RESPONSE: "RequestResponse"}
_LEVELS = {name: level for level, name in _WIRE.items()}


class PolicyError(ValueError):
    """The policy document is not a valid audit.k8s.io/v1 Policy; the message says where."""


class RequestAttributes(Protocol):
    """What a rule looks at; kapisup's RequestInfo has these fields."""

    is_resource_request: bool
    path: str
    verb: str
    api_group: str
    namespace: str
    resource: str
    subresource: str
    name: str


@dataclass(frozen=True, slots=True)
class AuditDecision:
    """The outcome for one request: built once per rule, shared by every request it matches."""

    level: Level
    omit_stages: frozenset[str]
    omit_managed_fields: bool

    def records(self, stage: str) -> bool:
        return stage not in self.omit_stages


_NOT_AUDITED = AuditDecision(Level.NONE, frozenset(STAGES), False)


@dataclass(frozen=True, slots=True)
class _GroupResources:
    group: str
    all_resources: bool  # no resources listed, or "*"
    exact: frozenset[str]  # "pods", "pods/log"
    any_subresource_of: frozenset[str]  # "pods/*": pods and all its subresources
    subresource_of_any: frozenset[str]  # "*/status"
    names: frozenset[str] | None

    def matches(self, info: RequestAttributes) -> bool:
        if info.api_group != self.group:
            return False
        if self.names is not None and info.name not in self.names:
            return False
        if self.all_resources or info.resource in self.any_subresource_of:
            return True
        sub = info.subresource
        combined = f"{info.resource}/{sub}" if sub else info.resource
        return combined in self.exact or (bool(sub) and sub in self.subresource_of_any)


@dataclass(frozen=True, slots=True)
class _Rule:
    decision: AuditDecision
    users: frozenset[str] | None
    groups: frozenset[str] | None
    verbs: frozenset[str] | None
    namespaces: frozenset[str] | None
    resources: tuple[_GroupResources, ...] | None
    url_exact: frozenset[str] | None
    url_prefixes: tuple[str, ...]

    def matches(self, user: str | None, groups: Sequence[str], verb: str,
                info: RequestAttributes | None, path: str) -> bool:
        if self.users is not None and user not in self.users:
            return False
        if self.groups is not None and not any(group in self.groups for group in groups):
            return False
        if self.verbs is not None and verb not in self.verbs:
            return False
        resource_request = info is not None and info.is_resource_request
        if self.namespaces is not None or self.resources is not None:
            if not resource_request:
                return False
            assert info is not None
            if self.namespaces is not None and info.namespace not in self.namespaces:
                return False
            return self.resources is None or any(r.matches(info) for r in self.resources)
        if self.url_exact is not None:
            if resource_request:
                return False
            return path in self.url_exact or path.startswith(self.url_prefixes)
        return True


class Policy:
    """A compiled policy; `decide()` is what the audit filter calls per request."""

    __slots__ = ("_rules", "source")

    def __init__(self, rules: Iterable[_Rule], source: str = ""):
        self._rules = tuple(rules)
        self.source = source  # a file path, or a short description

    def decide(self, user: str | None, groups: Sequence[str], verb: str,
               info: RequestAttributes | None, path: str) -> AuditDecision:
        for rule in self._rules:
            if rule.matches(user, groups, verb, info, path):
                return rule.decision
        return _NOT_AUDITED


# --- reading a policy -----------------------------------------------------------------------

_POLICY_KEYS = frozenset({"apiVersion", "kind", "metadata", "rules", "omitStages",
                          "omitManagedFields"})
_RULE_KEYS = frozenset({"level", "users", "userGroups", "verbs", "resources", "namespaces",
                        "nonResourceURLs", "omitStages", "omitManagedFields"})
_GROUP_KEYS = frozenset({"group", "resources", "resourceNames"})


def _fail(where: str, message: str) -> PolicyError:
    return PolicyError(f"{where}: {message}" if where else message)


def _mapping(value: Any, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be an object, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise _fail(where, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, "must be a list of strings")
    return value


def _set(value: Any, where: str) -> frozenset[str] | None:
    items = _strings(value, where)
    return frozenset(items) if items else None


def _bool(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _fail(where, "must be true or false")


def _stages(value: Any, where: str) -> frozenset[str]:
    stages = _strings(value, where)
    for stage in stages:
        if stage not in STAGES:
            raise _fail(where, f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
    return frozenset(stages)


def _group_resources(value: Any, where: str) -> _GroupResources:
    spec = _mapping(value, where, _GROUP_KEYS)
    group = spec.get("group") or ""
    if not isinstance(group, str) or "/" in group:
        raise _fail(f"{where}.group", f"must be an API group name without '/', got {group!r}")
    resources = _strings(spec.get("resources"), f"{where}.resources")
    names = _strings(spec.get("resourceNames"), f"{where}.resourceNames")
    if names and not resources:
        raise _fail(f"{where}.resourceNames", "needs at least one resource in resources")
    exact: set[str] = set()
    whole: set[str] = set()
    any_of: set[str] = set()
    all_resources = not resources
    for i, resource in enumerate(resources):
        parts = resource.split("/")
        if len(parts) > 2 or not all(parts):
            raise _fail(f"{where}.resources[{i}]",
                        f"must be 'resource', 'resource/subresource', '*', '*/subresource' or "
                        f"'resource/*', got {resource!r}")
        if any("*" in part and part != "*" for part in parts):
            raise _fail(f"{where}.resources[{i}]", f"'*' must be a whole part, got {resource!r}")
        if resource == "*":
            all_resources = True
        elif len(parts) == 2 and parts[0] == "*":
            any_of.add(parts[1])
        elif len(parts) == 2 and parts[1] == "*":
            whole.add(parts[0])
        else:
            exact.add(resource)
    return _GroupResources(group, all_resources, frozenset(exact), frozenset(whole),
                           frozenset(any_of), frozenset(names) if names else None)


def _rule(value: Any, where: str, policy_omit: frozenset[str],
          policy_omit_managed: bool) -> _Rule:
    spec = _mapping(value, where, _RULE_KEYS)
    level_name = spec.get("level")
    if level_name not in _LEVELS:
        raise _fail(f"{where}.level", f"must be one of {', '.join(_LEVELS)}, got {level_name!r}")
    urls = _strings(spec.get("nonResourceURLs"), f"{where}.nonResourceURLs")
    namespaces = _set(spec.get("namespaces"), f"{where}.namespaces")
    raw_resources = spec.get("resources")
    if raw_resources is not None and not isinstance(raw_resources, list):
        raise _fail(f"{where}.resources", "must be a list of {group, resources, resourceNames}")
    resources = tuple(_group_resources(r, f"{where}.resources[{i}]")
                      for i, r in enumerate(raw_resources or ()))
    if urls and (namespaces is not None or resources):
        raise _fail(where, "a rule cannot apply to both resources (resources, namespaces) and "
                           "nonResourceURLs")
    exact: set[str] = set()
    prefixes: list[str] = []
    for i, url in enumerate(urls):
        stem = url[:-1] if url.endswith("*") else url
        if "*" in stem or not url:
            raise _fail(f"{where}.nonResourceURLs[{i}]",
                        f"'*' is allowed only at the end, got {url!r}")
        if url.endswith("*"):
            prefixes.append(stem)
        else:
            exact.add(url)
    omit_managed = _bool(spec.get("omitManagedFields"), f"{where}.omitManagedFields")
    decision = AuditDecision(
        _LEVELS[level_name],
        policy_omit | _stages(spec.get("omitStages"), f"{where}.omitStages"),
        policy_omit_managed if omit_managed is None else omit_managed,
    )
    return _Rule(
        decision=decision,
        users=_set(spec.get("users"), f"{where}.users"),
        groups=_set(spec.get("userGroups"), f"{where}.userGroups"),
        verbs=_set(spec.get("verbs"), f"{where}.verbs"),
        namespaces=namespaces,
        resources=resources or None,
        url_exact=frozenset(exact) if urls else None,
        url_prefixes=tuple(prefixes),
    )


def compile_policy(document: Any, source: str = "") -> Policy:
    """Check and compile a decoded Policy document; PolicyError names the bad field."""
    spec = _mapping(document, "", _POLICY_KEYS)
    if spec.get("apiVersion") != "audit.k8s.io/v1" or spec.get("kind") != "Policy":
        raise PolicyError(f"must be apiVersion audit.k8s.io/v1, kind Policy; got "
                          f"{spec.get('apiVersion')!r}, {spec.get('kind')!r}")
    omit = _stages(spec.get("omitStages"), "omitStages")
    omit_managed = bool(_bool(spec.get("omitManagedFields"), "omitManagedFields"))
    rules = spec.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("rules: a policy needs at least one rule")
    return Policy((_rule(r, f"rules[{i}]", omit, omit_managed) for i, r in enumerate(rules)),
                  source)


def load_policy(path: str) -> Policy:
    """Read a YAML or JSON policy file; OSError or PolicyError (one line) if it cannot be used."""
    with open(path, "rb") as handle:
        text = handle.read()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PolicyError("not YAML or JSON: " + " ".join(str(err).split())) from None
    return compile_policy(document, path)


# --- built-in policies ----------------------------------------------------------------------

#: Used when --audit-log-path is set without --audit-policy-file; shown in docs/operations.md.
#: Objects that carry credentials (secrets, configmaps, tokens) are logged at Metadata only,
#: so their data never reaches the audit log; other writes at Request; reads at Metadata.
DEFAULT_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "omitManagedFields": True,
    "rules": [
        {"level": "None",
         "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/metrics", "/version",
                             "/version/"]},
        {"level": "Metadata",
         "resources": [{"group": "", "resources": ["secrets", "configmaps",
                                                   "serviceaccounts/token"]},
                       {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]},
        {"level": "Metadata", "verbs": ["get", "list", "watch"]},
        {"level": "Request",
         "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "Metadata"},
    ],
}

#: Everything at Metadata, one line per request (ResponseComplete or Panic): the filter's
#: behaviour when it is given no policy (unit tests, embedders).
METADATA_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [{"level": "Metadata"}],
}


def default_policy() -> Policy:
    return compile_policy(DEFAULT_POLICY, "the default policy")


def metadata_policy() -> Policy:
    return compile_policy(METADATA_POLICY, "everything at Metadata")
