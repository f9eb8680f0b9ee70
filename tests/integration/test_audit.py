"""The audit log of a real master with two workers: fields, levels and stages under a policy
file, a 403, secrets and tokens kept out of every log, and rotation under concurrent load."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.kubectl import Kubectl
from tests.integration.server import Kapisup, run_to_exit, running, wait_for

TOKEN = "audit-test-token-5b9e1c0d7a"
TOKENS = f'{TOKEN},alice,1001,"devs"\n'
BACKUP = re.compile(r"audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log")

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Metadata
  verbs: ["watch"]
  omitStages: ["RequestReceived"]
- level: Request
  verbs: ["create", "update", "patch", "delete"]
- level: Metadata
"""


def audit_files(directory: Path) -> list[Path]:
    """Backups oldest first, then the live file: the order their lines were written in."""
    backups = sorted(p for p in directory.iterdir() if BACKUP.fullmatch(p.name))
    live = directory / "audit.log"
    return backups + ([live] if live.exists() else [])


def read_events(directory: Path) -> list[dict[str, Any]]:
    """Every line of every audit file, each parsed (a torn line fails here)."""
    events = []
    for path in audit_files(directory):
        with open(path) as handle:
            events.extend(json.loads(line) for line in handle)
    return events


def by_id(events: list[dict[str, Any]], audit_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["auditID"] == audit_id]


def stages_of(directory: Path, audit_id: str, count: int) -> list[dict[str, Any]]:
    """The lines of one request once `count` of them are written (the last after the body)."""
    return wait_for(lambda: (found if len(found := by_id(read_events(directory), audit_id))
                             >= count else None), what=f"{count} audit lines of {audit_id}")


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


class Secure:
    """requests against the secure port as the token's user, checking the server's CA."""

    def __init__(self, server: Kapisup, token: str = TOKEN):
        self.base = f"https://localhost:{server.secure_port}"
        # per request: REQUESTS_CA_BUNDLE in the environment would override a session's verify
        self.ca = str(Path(server.data_dir) / "pki" / "ca.crt")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, verify=self.ca, **kwargs)


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    root = tmp_path_factory.mktemp("audit-policy")
    (root / "tokens.csv").write_text(TOKENS)
    (root / "policy.yaml").write_text(POLICY)
    (root / "audit").mkdir()
    with running(root, "--token-auth-file", str(root / "tokens.csv"),
                 "--authorization-mode", "AlwaysAllow",
                 "--audit-policy-file", str(root / "policy.yaml"),
                 "--audit-log-path", str(root / "audit" / "audit.log"), workers=2) as server:
        yield server


