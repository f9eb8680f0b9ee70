"""The audit policy: reading and checking a Policy document, and kube's first-match rules."""

from __future__ import annotations

import pytest

from kapisup.endpoints.request import RequestInfoResolver
from kapisup.observability.auditpolicy import (
    DEFAULT_POLICY,
    Level,
    PolicyError,
    compile_policy,
    default_policy,
    load_policy,
)

RESOLVE = RequestInfoResolver().resolve


def policy(*rules, **top):
    return compile_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                           "rules": list(rules), **top})


def level(p, method, path, user="alice", groups=("system:authenticated",), query=""):
    info = RESOLVE(method, path, query)
    return p.decide(user, groups, info.verb, info, path).level


def test_first_matching_rule_decides_and_no_match_is_none():
    p = policy({"level": "RequestResponse", "users": ["admin"]},
               {"level": "Request", "verbs": ["create"]},
               {"level": "Metadata", "namespaces": ["kube-system"]})
    assert level(p, "POST", "/api/v1/namespaces/a/pods", user="admin") is Level.REQUEST_RESPONSE
    assert level(p, "POST", "/api/v1/namespaces/a/pods") is Level.REQUEST
    assert level(p, "GET", "/api/v1/namespaces/kube-system/pods") is Level.METADATA
    assert level(p, "GET", "/api/v1/namespaces/a/pods") is Level.NONE
    assert level(p, "GET", "/healthz") is Level.NONE


def test_users_and_groups():
    p = policy({"level": "Metadata", "userGroups": ["system:masters", "devs"]})
    assert level(p, "GET", "/api", groups=("devs",)) is Level.METADATA
    assert level(p, "GET", "/api", groups=("others",)) is Level.NONE
    assert level(p, "GET", "/api", user=None, groups=()) is Level.NONE  # no user (insecure port)


@pytest.mark.parametrize(("resources", "path", "expected"), [
    (["pods"], "/api/v1/namespaces/a/pods/p1", True),
    (["pods"], "/api/v1/namespaces/a/pods/p1/log", False),  # a subresource is not the resource
    (["pods/log"], "/api/v1/namespaces/a/pods/p1/log", True),
    (["pods/log"], "/api/v1/namespaces/a/pods/p1", False),
    (["*/status"], "/api/v1/namespaces/a/pods/p1/status", True),
    (["*/status"], "/api/v1/namespaces/a/pods/p1", False),
    (["pods/*"], "/api/v1/namespaces/a/pods/p1/exec", True),
    (["pods/*"], "/api/v1/namespaces/a/pods/p1", True),
    (["*"], "/api/v1/namespaces/a/secrets/s/whatever", True),
    ([], "/api/v1/nodes/n1", True),  # no resources: every resource of the group
    (["pods"], "/apis/apps/v1/namespaces/a/pods", False),  # another group
])
def test_resources(resources, path, expected):
    p = policy({"level": "Metadata", "resources": [{"group": "", "resources": resources}]})
    assert (level(p, "GET", path) is Level.METADATA) is expected


def test_groups_and_resource_names():
    p = policy({"level": "Request", "resources": [
        {"group": "apps", "resources": ["deployments"], "resourceNames": ["web"]}]})
    assert level(p, "GET", "/apis/apps/v1/namespaces/a/deployments/web") is Level.REQUEST
    assert level(p, "GET", "/apis/apps/v1/namespaces/a/deployments/db") is Level.NONE
    assert level(p, "GET", "/apis/apps/v1/namespaces/a/deployments") is Level.NONE  # a list
    assert level(p, "GET", "/api/v1/namespaces/a/deployments/web") is Level.NONE


def test_namespaces_match_resource_requests_only():
    p = policy({"level": "Metadata", "namespaces": [""]})
    assert level(p, "GET", "/api/v1/nodes") is Level.METADATA  # "" is cluster scope
    assert level(p, "GET", "/api/v1/namespaces/a/pods") is Level.NONE
    assert level(p, "GET", "/version") is Level.NONE


