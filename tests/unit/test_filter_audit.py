"""Audit: one Event JSON line per request, written after the body closes; the writer itself."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import uuid
from datetime import datetime

import pytest
from structlog.testing import capture_logs
from wsgi_util import call, finish, make_environ, ok_app, start

from kapisup.auth.user import UserInfo
from kapisup.endpoints.request import AUDIT_ID, IMPERSONATED_BY, USER
from kapisup.endpoints.status import write_status
from kapisup.filters.audit import MAX_BODY_BYTES, OMITTED_ANNOTATION, with_audit
from kapisup.filters.authorization import AUTHORIZATION_DECISION
from kapisup.filters.longrunning import LongRunningCheck
from kapisup.observability.auditlog import AuditLogWriter
from kapisup.observability.auditpolicy import compile_policy

ALICE = UserInfo("alice", "1001", ("devs", "system:authenticated"))


def lines(path) -> list[dict]:
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def writer(tmp_path):
    w = AuditLogWriter(str(tmp_path / "audit.log"))
    yield w
    w.close()


def test_event_fields_for_a_resource_request(writer):
    seen = {}

    def app(environ, start_response):
        seen["id"] = environ[AUDIT_ID]
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b"{}"]

    environ = make_environ(method="POST", path="/apis/apps/v1/namespaces/ns/deployments",
                           query="dryRun=All", headers={"User-Agent": "kubectl/v1.30",
                                                        "X-Forwarded-For": "1.2.3.4, junk"},
                           remote="10.0.0.1", resolve=True, user=ALICE)
    response = call(with_audit(app, writer), environ)
    assert response.code == 201
    [event] = lines(writer.path)
    assert event["kind"] == "Event"
    assert event["apiVersion"] == "audit.k8s.io/v1"
    assert event["level"] == "Metadata"
    assert event["stage"] == "ResponseComplete"
    assert str(uuid.UUID(event["auditID"])) == event["auditID"]
    assert response.header("Audit-Id") == event["auditID"] == seen["id"]
    assert event["requestURI"] == "/apis/apps/v1/namespaces/ns/deployments?dryRun=All"
    assert event["verb"] == "create"
    assert event["user"] == {"username": "alice", "uid": "1001",
                             "groups": ["devs", "system:authenticated"]}
    assert "impersonatedUser" not in event
    assert event["sourceIPs"] == ["1.2.3.4", "10.0.0.1"]
    assert event["userAgent"] == "kubectl/v1.30"
    assert event["objectRef"] == {"resource": "deployments", "namespace": "ns",
                                  "apiGroup": "apps", "apiVersion": "v1"}
    assert event["responseStatus"]["code"] == 201
    received = parse_time(event["requestReceivedTimestamp"])
    assert parse_time(event["stageTimestamp"]) >= received


def test_non_resource_request_without_user(writer):
    call(with_audit(ok_app(), writer), make_environ(path="/healthz", resolve=True))
    [event] = lines(writer.path)
    assert "user" not in event
    assert "objectRef" not in event
    assert event["verb"] == "get"
    assert event["sourceIPs"] == ["127.0.0.1"]


def test_line_is_written_only_once_the_body_is_closed(writer):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"a"
        yield b"b"

    recorder, body = start(with_audit(app, writer), make_environ(resolve=True))
    assert os.path.getsize(writer.path) == 0
    finish(recorder, body)
    body.close()  # closing twice must not write twice
    assert len(lines(writer.path)) == 1


def test_impersonated_user_is_recorded_next_to_the_authenticated_one(writer):
    def impersonating_app(environ, start_response):
        environ[IMPERSONATED_BY] = environ[USER]
        environ[USER] = UserInfo("jane", groups=("system:authenticated",))
        return ok_app()(environ, start_response)

    call(with_audit(impersonating_app, writer), make_environ(resolve=True, user=ALICE))
    [event] = lines(writer.path)
    assert event["user"]["username"] == "alice"
    assert event["impersonatedUser"] == {"username": "jane", "groups": ["system:authenticated"]}


def test_exception_below_is_audited_as_panic(writer):
    def app(environ, start_response):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        call(with_audit(app, writer), make_environ(resolve=True))
    [event] = lines(writer.path)
    assert event["stage"] == "Panic"
    assert event["responseStatus"]["code"] == 500


def test_write_error_is_logged_and_the_request_still_succeeds():
    class Broken:
        def write(self, event):
            raise OSError(28, "No space left on device")

    with capture_logs() as logs:
        response = call(with_audit(ok_app(b"fine"), Broken()), make_environ(resolve=True))
    assert (response.code, response.body) == (200, b"fine")
    [entry] = [e for e in logs if e["log_level"] == "error"]
    assert entry["audit_id"] == response.header("Audit-Id")


def test_no_writer_returns_the_app_unchanged():
    app = ok_app()
    assert with_audit(app, None) is app


def test_reopen_after_rotation_writes_to_a_fresh_file(tmp_path):
    path = tmp_path / "audit.log"
    w = AuditLogWriter(str(path))
    w.write({"n": 1})
    os.rename(path, tmp_path / "audit.log.1")
    w.write({"n": 2})  # still the old file until reopened
    w.reopen()
    w.write({"n": 3})
    w.close()
    assert lines(tmp_path / "audit.log.1") == [{"n": 1}, {"n": 2}]
    assert lines(path) == [{"n": 3}]


def _write_many(path: str, worker: int, count: int) -> None:
    w = AuditLogWriter(path)
    for i in range(count):
        w.write({"worker": worker, "i": i, "pad": "x" * 3000})
    w.close()


def test_many_processes_append_whole_lines(tmp_path):
    path = str(tmp_path / "audit.log")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, n, 200)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    events = lines(path)  # every line parses: no interleaving
    assert len(events) == 800
    for n in range(4):
        assert [e["i"] for e in events if e["worker"] == n] == list(range(200))


# --- policy levels, stages and bodies -----------------------------------------------------

def policy_of(*rules, **top):
    return compile_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                           "rules": list(rules), **top})


def echo_app(status="201 Created", content_type="application/json"):
    """Reads the request body the way the REST handlers do and answers it back."""

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(length) if length else b"{}"
        start_response(status, [("Content-Type", content_type)])
        return [data[: len(data) // 2], data[len(data) // 2:]]

    return app


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p1", "managedFields": [{"manager": "kubectl"}]},
       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def post_pod(body=None, content_type="application/json"):
    data = json.dumps(POD).encode() if body is None else body
    return make_environ(method="POST", path="/api/v1/namespaces/ns/pods", body=data,
                        headers={"Content-Type": content_type}, resolve=True, user=ALICE)


def test_stages_share_the_audit_id_and_received_comes_before_the_handler(writer):
    seen = {}

    def app(environ, start_response):
        seen["lines"] = len(lines(writer.path))
        return echo_app()(environ, start_response)

    response = call(with_audit(app, writer, policy_of({"level": "Metadata"})), post_pod())
    assert seen["lines"] == 1  # RequestReceived was on disk before the handler ran
    received, complete = lines(writer.path)
    assert [received["stage"], complete["stage"]] == ["RequestReceived", "ResponseComplete"]
    assert received["auditID"] == complete["auditID"] == response.header("Audit-Id")
    assert "responseStatus" not in received
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert complete["requestReceivedTimestamp"] == received["requestReceivedTimestamp"]
    assert parse_time(complete["stageTimestamp"]) >= parse_time(received["stageTimestamp"])
    assert complete["responseStatus"]["code"] == 201
    assert "requestObject" not in complete and "responseObject" not in complete


def test_request_level_logs_the_body_the_handler_read_once(writer):
    response = call(with_audit(echo_app(), writer, policy_of({"level": "Request"})), post_pod())
    assert response.json() == POD  # the handler got the whole body
    complete = lines(writer.path)[-1]
    assert complete["level"] == "Request"
    assert complete["requestObject"] == POD
    assert "responseObject" not in complete


def test_request_response_level_logs_both_bodies_without_managed_fields(writer):
    p = policy_of({"level": "RequestResponse"}, omitManagedFields=True,
                  omitStages=["RequestReceived"])
    call(with_audit(echo_app(), writer, p), post_pod())
    [complete] = lines(writer.path)
    expected = json.loads(json.dumps(POD))
    del expected["metadata"]["managedFields"]
    assert complete["requestObject"] == expected
    assert complete["responseObject"] == expected


def test_yaml_apply_bodies_are_decoded_and_protobuf_ones_omitted(writer):
    p = policy_of({"level": "Request"}, omitStages=["RequestReceived"])
    audited = with_audit(echo_app(), writer, p)
    call(audited, post_pod(b"kind: Pod\nmetadata:\n  name: y\n", "application/apply-patch+yaml"))
    call(audited, post_pod(b"k8s\x00\x0a\x02v1", "application/vnd.kubernetes.protobuf"))
    yaml_event, proto_event = lines(writer.path)
    assert yaml_event["requestObject"] == {"kind": "Pod", "metadata": {"name": "y"}}
    assert "requestObject" not in proto_event


def test_bodies_over_the_limit_are_not_kept(writer):
    big = json.dumps({"kind": "ConfigMap", "data": {"k": "x" * (MAX_BODY_BYTES + 10)}}).encode()
    p = policy_of({"level": "RequestResponse"}, omitStages=["RequestReceived"])
    response = call(with_audit(echo_app(), writer, p), post_pod(big))
    assert len(response.body) == len(big)  # the handler still read and answered all of it
    [event] = lines(writer.path)
    assert "requestObject" not in event and "responseObject" not in event
    assert event["annotations"][OMITTED_ANNOTATION] == ("requestObject, responseObject larger "
                                                        "than 1048576 bytes")
    chunked = post_pod(big)
    chunked["CONTENT_LENGTH"] = ""  # no length up front: the tee stops keeping at the limit
    chunked["wsgi.input"] = io.BytesIO(big)

    def read_all(environ, start_response):
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]

    call(with_audit(read_all, writer, p), chunked)
    event = lines(writer.path)[-1]
    assert "requestObject" not in event
    assert event["annotations"][OMITTED_ANNOTATION] == ("requestObject, responseObject larger "
                                                        "than 1048576 bytes")


def test_level_none_writes_nothing_but_still_sets_the_audit_id(writer):
    p = policy_of({"level": "None", "nonResourceURLs": ["/healthz*"]}, {"level": "Metadata"})
    response = call(with_audit(ok_app(), writer, p), make_environ(path="/healthz/ping",
                                                                   resolve=True))
    assert response.header("Audit-Id")
    assert lines(writer.path) == []


def test_omit_stages_of_a_rule(writer):
    p = policy_of({"level": "Metadata", "omitStages": ["RequestReceived", "ResponseComplete"]})
    call(with_audit(ok_app(), writer, p), make_environ(resolve=True))
    assert lines(writer.path) == []


def test_watch_gets_response_started_and_no_response_object(writer):
    def watch(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        yield b'{"type":"ADDED","object":{}}\n'
        yield b'{"type":"DELETED","object":{}}\n'

    p = policy_of({"level": "RequestResponse"})
    environ = make_environ(path="/api/v1/pods", query="watch=true", resolve=True, user=ALICE)
    recorder, body = start(with_audit(watch, writer, p, LongRunningCheck()), environ)
    iterator = iter(body)
    next(iterator)
    assert [e["stage"] for e in lines(writer.path)] == ["RequestReceived", "ResponseStarted"]
    finish(recorder, iterator)
    body.close()
    stages = lines(writer.path)
    assert [e["stage"] for e in stages] == ["RequestReceived", "ResponseStarted",
                                            "ResponseComplete"]
    assert stages[1]["responseStatus"]["code"] == 200
    assert stages[0]["verb"] == "watch"
    assert all("responseObject" not in e for e in stages)


def test_authorization_decision_and_error_status_are_recorded(writer):
    def forbidding(environ, start_response):
        environ[AUTHORIZATION_DECISION] = ("forbid", "no RBAC policy matched")
        return write_status(start_response, 403, 'pods is forbidden: User "alice" cannot ...')

    p = policy_of({"level": "Metadata"}, omitStages=["RequestReceived"])
    call(with_audit(forbidding, writer, p), make_environ(path="/api/v1/pods", resolve=True))
    [event] = lines(writer.path)
    assert event["annotations"] == {"authorization.k8s.io/decision": "forbid",
                                    "authorization.k8s.io/reason": "no RBAC policy matched"}
    status = event["responseStatus"]
    assert status["code"] == 403
    assert status["status"] == "Failure" and status["reason"] == "Forbidden"
    assert status["message"].startswith("pods is forbidden")


def test_the_policy_sees_the_user_before_impersonation(writer):
    def impersonating_app(environ, start_response):
        environ[IMPERSONATED_BY] = environ[USER]
        environ[USER] = UserInfo("jane")
        return ok_app()(environ, start_response)

    p = policy_of({"level": "RequestResponse", "users": ["alice"]})
    call(with_audit(impersonating_app, writer, p), make_environ(resolve=True, user=ALICE))
    received, complete = lines(writer.path)
    assert received["level"] == complete["level"] == "RequestResponse"
    assert "impersonatedUser" not in received  # not known yet when the request arrived
    assert complete["impersonatedUser"] == {"username": "jane"}
    assert list(complete)[:10] == ["kind", "apiVersion", "level", "auditID", "stage",
                                   "requestURI", "verb", "user", "impersonatedUser",
                                   "sourceIPs"]


def test_a_watch_stream_is_never_kept_even_without_response_started(writer):
    def watch(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        yield b'{"type":"ADDED","object":{"kind":"Pod"}}\n'

    p = policy_of({"level": "RequestResponse", "omitStages": ["RequestReceived",
                                                              "ResponseStarted"]})
    environ = make_environ(path="/api/v1/pods", query="watch=true", resolve=True)
    call(with_audit(watch, writer, p, LongRunningCheck()), environ)
    [event] = lines(writer.path)
    assert event["stage"] == "ResponseComplete"
    assert "responseObject" not in event
