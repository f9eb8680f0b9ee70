"""ABAC: kube's attribute-based policy file (`--authorization-mode ABAC`).

One JSON policy per line, versioned (`abac.authorization.kubernetes.io/v1beta1` Policy) or the
legacy unversioned form, which is converted as kube converts it. The first line that matches
allows; nothing matching is no opinion, so a later mode may still allow.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kapisup.auth.authorizer import Attributes, Decision
from kapisup.auth.user import AUTHENTICATED, UserInfo
from kapisup.observability.logging import get_logger

API_VERSION = "abac.authorization.kubernetes.io/v1beta1"
KIND = "Policy"
NO_MATCH = "No policy matched."
READ_ONLY_VERBS = frozenset({"get", "list", "watch"})

_SPEC_STRINGS = ("user", "group", "apiGroup", "resource", "namespace", "nonResourcePath")
_LEGACY_STRINGS = ("user", "group", "resource", "namespace")
_LOGGER = "kapisup.abac"


class PolicyError(ValueError):
    """A policy file line that cannot be read; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy's spec, after conversion (kube's internal abac.PolicySpec)."""

    user: str = ""
    group: str = ""
    readonly: bool = False
    api_group: str = ""
    resource: str = ""
    namespace: str = ""
    non_resource_path: str = ""

    def matches(self, attrs: Attributes) -> bool:
        if not self.subject_matches(attrs):
            return False
        if attrs.verb not in READ_ONLY_VERBS and self.readonly:
            return False
        if attrs.is_resource_request:
            return (self.namespace in ("*", attrs.namespace)
                    and self.resource in ("*", attrs.resource)
                    and self.api_group in ("*", attrs.api_group))
        path = self.non_resource_path
        if path == "*" or path == attrs.path:
            return True
        return path.endswith("*") and attrs.path.startswith(path.rstrip("*"))

    def subject_matches(self, attrs: Attributes) -> bool:
        """A set user must be the user, a set group one of its groups; one must be set."""
        user = attrs.user
        if user is None:
            return False
        matched = False
        if self.user:
            if self.user != "*" and self.user != user.name:
                return False
            matched = True
        if self.group:
            if self.group != "*" and self.group not in user.groups:
                return False
            matched = True
        return matched


class ABACAuthorizer:
    """kube's PolicyList authorizer."""

    __slots__ = ("policies",)

    def __init__(self, policies: Iterable[Policy]):
        self.policies = tuple(policies)

    @classmethod
    def from_file(cls, path: str) -> ABACAuthorizer:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise PolicyError(f"cannot read policy file {path}: {err.strerror}") from None
        except UnicodeDecodeError as err:
            raise PolicyError(f"policy file {path} is not UTF-8: {err}") from None
        return cls(parse_policies(text, path))

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        for policy in self.policies:
            if policy.matches(attrs):
                return Decision.ALLOW, ""
        return Decision.NO_OPINION, NO_MATCH

    def rules_for(self, user: UserInfo, namespace: str
                  ) -> tuple[list[dict[str, list[str]]], list[dict[str, list[str]]], bool, str]:
        """What a rules review shows (kube's PolicyList.RulesFor): the policies of this
        subject that apply in `namespace`, read-only ones as get/list/watch."""
        resource_rules: list[dict[str, list[str]]] = []
        non_resource_rules: list[dict[str, list[str]]] = []
        probe = Attributes(user=user, verb="get", is_resource_request=False)
        for policy in self.policies:
            if not policy.subject_matches(probe) or policy.namespace not in ("*", namespace):
                continue
            verbs = sorted(READ_ONLY_VERBS) if policy.readonly else ["*"]
            if policy.resource:
                resource_rules.append({"verbs": verbs, "apiGroups": [policy.api_group],
                                       "resources": [policy.resource]})
            if policy.non_resource_path:
                non_resource_rules.append({"verbs": verbs,
                                           "nonResourceURLs": [policy.non_resource_path]})
        return resource_rules, non_resource_rules, False, ""


def parse_policies(text: str, path: str = "<policy>") -> list[Policy]:
    """Every policy of a file's text; PolicyError naming the line for a bad one."""
    policies: list[Policy] = []
    unversioned = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            document = json.loads(line)
            if not isinstance(document, dict):
                raise ValueError("a policy must be a JSON object")
            if "apiVersion" in document or "kind" in document:
                policies.append(_versioned(document))
            else:
                unversioned += 1
                policies.append(_legacy(document))
        except ValueError as err:
            raise PolicyError(f"error reading policy file {path}, line {number}: "
                              f"{_shorten(line)}: {err}") from None
    if unversioned:
        get_logger(_LOGGER).warning(
            "policy file contains unversioned rules, which kube reads as legacy v0 policies",
            file=path, lines=unversioned)
    return policies


def _versioned(document: Mapping[str, Any]) -> Policy:
    if document.get("apiVersion") != API_VERSION:
        raise ValueError(f"unknown apiVersion {document.get('apiVersion')!r} "
                         f"(expected {API_VERSION})")
    if document.get("kind") != KIND:
        raise ValueError(f"unknown kind {document.get('kind')!r} (expected {KIND})")
    unknown = set(document) - {"apiVersion", "kind", "spec"}
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r}")
    spec = document.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ValueError("spec must be an object")
    values = _fields(spec, _SPEC_STRINGS)
    user, group = values["user"], values["group"]
    # v1beta1: a * user or group means every authenticated subject
    if user == "*" or group == "*":
        user, group = "", AUTHENTICATED
    return Policy(user=user, group=group, readonly=values["readonly"],
                  api_group=values["apiGroup"], resource=values["resource"],
                  namespace=values["namespace"], non_resource_path=values["nonResourcePath"])


def _legacy(document: Mapping[str, Any]) -> Policy:
    """kube's v0 → internal conversion."""
    values = _fields(document, _LEGACY_STRINGS)
    user, group = values["user"], values["group"]
    namespace, resource = values["namespace"], values["resource"]
    if not user and not group:
        group = AUTHENTICATED
    if user == "*" or group == "*":
        user, group = "", AUTHENTICATED
    return Policy(user=user, group=group, readonly=values["readonly"], api_group="*",
                  resource=resource or "*", namespace=namespace or "*",
                  non_resource_path="*" if not namespace and not resource else "")


def _fields(spec: Mapping[str, Any], strings: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(spec) - {*strings, "readonly"}
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r}")
    values: dict[str, Any] = {}
    for name in strings:
        value = spec.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        values[name] = value
    readonly = spec.get("readonly")
    if readonly is None:
        readonly = False
    if not isinstance(readonly, bool):
        raise ValueError("readonly must be true or false")
    values["readonly"] = readonly
    return values


def _shorten(line: str, limit: int = 120) -> str:
    return line if len(line) <= limit else line[:limit] + "..."