def test_policy_levels_stages_and_fields(policed: Kapisup):
    audit_dir = Path(policed.tmp_path) / "audit"
    api = Secure(policed)
    ns = f"audit-{uuid.uuid4().hex[:8]}"

    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": ns, "labels": {"team": "audit"}}}
    made = api("POST", "/api/v1/namespaces", json=namespace,
               headers={"User-Agent": "audit-test/1.0"})
    assert made.status_code == 201
    received, complete = stages_of(audit_dir, made.headers["Audit-Id"], 2)
    assert [received["stage"], complete["stage"]] == ["RequestReceived", "ResponseComplete"]
    for event in (received, complete):
        assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
        assert event["level"] == "Request"
        assert event["verb"] == "create"
        assert event["requestURI"] == "/api/v1/namespaces"
        assert event["user"] == {"username": "alice", "uid": "1001",
                                 "groups": ["devs", "system:authenticated"]}
        assert event["sourceIPs"] == ["127.0.0.1"]
        assert event["userAgent"] == "audit-test/1.0"
        assert event["objectRef"] == {"resource": "namespaces", "apiVersion": "v1"}
        assert "impersonatedUser" not in event
    assert "responseStatus" not in received and "requestObject" not in received
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert complete["requestReceivedTimestamp"] == received["requestReceivedTimestamp"]
    assert parse_time(complete["stageTimestamp"]) >= parse_time(received["stageTimestamp"])
    assert complete["responseStatus"]["code"] == 201
    assert complete["requestObject"] == namespace
    assert "responseObject" not in complete
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"

    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"},
                 "data": {"color": "blue"}}
    made = api("POST", f"/api/v1/namespaces/{ns}/configmaps", json=configmap)
    assert made.status_code == 201
    assert made.json()["metadata"]["managedFields"]  # the server keeps them...
    _, complete = stages_of(audit_dir, made.headers["Audit-Id"], 2)
    assert complete["level"] == "RequestResponse"
    assert complete["objectRef"] == {"resource": "configmaps", "namespace": ns,
                                     "apiVersion": "v1"}
    assert complete["requestObject"] == configmap
    response_object = complete["responseObject"]
    assert response_object["data"] == {"color": "blue"}
    assert response_object["metadata"]["uid"] == made.json()["metadata"]["uid"]
    assert "managedFields" not in response_object["metadata"]  # ...the policy omits them

    got = api("GET", f"/api/v1/namespaces/{ns}/configmaps/cm1",
              headers={"Impersonate-User": "jane", "Impersonate-Group": "testers"})
    assert got.status_code == 200
    received, complete = stages_of(audit_dir, got.headers["Audit-Id"], 2)
    assert received["user"]["username"] == complete["user"]["username"] == "alice"
    assert complete["impersonatedUser"] == {"username": "jane",
                                            "groups": ["testers", "system:authenticated"]}
    assert complete["verb"] == "get"
    assert complete["objectRef"]["name"] == "cm1"
    assert complete["responseObject"]["metadata"]["name"] == "cm1"
    assert "requestObject" not in complete

    watch = api("GET", "/api/v1/namespaces", params={
        "watch": "true", "timeoutSeconds": "1", "fieldSelector": f"metadata.name={ns}"})
    assert watch.status_code == 200 and '"ADDED"' in watch.text
    started, complete = stages_of(audit_dir, watch.headers["Audit-Id"], 2)
    assert [started["stage"], complete["stage"]] == ["ResponseStarted", "ResponseComplete"]
    assert started["verb"] == "watch" and started["level"] == "Metadata"
    assert started["responseStatus"]["code"] == 200
    assert parse_time(complete["stageTimestamp"]) > parse_time(started["stageTimestamp"])

    # the configmaps rule comes first: a watch of them is at RequestResponse, all stages
    watch = api("GET", f"/api/v1/namespaces/{ns}/configmaps",
                params={"watch": "true", "timeoutSeconds": "1"})
    assert watch.status_code == 200 and '"ADDED"' in watch.text
    lines = stages_of(audit_dir, watch.headers["Audit-Id"], 3)
    assert [e["stage"] for e in lines] == ["RequestReceived", "ResponseStarted",
                                           "ResponseComplete"]
    assert {e["level"] for e in lines} == {"RequestResponse"}
    assert all("responseObject" not in e for e in lines)  # never a watch stream's objects

    probe = api("GET", "/healthz")
    assert probe.status_code == 200 and probe.headers["Audit-Id"]
    plain = requests.get(policed.url + f"/api/v1/namespaces/{ns}/configmaps", timeout=10)
    assert plain.status_code == 200
    [plain_event] = stages_of(audit_dir, plain.headers["Audit-Id"], 1)[-1:]
    assert "user" not in plain_event  # the insecure port has no user
    events = read_events(audit_dir)
    assert not [e for e in events if e["requestURI"].startswith("/healthz")]


def test_a_denied_request_is_audited_as_403(tmp_path):
    (tmp_path / "tokens.csv").write_text(TOKENS)
    with running(tmp_path, "--token-auth-file", str(tmp_path / "tokens.csv"),
                 "--authorization-mode", "AlwaysDeny",
                 "--audit-log-path", str(tmp_path / "audit.log"), workers=2) as server:
        denied = Secure(server)("GET", "/api/v1/namespaces/default/pods")
        assert denied.status_code == 403
        [event] = stages_of(tmp_path, denied.headers["Audit-Id"], 1)
    assert event["stage"] == "ResponseComplete"  # the default policy omits RequestReceived
    assert event["level"] == "Metadata"
    assert event["verb"] == "list"
    assert event["user"]["username"] == "alice"
    assert event["objectRef"] == {"resource": "pods", "namespace": "default",
                                  "apiVersion": "v1"}
    status = event["responseStatus"]
    assert status["code"] == 403
    assert status["reason"] == "Forbidden" and status["status"] == "Failure"
    assert 'User "alice" cannot list resource "pods"' in status["message"]
    assert event["annotations"]["authorization.k8s.io/decision"] == "forbid"


def test_a_bad_policy_file_stops_start_up_with_one_line(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("level: Request\n", "level: Requests\n"))
    code, output = run_to_exit(tmp_path, "--audit-log-path", str(tmp_path / "audit.log"),
                               "--audit-policy-file", str(policy), workers=1)
    assert code == 1
    assert f"kapisup: error: --audit-policy-file {policy}: rules[3].level: must be one of " \
           "None, Metadata, Request, RequestResponse, got 'Requests'" in output
    code, output = run_to_exit(tmp_path, "--audit-log-path", str(tmp_path / "audit.log"),
                               "--audit-policy-file", str(tmp_path / "missing.yaml"), workers=1)
    assert code == 1
    assert f"kapisup: error: --audit-policy-file {tmp_path / 'missing.yaml'}: " \
           "No such file or directory" in output