def test_non_resource_urls():
    p = policy({"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
               {"level": "Metadata", "nonResourceURLs": ["*"]},
               {"level": "Request"})
    assert level(p, "GET", "/healthz") is Level.NONE
    assert level(p, "GET", "/healthz/ping") is Level.NONE
    assert level(p, "GET", "/version") is Level.NONE
    assert level(p, "GET", "/version/") is Level.METADATA  # exact unless it ends with '*'
    assert level(p, "GET", "/openapi/v2") is Level.METADATA
    assert level(p, "GET", "/api/v1/pods") is Level.REQUEST  # URL rules skip resources


def test_stages_and_managed_fields_combine_policy_and_rule():
    p = policy({"level": "Metadata", "verbs": ["watch"], "omitStages": ["ResponseStarted"],
                "omitManagedFields": False},
               {"level": "Request"},
               omitStages=["RequestReceived"], omitManagedFields=True)
    info = RESOLVE("GET", "/api/v1/pods", "watch=1")
    watch = p.decide("a", (), info.verb, info, info.path)
    assert watch.omit_stages == {"RequestReceived", "ResponseStarted"}
    assert watch.records("ResponseComplete") and not watch.records("ResponseStarted")
    assert watch.omit_managed_fields is False
    info = RESOLVE("GET", "/api/v1/pods")
    other = p.decide("a", (), info.verb, info, info.path)
    assert other.omit_stages == {"RequestReceived"}
    assert other.omit_managed_fields is True


@pytest.mark.parametrize(("document", "message"), [
    ({"apiVersion": "audit.k8s.io/v1beta1", "kind": "Policy", "rules": [{"level": "None"}]},
     "must be apiVersion audit.k8s.io/v1, kind Policy"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": []},
     "rules: a policy needs at least one rule"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Medium"}]},
     "rules[0].level: must be one of None, Metadata, Request, RequestResponse, got 'Medium'"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "verb": ["get"]}]},
     "rules[0]: unknown field 'verb'"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["Done"],
      "rules": [{"level": "None"}]},
     "omitStages: unknown stage 'Done'"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None"}, {"level": "Metadata", "nonResourceURLs": ["/a*b"]}]},
     "rules[1].nonResourceURLs[0]: '*' is allowed only at the end"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "nonResourceURLs": ["/x"], "namespaces": ["a"]}]},
     "rules[0]: a rule cannot apply to both resources"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "resources": [{"group": "", "resources": ["a/b/c"]}]}]},
     "rules[0].resources[0].resources[0]: must be 'resource'"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "resources": [{"group": "", "resources": ["po*"]}]}]},
     "'*' must be a whole part"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "resources": [{"group": "", "resourceNames": ["x"]}]}]},
     "resourceNames: needs at least one resource"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "users": "admin"}]},
     "rules[0].users: must be a list of strings"),
    ([1, 2], "must be an object, got list"),
])
def test_bad_policies_say_where(document, message):
    with pytest.raises(PolicyError) as caught:
        compile_policy(document)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_policy_reads_yaml_and_json(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                    "- level: RequestResponse\n  resources:\n  - group: \"\"\n"
                    "    resources: [\"pods\"]\n")
    p = load_policy(str(path))
    assert p.source == str(path)
    assert level(p, "GET", "/api/v1/namespaces/a/pods") is Level.REQUEST_RESPONSE
    path.write_text('{"apiVersion": "audit.k8s.io/v1", "kind": "Policy", '
                    '"rules": [{"level": "Metadata"}]}')
    assert level(load_policy(str(path)), "GET", "/api") is Level.METADATA
    path.write_text("rules: [\n")
    with pytest.raises(PolicyError, match="not YAML or JSON"):
        load_policy(str(path))


def test_default_policy_never_logs_bodies_of_credentials():
    p = default_policy()
    for method, path in [("POST", "/api/v1/namespaces/a/secrets"),
                         ("PUT", "/api/v1/namespaces/a/secrets/s"),
                         ("PATCH", "/api/v1/namespaces/a/configmaps/c"),
                         ("POST", "/api/v1/namespaces/a/serviceaccounts/default/token"),
                         ("POST", "/apis/authentication.k8s.io/v1/tokenreviews"),
                         ("GET", "/api/v1/secrets")]:
        assert level(p, method, path) is Level.METADATA, path
    assert level(p, "POST", "/api/v1/namespaces/a/pods") is Level.REQUEST
    assert level(p, "DELETE", "/apis/apps/v1/namespaces/a/deployments/d") is Level.REQUEST
    assert level(p, "GET", "/api/v1/namespaces/a/pods") is Level.METADATA
    assert level(p, "GET", "/api/v1/pods", query="watch=true") is Level.METADATA
    for path in ("/healthz", "/livez", "/readyz/shutdown", "/metrics", "/version"):
        assert level(p, "GET", path) is Level.NONE, path
    assert level(p, "GET", "/openapi/v2") is Level.METADATA
    info = RESOLVE("POST", "/api/v1/namespaces/a/pods")
    assert not p.decide("a", (), info.verb, info, info.path).records("RequestReceived")
    assert DEFAULT_POLICY["omitManagedFields"] is True
