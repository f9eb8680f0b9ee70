"""ABAC: kube's policy file format, its legacy conversion and its matching rules."""

from __future__ import annotations

import json

import pytest

from kapisup.auth.abac import NO_MATCH, ABACAuthorizer, Policy, PolicyError, parse_policies
from kapisup.auth.authorizer import Attributes, Decision, build_authorizer
from kapisup.auth.user import UserInfo

ALICE = UserInfo("alice", "1", ("devs", "system:authenticated"))
BOB = UserInfo("bob", "2", ("system:authenticated",))
ANON = UserInfo("system:anonymous", "", ("system:unauthenticated",))


def v1(**spec) -> str:
    return json.dumps({"apiVersion": "abac.authorization.kubernetes.io/v1beta1",
                       "kind": "Policy", "spec": spec})


def res(user: UserInfo | None, verb: str, resource: str, namespace: str = "", group: str = "",
        subresource: str = "") -> Attributes:
    return Attributes(user=user, verb=verb, is_resource_request=True, resource=resource,
                      namespace=namespace, api_group=group, api_version="v1",
                      subresource=subresource)


def path(user: UserInfo | None, verb: str, url: str) -> Attributes:
    return Attributes(user=user, verb=verb, is_resource_request=False, path=url)


def allowed(text: str, attrs: Attributes) -> bool:
    decision, reason = ABACAuthorizer(parse_policies(text)).authorize(attrs)
    if decision is Decision.NO_OPINION:
        assert reason == NO_MATCH
    return decision is Decision.ALLOW


def test_versioned_line_is_read_as_written():
    [policy] = parse_policies(v1(user="alice", namespace="projectCaribou", resource="pods",
                                 apiGroup="*", readonly=True))
    assert policy == Policy(user="alice", namespace="projectCaribou", resource="pods",
                            api_group="*", readonly=True)


def test_comments_blank_lines_and_whitespace_are_skipped():
    text = f"# a comment\n\n   \n  # indented comment\n  {v1(user='alice', resource='*')}  \n"
    assert len(parse_policies(text)) == 1


def test_bad_line_names_file_and_line():
    text = f"{v1(user='alice')}\n# fine\n{{not json\n"
    with pytest.raises(PolicyError, match=r"policy\.jsonl, line 3"):
        parse_policies(text, "policy.jsonl")
    for bad in ('[1, 2]', v1(user=5), v1(readonly="yes"), v1(usr="alice"),
                json.dumps({"apiVersion": "abac.authorization.kubernetes.io/v1", "kind": "Policy",
                            "spec": {}}),
                json.dumps({"apiVersion": "abac.authorization.kubernetes.io/v1beta1",
                            "kind": "Rule", "spec": {}})):
        with pytest.raises(PolicyError, match="line 1"):
            parse_policies(bad)


def test_versioned_star_subject_means_authenticated_users():
    [policy] = parse_policies(v1(user="*", resource="*", namespace="*", apiGroup="*"))
    assert policy.user == "" and policy.group == "system:authenticated"
    assert allowed(v1(user="*", resource="*", namespace="*", apiGroup="*"),
                   res(BOB, "delete", "pods", "ns"))
    assert not allowed(v1(user="*", resource="*", namespace="*", apiGroup="*"),
                       res(ANON, "get", "pods", "ns"))


def test_legacy_lines_convert_as_kube_does():
    [empty] = parse_policies('{"readonly": true}')
    assert empty == Policy(group="system:authenticated", readonly=True, api_group="*",
                           resource="*", namespace="*", non_resource_path="*")
    [scoped] = parse_policies('{"user": "alice", "namespace": "ns1"}')
    assert scoped == Policy(user="alice", api_group="*", resource="*", namespace="ns1")
    [star] = parse_policies('{"user": "*", "resource": "pods"}')
    assert star == Policy(group="system:authenticated", api_group="*", resource="pods",
                          namespace="*")


def test_subject_must_be_named_and_match():
    assert not allowed(v1(resource="*", namespace="*", apiGroup="*"), res(ALICE, "get", "pods"))
    assert allowed(v1(user="alice", resource="*", namespace="*", apiGroup="*"),
                   res(ALICE, "get", "pods"))
    assert not allowed(v1(user="alice", resource="*", namespace="*", apiGroup="*"),
                       res(BOB, "get", "pods"))
    assert allowed(v1(group="devs", resource="*", namespace="*", apiGroup="*"),
                   res(ALICE, "get", "pods"))
    # user and group both set: both must match
    assert not allowed(v1(user="bob", group="devs", resource="*", namespace="*", apiGroup="*"),
                       res(BOB, "get", "pods"))
    assert not allowed(v1(user="alice", resource="*", namespace="*", apiGroup="*"),
                       res(None, "get", "pods"))