def test_secrets_and_tokens_never_reach_any_log(tmp_path):
    """The default policy, every write path of a Secret, kubectl and a bound token: grep every
    log file and the server's whole output for the values."""
    (tmp_path / "tokens.csv").write_text(TOKENS)
    plain_value = "plain-secret-value-0c4f7e"
    data_value = "data-secret-value-93ab1d"
    encoded = base64.b64encode(data_value.encode()).decode()
    kubectl_value = "kubectl-secret-value-7d21aa"
    patched_value = "patched-secret-value-e5c3f0"
    configmap_value = "configmap-secret-value-41b9"
    visible = "visible-label-value-2f6d"
    wrong_token = "wrong-token-value-88c1e2"
    with running(tmp_path, "--token-auth-file", str(tmp_path / "tokens.csv"),
                 "--authorization-mode", "AlwaysAllow", "--log-level", "debug",
                 "--audit-log-path", str(tmp_path / "audit.log"), workers=2) as server:
        api = Secure(server)
        assert Secure(server, wrong_token)("GET", "/api").status_code == 401
        ns = f"secrets-{uuid.uuid4().hex[:8]}"
        assert api("POST", "/api/v1/namespaces",
                   json={"metadata": {"name": ns, "labels": {"v": visible}}}).status_code == 201
        base = f"/api/v1/namespaces/{ns}/secrets"
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
                  "stringData": {"password": plain_value}, "data": {"other": encoded}}
        assert api("POST", base, json=secret).status_code == 201
        assert api("GET", f"{base}/s1").json()["data"]["other"] == encoded
        assert api("GET", base).status_code == 200
        assert api("PATCH", f"{base}/s1", data=json.dumps({"stringData": {"x": patched_value}}),
                   headers={"Content-Type": "application/merge-patch+json"}).status_code == 200
        current = api("GET", f"{base}/s1").json()
        assert api("PUT", f"{base}/s1", json=current).status_code == 200
        watched = api("GET", base, params={"watch": "1", "timeoutSeconds": "1"})
        assert encoded in watched.text  # the watch did stream the data...
        assert api("POST", f"/api/v1/namespaces/{ns}/configmaps", json={
            "metadata": {"name": "c1"}, "data": {"key": configmap_value}}).status_code == 201
        ca = str(Path(server.data_dir) / "pki" / "ca.crt")
        kubectl = Kubectl(f"https://localhost:{server.secure_port}", tmp_path / "kubectl")
        kubectl.ok("--token", TOKEN, "--certificate-authority", ca, "create", "secret",
                   "generic", "s2", "-n", ns, f"--from-literal=key={kubectl_value}")
        assert api("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                   json={"metadata": {"name": "robot"}}).status_code == 201
        requested = api("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/robot/token",
                        json={"apiVersion": "authentication.k8s.io/v1",
                              "kind": "TokenRequest", "spec": {}})
        assert requested.status_code == 201
        bound_token = requested.json()["status"]["token"]
        as_robot = Secure(server, bound_token)("GET", f"/api/v1/namespaces/{ns}/pods")
        assert as_robot.status_code == 200
        assert api("DELETE", f"{base}/s1").status_code == 200
        last = api("GET", "/api")  # every earlier response is complete, so audited, by now
        wait_for(lambda: last.headers["Audit-Id"] in (tmp_path / "audit.log").read_text(),
                 what="the last audit line")
        server.stop()  # and every log line is out
        output = "\n".join(server.raw)
        keys = [line for path in sorted((Path(server.data_dir) / "pki").glob("*.key"))
                for line in path.read_text().splitlines()
                if "PRIVATE KEY" not in line and len(line) >= 40]  # long enough to be unique

    audit = (tmp_path / "audit.log").read_text()
    events = [json.loads(line) for line in audit.splitlines()]
    secret_events = [e for e in events if e.get("objectRef", {}).get("resource") == "secrets"]
    assert {e["verb"] for e in secret_events} >= {"create", "get", "list", "patch", "update",
                                                   "watch", "delete"}
    assert {e["level"] for e in secret_events} == {"Metadata"}
    token_events = [e for e in events if e.get("objectRef", {}).get("subresource") == "token"]
    assert token_events and {e["level"] for e in token_events} == {"Metadata"}
    assert visible in audit  # ...other writes are audited with their bodies
    assert any(e["user"]["username"] == f"system:serviceaccount:{ns}:robot"
               for e in events if "user" in e)
    assert output.count('"event": "request"') + output.count('"event":"request"') > 10
    logs = {"audit.log": audit, "server output": output}
    for name in sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".log", ".err")):
        logs[name] = (tmp_path / name).read_text(errors="replace")
    assert len(keys) > 10  # the CA's, the serving and the admin pairs' and the signing key
    for value in (TOKEN, wrong_token, bound_token, bound_token.split(".")[2], plain_value,
                  data_value, encoded, kubectl_value, patched_value, configmap_value, *keys):
        for name, text in logs.items():
            assert value not in text, f"{value[:12]}... found in {name}"


