"""Audit: one Event JSON line per request, written after the body closes; the writer itself."""

from __future__ import annotations

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
from kapisup.filters.audit import with_audit
from kapisup.observability.auditlog import AuditLogWriter

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
