"""ABAC on a real server: the policy file decides on the secure port, and a missing or broken
file stops the start-up with a reason naming it."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.integration.server import Kapisup, run_to_exit, running

V1 = "abac.authorization.kubernetes.io/v1beta1"


def policy(**spec: object) -> str:
    return json.dumps({"apiVersion": V1, "kind": "Policy", "spec": spec})


def call(server: Kapisup, method: str, path: str, token: str | None = None,
         **kwargs: object) -> requests.Response:
    ca = str(Path(server.data_dir) / "pki" / "ca.crt")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"https://localhost:{server.secure_port}{path}",
                            headers=headers, verify=ca, timeout=10, **kwargs)  # type: ignore


def test_policy_file_decides_on_the_secure_port(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('alice-token,alice,1\nbob-token,bob,2,"readers"\n')
    rules = tmp_path / "policy.jsonl"
    rules.write_text("\n".join([
        "# alice owns ns1; readers read everything; anyone may read /version",
        policy(user="alice", namespace="ns1", resource="*", apiGroup="*"),
        policy(group="readers", readonly=True, namespace="*", resource="*", apiGroup="*"),
        policy(group="system:unauthenticated", readonly=True, nonResourcePath="/version"),
        '{"user": "legacy-admin"}',
        "",
    ]))
    with running(tmp_path, "--token-auth-file", str(tokens), "--authorization-mode", "ABAC",
                 "--authorization-policy-file", str(rules), workers=1) as server:
        assert requests.post(f"{server.url}/api/v1/namespaces",
                             json={"metadata": {"name": "ns1"}}, timeout=10).status_code == 201
        made = call(server, "POST", "/api/v1/namespaces/ns1/configmaps", "alice-token",
                    json={"metadata": {"name": "a"}})
        assert made.status_code == 201, made.text
        elsewhere = call(server, "GET", "/api/v1/namespaces/default/configmaps", "alice-token")
        assert elsewhere.status_code == 403
        assert elsewhere.json()["message"].endswith("No policy matched.")
        assert call(server, "GET", "/api/v1/namespaces/ns1/configmaps/a",
                    "bob-token").status_code == 200
        written = call(server, "DELETE", "/api/v1/namespaces/ns1/configmaps/a", "bob-token")
        assert written.status_code == 403
        assert 'User "bob" cannot delete resource "configmaps"' in written.json()["message"]
        # anonymous is on under ABAC: only what the policy gives it
        assert call(server, "GET", "/version").status_code == 200
        anonymous = call(server, "GET", "/api/v1/namespaces")
        assert anonymous.status_code == 403
        assert 'User "system:anonymous"' in anonymous.json()["message"]


def test_abac_needs_its_file_and_the_file_needs_abac(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
    code, lines = run_to_exit(tmp_path / "a", "--authorization-mode", "ABAC", workers=1)
    assert code == 1
    assert any("authorization policy file not passed" in line for line in lines)
    rules = tmp_path / "policy.jsonl"
    rules.write_text(policy(user="alice", namespace="*", resource="*", apiGroup="*") + "\n")
    code, lines = run_to_exit(tmp_path / "b", "--authorization-policy-file", str(rules),
                              workers=1)
    assert code == 1
    assert any("without mode ABAC" in line for line in lines)


def test_a_bad_policy_line_stops_the_start_naming_it(tmp_path):
    rules = tmp_path / "policy.jsonl"
    rules.write_text("# ok\n" + policy(user="alice") + "\n{\"user\": 7}\n")
    (tmp_path / "run").mkdir()
    code, lines = run_to_exit(tmp_path / "run", "--authorization-mode", "ABAC",
                              "--authorization-policy-file", str(rules), workers=1)
    assert code == 1
    assert any("line 3" in line and "policy.jsonl" in line for line in lines), lines[-5:]