def _load(session_factory: Any, paths: list[str], rounds: int, errors: list[str],
          ids: list[str]) -> None:
    session = session_factory()
    for n in range(rounds):
        response = session.get(paths[n % len(paths)], timeout=30)
        if response.status_code != 200:
            errors.append(f"{response.status_code} {response.text[:200]}")
        ids.append(response.headers["Audit-Id"])
    session.close()


def run_load(server: Kapisup, paths: list[str], threads: int, rounds: int) -> list[str]:
    """Bounded concurrent GETs, each thread on its own keep-alive connection; the Audit-Ids."""
    errors: list[str] = []
    ids: list[str] = []
    workers = [threading.Thread(target=_load, args=(requests.Session, paths, rounds, errors,
                                                    ids)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert not worker.is_alive()
    assert errors == []
    return ids


def both_workers_served(server: Kapisup, prefix: str) -> bool:
    pids = {e.get("pid") for e in server.events("request")
            if str(e.get("path", "")).startswith(prefix)}
    return len(pids) >= 2


RESPONSE_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: RequestResponse
"""


@pytest.mark.parametrize(("maxsize", "maxbackup"), [("0", "0"), ("1", "0"), ("1", "2")])
def test_all_workers_audit_and_rotate_at_once(tmp_path, maxsize, maxbackup):
    """Every line of every file parses; without pruning every request has both its stages in
    order and none is missing; with pruning at most `maxbackup` backups are left."""
    (tmp_path / "policy.yaml").write_text(RESPONSE_POLICY)
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    with running(tmp_path, "--audit-policy-file", str(tmp_path / "policy.yaml"),
                 "--audit-log-path", str(audit_dir / "audit.log"),
                 "--audit-log-maxsize", maxsize, "--audit-log-maxbackup", maxbackup,
                 workers=2) as server:
        ns = f"load-{uuid.uuid4().hex[:8]}"
        assert requests.post(server.url + "/api/v1/namespaces", timeout=10,
                             json={"metadata": {"name": ns}}).status_code == 201
        base = f"{server.url}/api/v1/namespaces/{ns}/configmaps"
        paths = []
        for n in range(4):  # ~20 kB responses: about 50 requests per megabyte
            made = requests.post(base, timeout=10, json={"metadata": {"name": f"c{n}"},
                                                         "data": {"v": f"{n}" * 20000}})
            assert made.status_code == 201
            paths.append(f"{base}/c{n}")
        ids = run_load(server, paths, threads=6, rounds=60)  # ~7 MB of audit
        for _ in range(20):  # fresh connections until both workers have served (bounded)
            if both_workers_served(server, f"/api/v1/namespaces/{ns}/configmaps/"):
                break
            ids += run_load(server, paths, threads=4, rounds=1)
        assert both_workers_served(server, f"/api/v1/namespaces/{ns}/configmaps/")
        last = requests.get(server.url + "/api", timeout=10).headers["Audit-Id"]
        wait_for(lambda: last in (audit_dir / "audit.log").read_text(), what="the last line")
        server.stop()

    events = read_events(audit_dir)  # every line of every file parses
    backups = [p for p in audit_dir.iterdir() if BACKUP.fullmatch(p.name)]
    stages: dict[str, list[str]] = defaultdict(list)
    for event in events:
        stages[event["auditID"]].append(event["stage"])
    if maxsize == "0":
        assert backups == []
    else:
        assert len(backups) >= (2 if maxbackup != "0" else 5)
    if maxbackup == "0":
        for audit_id in ids:  # no line lost, none doubled, in order across the files
            assert stages[audit_id] == ["RequestReceived", "ResponseComplete"], audit_id
        assert {e["responseObject"]["metadata"]["name"] for e in events
                if e["auditID"] in set(ids) and e["stage"] == "ResponseComplete"} == {
                    "c0", "c1", "c2", "c3"}
    else:
        assert len(backups) <= int(maxbackup)
        oldest = {json.loads(line)["auditID"]
                  for line in audit_files(audit_dir)[0].read_text().splitlines()}
        for audit_id, seen in stages.items():
            if "RequestReceived" in seen:  # a received request is always completed
                assert seen == ["RequestReceived", "ResponseComplete"], audit_id
            else:  # its first line can only have been in a pruned backup
                assert audit_id in oldest and seen == ["ResponseComplete"]
