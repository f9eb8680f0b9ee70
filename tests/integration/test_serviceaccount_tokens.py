"""Service-account tokens end to end: kubectl and the Python client request them, the secure
port authenticates them as the service account (ABAC grants service accounts read-only, so a
write's 403 names the account), and deleted accounts, expired or forged tokens get 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from kapisup.auth.serviceaccount import load_private_key, service_account_claims, sign
from tests.integration.kubectl import Kubectl
from tests.integration.server import Kapisup, running, wait_for

ISSUER = "https://kubernetes.default.svc.cluster.local"
POLICY = [
    {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
     "spec": {"group": "system:serviceaccounts", "readonly": True, "namespace": "*",
              "resource": "*", "apiGroup": "*", "nonResourcePath": "*"}},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    """Secure and plain ports; ABAC lets service accounts read; audit on."""
    root = tmp_path_factory.mktemp("satoken")
    policy = root / "policy.jsonl"
    policy.write_text("# service accounts read everything\n"
                      + "\n".join(json.dumps(p) for p in POLICY) + "\n")
    with running(root, "--authorization-mode", "ABAC", "--authorization-policy-file",
                 str(policy), "--audit-log-path", str(root / "audit.log"),
                 workers=2) as started:
        yield started


@pytest.fixture
def ns(ns: str, server: Kapisup) -> str:
    """The shared fresh namespace, once the namespace controller has given it its default
    service account (asynchronously, as kube's does), which these tests issue tokens for."""
    url = f"{server.url}/api/v1/namespaces/{ns}/serviceaccounts/default"
    wait_for(lambda: requests.get(url, timeout=10).status_code == 200, timeout=20,
             what="the namespace's default service account")
    return ns


def secure(server: Kapisup, method: str, path: str, token: str, **kwargs: Any
           ) -> requests.Response:
    ca = str(Path(server.data_dir) / "pki" / "ca.crt")
    return requests.request(method, f"https://localhost:{server.secure_port}{path}",
                            headers={"Authorization": f"Bearer {token}"}, verify=ca,
                            timeout=10, **kwargs)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_kubectl_create_token_authenticates_as_the_service_account(server: Kapisup,
                                                                  kubectl: Kubectl, ns: str):
    token = kubectl.ok("create", "token", "default", "-n", ns).strip()
    claims = claims_of(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:default"
    assert claims["aud"] == [ISSUER] and claims["exp"] - claims["iat"] == 3600
    listed = secure(server, "GET", f"/api/v1/namespaces/{ns}/configmaps", token)
    assert listed.status_code == 200, listed.text
    assert listed.json()["kind"] == "ConfigMapList"
    denied = secure(server, "POST", f"/api/v1/namespaces/{ns}/configmaps", token,
                    json={"metadata": {"name": "nope"}})
    assert denied.status_code == 403
    assert f'User "system:serviceaccount:{ns}:default" cannot create resource "configmaps"' \
        in denied.json()["message"]


def test_duration_is_honoured_and_too_short_is_invalid(kubectl: Kubectl, ns: str):
    token = kubectl.ok("create", "token", "default", "-n", ns, "--duration", "10m").strip()
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 600
    short = kubectl.run("create", "token", "default", "-n", ns, "--duration", "5m")
    assert short.rc != 0
    assert "may not specify a duration less than 10 minutes" in short.stderr


def test_missing_service_account_is_404(server: Kapisup, kubectl: Kubectl, ns: str):
    result = kubectl.run("create", "token", "ghost", "-n", ns)
    assert result.rc != 0 and 'serviceaccounts "ghost" not found' in result.stderr
    raw = requests.post(f"{server.url}/api/v1/namespaces/{ns}/serviceaccounts/ghost/token",
                        json={"spec": {}}, timeout=10)
    assert raw.status_code == 404 and raw.json()["reason"] == "NotFound"


def test_token_request_over_json_and_bad_input(server: Kapisup, ns: str):
    base = f"{server.url}/api/v1/namespaces/{ns}/serviceaccounts/default/token"
    made = requests.post(base, json={"apiVersion": "authentication.k8s.io/v1",
                                     "kind": "TokenRequest",
                                     "spec": {"audiences": ["vault"],
                                              "expirationSeconds": 1200}}, timeout=10)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["kind"] == "TokenRequest" and body["spec"]["audiences"] == ["vault"]
    assert body["status"]["expirationTimestamp"].endswith("Z")
    assert claims_of(body["status"]["token"])["aud"] == ["vault"]
    # a token for another audience is not accepted by this server
    assert secure(server, "GET", f"/api/v1/namespaces/{ns}/configmaps",
                  body["status"]["token"]).status_code == 401
    wrong_kind = requests.post(base, json={"kind": "ConfigMap", "apiVersion": "v1"},
                               timeout=10)
    assert wrong_kind.status_code == 400
    not_int = requests.post(base, json={"spec": {"expirationSeconds": "soon"}}, timeout=10)
    assert not_int.status_code == 422 and not_int.json()["reason"] == "Invalid"
    get = requests.get(base, timeout=10)
    assert get.status_code == 405
    unbindable = requests.post(base, json={"spec": {"boundObjectRef": {
        "kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}}, timeout=10)
    assert unbindable.status_code == 400
    missing_pod = requests.post(base, json={"spec": {"boundObjectRef": {
        "kind": "Pod", "apiVersion": "v1", "name": "nope"}}}, timeout=10)
    assert missing_pod.status_code == 404


def test_discovery_lists_the_token_subresource(server: Kapisup):
    resources = requests.get(f"{server.url}/api/v1", timeout=10).json()["resources"]
    [entry] = [r for r in resources if r["name"] == "serviceaccounts/token"]
    assert entry["verbs"] == ["create"]
    assert (entry["group"], entry["version"], entry["kind"]) == (
        "authentication.k8s.io", "v1", "TokenRequest")


def test_deleted_service_account_token_is_refused(server: Kapisup, kubectl: Kubectl, ns: str):
    kubectl.ok("create", "serviceaccount", "builder", "-n", ns)
    token = kubectl.ok("create", "token", "builder", "-n", ns).strip()
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert secure(server, "GET", path, token).status_code == 200
    kubectl.ok("delete", "serviceaccount", "builder", "-n", ns)
    # every worker stops accepting it once its lookup cache (1 s) has turned over
    wait_for(lambda: all(secure(server, "GET", path, token).status_code == 401
                         for _ in range(6)), timeout=10, what="401 for a deleted account")
    # a new account of the same name has another uid: the old token stays dead
    kubectl.ok("create", "serviceaccount", "builder", "-n", ns)
    time.sleep(1.2)  # let the cached "gone" answer expire, so the new uid is what is compared
    assert secure(server, "GET", path, token).status_code == 401


def test_expired_and_forged_tokens_are_401(server: Kapisup, ns: str):
    account = requests.get(f"{server.url}/api/v1/namespaces/{ns}/serviceaccounts/default",
                           timeout=10).json()
    uid = account["metadata"]["uid"]
    key = load_private_key(str(Path(server.data_dir) / "pki" / "sa.key"))
    path = f"/api/v1/namespaces/{ns}/configmaps"
    fresh = sign(service_account_claims(ISSUER, [ISSUER], ns, "default", uid, 600), key)
    assert secure(server, "GET", path, fresh).status_code == 200
    expired = sign(service_account_claims(ISSUER, [ISSUER], ns, "default", uid, 600,
                                          now=time.time() - 3600), key)
    assert secure(server, "GET", path, expired).status_code == 401
    header, payload, signature = fresh.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert secure(server, "GET", path, forged).status_code == 401
    garbage = f"{header}.{payload}.bm90LWEtc2lnbmF0dXJl"
    answer = secure(server, "GET", path, garbage)
    assert answer.status_code == 401 and answer.json()["reason"] == "Unauthorized"


def test_python_client_creates_a_token(server: Kapisup, ns: str):
    config = client.Configuration()
    config.host = server.url
    with client.ApiClient(config) as api:
        core = client.CoreV1Api(api)
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=900))
        answer = core.create_namespaced_service_account_token("default", ns, request)
        token = answer.status.token
        assert answer.spec.expiration_seconds == 900
        with pytest.raises(ApiException) as missing:
            core.create_namespaced_service_account_token("ghost", ns, request)
        assert missing.value.status == 404
    secured = client.Configuration()
    secured.host = f"https://localhost:{server.secure_port}"
    secured.ssl_ca_cert = str(Path(server.data_dir) / "pki" / "ca.crt")
    secured.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(secured) as api:
        listed = client.CoreV1Api(api).list_namespaced_config_map(ns)
        assert listed.items == []
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(api).create_namespaced_config_map(
                ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x")))
        assert denied.value.status == 403


def test_tokens_never_reach_the_logs(server: Kapisup, kubectl: Kubectl, ns: str):
    token = kubectl.ok("create", "token", "default", "-n", ns).strip()
    secure(server, "GET", f"/api/v1/namespaces/{ns}/configmaps", token)
    bad = token[:-6] + "AAAAAA"
    secure(server, "GET", f"/api/v1/namespaces/{ns}/configmaps", bad)
    mark_path = f"/api/v1/namespaces/{ns}/configmaps?limit=7"
    secure(server, "GET", mark_path, token)
    server.wait_log(lambda e: e.get("event") == "request" and e.get("path") == mark_path,
                    what="access line of the last request")
    signature, bad_signature = token.split(".")[2], bad.split(".")[2]
    with server._lock:
        output = "\n".join(server.raw)
    assert signature not in output and bad_signature not in output
    audit = (Path(server.tmp_path) / "audit.log").read_text()
    assert ns in audit  # the requests were audited...
    assert signature not in audit and bad_signature not in audit  # ...without the token