def test_readonly_allows_only_get_list_watch():
    line = v1(user="alice", readonly=True, resource="*", namespace="*", apiGroup="*")
    for verb in ("get", "list", "watch"):
        assert allowed(line, res(ALICE, verb, "pods", "ns"))
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert not allowed(line, res(ALICE, verb, "pods", "ns"))


def test_resource_namespace_and_group_each_match_or_wildcard():
    line = v1(user="alice", namespace="ns1", resource="pods", apiGroup="")
    assert allowed(line, res(ALICE, "create", "pods", "ns1"))
    assert allowed(line, res(ALICE, "update", "pods", "ns1", subresource="status"))
    assert not allowed(line, res(ALICE, "create", "pods", "ns2"))
    assert not allowed(line, res(ALICE, "create", "configmaps", "ns1"))
    assert not allowed(line, res(ALICE, "create", "pods", "ns1", group="example.com"))
    # an empty versioned namespace matches only cluster-scoped requests
    cluster = v1(user="alice", resource="nodes", apiGroup="*")
    assert allowed(cluster, res(ALICE, "get", "nodes"))
    assert not allowed(cluster, res(ALICE, "get", "nodes", "ns1"))
    # a resource policy never matches a non-resource request
    assert not allowed(v1(user="alice", namespace="*", resource="*", apiGroup="*"),
                       path(ALICE, "get", "/version"))


def test_non_resource_paths_exact_star_and_prefix():
    assert allowed(v1(user="alice", nonResourcePath="*"), path(ALICE, "get", "/healthz"))
    assert allowed(v1(user="alice", nonResourcePath="/version"), path(ALICE, "get", "/version"))
    assert not allowed(v1(user="alice", nonResourcePath="/version"),
                       path(ALICE, "get", "/version/x"))
    prefix = v1(user="alice", nonResourcePath="/apis*")
    assert allowed(prefix, path(ALICE, "get", "/apis"))
    assert allowed(prefix, path(ALICE, "get", "/apis/apps/v1"))
    assert not allowed(prefix, path(ALICE, "get", "/api/v1"))
    # a non-resource policy never matches a resource request
    assert not allowed(v1(user="alice", nonResourcePath="*"), res(ALICE, "get", "pods", "ns"))


def test_first_matching_line_wins_and_no_match_is_no_opinion():
    text = "\n".join([v1(user="bob", namespace="*", resource="*", apiGroup="*"),
                      v1(user="alice", namespace="*", resource="*", apiGroup="*")])
    authorizer = ABACAuthorizer(parse_policies(text))
    assert authorizer.authorize(res(ALICE, "delete", "pods", "ns")) == (Decision.ALLOW, "")
    assert authorizer.authorize(res(ANON, "get", "pods", "ns")) == (Decision.NO_OPINION,
                                                                   NO_MATCH)


def test_rules_for_lists_the_subjects_policies():
    text = "\n".join([v1(user="alice", namespace="ns1", resource="pods", apiGroup="",
                         readonly=True),
                      v1(group="devs", namespace="*", nonResourcePath="/healthz*"),
                      v1(group="devs", nonResourcePath="/skipped-outside-namespace"),
                      v1(user="bob", namespace="*", resource="*", apiGroup="*")])
    rules, non_resource, incomplete, error = ABACAuthorizer(parse_policies(text)).rules_for(
        ALICE, "ns1")
    assert rules == [{"verbs": ["get", "list", "watch"], "apiGroups": [""],
                      "resources": ["pods"]}]
    assert non_resource == [{"verbs": ["*"], "nonResourceURLs": ["/healthz*"]}]
    assert (incomplete, error) == (False, "")


def test_build_authorizer_needs_file_with_abac_and_abac_with_file(tmp_path):
    policy = tmp_path / "policy.jsonl"
    policy.write_text(v1(user="alice", namespace="*", resource="*", apiGroup="*") + "\n")
    with pytest.raises(ValueError, match="policy file not passed"):
        build_authorizer(("ABAC",))
    with pytest.raises(ValueError, match="without mode ABAC"):
        build_authorizer(("AlwaysDeny",), str(policy))
    for modes in (("ABAC",), ("ABAC", "AlwaysDeny"), ("AlwaysDeny", "ABAC")):
        authorizer = build_authorizer(modes, str(policy))
        assert authorizer.authorize(res(ALICE, "delete", "pods", "ns"))[0] is Decision.ALLOW
        assert authorizer.authorize(res(BOB, "get", "pods", "ns"))[0] is Decision.NO_OPINION
    with pytest.raises(ValueError, match="cannot read policy file"):
        build_authorizer(("ABAC",), str(tmp_path / "missing.jsonl"))
