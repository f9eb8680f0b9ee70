"""The handler chains: filters present on the right port and composed in kube's order."""

from __future__ import annotations

import json

import gevent
import gevent.event
from wsgi_util import RecordingLogger, call, make_environ

from kapisup.auth.authenticator import TokenFileAuthenticator, UnionAuthenticator
from kapisup.auth.authorizer import AlwaysAllow, AlwaysDeny
from kapisup.auth.user import UserInfo
from kapisup.endpoints.request import REQUEST_INFO, USER
from kapisup.filters.chain import ChainConfig, build_handler_chains
from kapisup.observability.auditlog import AuditLogWriter

ADMIN = UserInfo("admin", "1", ("system:masters",))
PODS = "/api/v1/namespaces/ns/pods"


class Api:
    """The innermost app: records what it saw; /crash raises, /block waits for `release`."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self.release = gevent.event.Event()

    def __call__(self, environ, start_response):
        self.seen.append({"user": environ.get(USER),
                          "authorization": environ.get("HTTP_AUTHORIZATION")})
        path = environ["PATH_INFO"]
        if path.endswith("/crash"):
            raise RuntimeError("bug in a handler")
        if path.endswith("/block"):
            self.release.wait()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]


class CountingAuthenticator:
    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def authenticate(self, environ):
        self.calls += 1
        return self.inner.authenticate(environ)


def config(tmp_path=None, **overrides) -> tuple[ChainConfig, list[tuple[str, int]]]:
    changes: list[tuple[str, int]] = []
    tokens = TokenFileAuthenticator({"admin-token": ADMIN})
    values = dict(
        authenticator=CountingAuthenticator(UnionAuthenticator([tokens], anonymous=False)),
        authorizer=AlwaysAllow(),
        logger=RecordingLogger(),
        on_inflight_change=lambda kind, current: changes.append((kind, current)),
        audit_writer=AuditLogWriter(str(tmp_path / "audit.log")) if tmp_path else None,
    )
    values.update(overrides)
    return ChainConfig(**values), changes


def admin(**kwargs):
    headers = {"Authorization": "Bearer admin-token", **kwargs.pop("headers", {})}
    return make_environ(headers=headers, **kwargs)


def audit_lines(cfg: ChainConfig) -> list[dict]:
    with open(cfg.audit_writer.path) as handle:
        return [json.loads(line) for line in handle]


def test_unauthenticated_request_gets_401_but_holds_an_in_flight_slot():
    api = Api()
    cfg, changes = config()
    secure, _ = build_handler_chains(api, cfg)
    response = call(secure, make_environ(path=PODS))
    assert response.code == 401
    assert response.json()["reason"] == "Unauthorized"
    assert changes == [("readOnly", 1), ("readOnly", 0)]
    assert api.seen == []


def test_secure_chain_authenticates_and_strips_credentials():
    api = Api()
    cfg, _ = config()
    secure, _ = build_handler_chains(api, cfg)
    assert call(secure, admin(path=PODS)).code == 200
    assert api.seen[0]["user"].name == "admin"
    assert api.seen[0]["authorization"] is None


def test_insecure_chain_never_authenticates_nor_authorizes():
    api = Api()
    cfg, changes = config(authorizer=AlwaysDeny())
    secure, insecure = build_handler_chains(api, cfg)
    response = call(insecure, admin(method="DELETE", path=PODS + "/p"))
    assert response.code == 200
    assert cfg.authenticator.calls == 0
    assert api.seen == [{"user": None, "authorization": "Bearer admin-token"}]
    assert changes == [("mutating", 1), ("mutating", 0)]
    # The same request on the secure port is authenticated, then denied.
    denied = call(secure, admin(method="DELETE", path=PODS + "/p"))
    assert denied.code == 403
    assert cfg.authenticator.calls == 1


def test_cors_preflight_is_answered_before_authentication():
    api = Api()
    cfg, _ = config(cors_allowed_origins=(r"\.example\.com$",))
    secure, _ = build_handler_chains(api, cfg)
    response = call(secure, make_environ(method="OPTIONS", path=PODS,
                                         headers={"Origin": "https://ui.example.com"}))
    assert response.code == 204
    assert cfg.authenticator.calls == 0
    # A 401 still carries the CORS headers: CORS wraps authentication.
    unauthorized = call(secure, make_environ(path=PODS,
                                             headers={"Origin": "https://ui.example.com"}))
    assert unauthorized.code == 401
    assert unauthorized.header("Access-Control-Allow-Origin") == "https://ui.example.com"


def test_timeout_covers_authentication():
    class SlowAuthenticator:
        def authenticate(self, environ):
            gevent.sleep(5)
            return ADMIN

    cfg, changes = config(authenticator=SlowAuthenticator(), request_timeout=0.01)
    secure, _ = build_handler_chains(Api(), cfg)
    response = call(secure, make_environ(path=PODS))
    assert response.code == 504
    assert changes[-1] == ("readOnly", 0)


def test_panic_in_the_api_is_a_500_logged_with_the_user_and_the_slot_is_released():
    cfg, changes = config()
    secure, _ = build_handler_chains(Api(), cfg)
    response = call(secure, admin(path=PODS + "/p/crash"))
    assert response.code == 500
    assert response.json()["reason"] == "InternalError"
    assert changes[-1] == ("readOnly", 0)
    [(_, _, access)] = cfg.logger.at("info")
    assert (access["status"], access["user"], access["verb"]) == (500, "admin", "get")
    assert len(cfg.logger.at("error")) == 1
    assert call(secure, admin(path=PODS)).code == 200


def test_secure_and_insecure_share_the_in_flight_limits():
    api = Api()
    cfg, _ = config(max_requests_inflight=1)
    secure, insecure = build_handler_chains(api, cfg)
    blocked = gevent.spawn(call, secure, admin(path=PODS + "/p/block"))
    gevent.sleep(0)
    rejected = call(insecure, make_environ(path=PODS))
    assert rejected.code == 429
    assert rejected.header("Retry-After") == "1"
    api.release.set()
    blocked.join()
    assert blocked.value.code == 200
    assert call(insecure, make_environ(path=PODS)).code == 200


def test_metrics_observer_sits_right_inside_request_info():
    observed: list[tuple[str, str]] = []

    def observer(app):
        def observe(environ, start_response):
            def record(status, headers, exc_info=None):
                observed.append((environ[REQUEST_INFO].verb, status[:3]))
                return start_response(status, headers, exc_info)

            return app(environ, record)

        return observe

    api = Api()
    cfg, _ = config(metrics_observer=observer, max_requests_inflight=1)
    secure, _ = build_handler_chains(api, cfg)
    blocked = gevent.spawn(call, secure, admin(path=PODS + "/p/block"))
    gevent.sleep(0)
    assert call(secure, admin(path=PODS)).code == 429  # decided outside the limiter: observed
    assert call(secure, make_environ(path="/api/v1/watch")).code == 404  # before the observer
    api.release.set()
    blocked.join()
    assert observed == [("list", "429"), ("get", "200")]


def test_request_info_error_is_answered_before_max_in_flight():
    cfg, changes = config()
    secure, insecure = build_handler_chains(Api(), cfg)
    assert call(secure, make_environ(path="/api/v1/watch")).code == 404
    assert call(insecure, make_environ(path="/api/v1/watch")).code == 404
    assert changes == []


def test_audit_sees_the_authenticated_user_and_the_impersonated_one(tmp_path):
    api = Api()
    cfg, _ = config(tmp_path)
    secure, insecure = build_handler_chains(api, cfg)
    response = call(secure, admin(path=PODS, headers={"Impersonate-User": "jane"}))
    assert response.code == 200
    assert api.seen[0]["user"].name == "jane"
    call(insecure, make_environ(path=PODS))
    assert call(secure, make_environ(path=PODS)).code == 401  # audit is inside authentication
    secure_event, insecure_event = audit_lines(cfg)
    assert secure_event["user"]["username"] == "admin"
    assert secure_event["impersonatedUser"]["username"] == "jane"
    assert response.header("Audit-Id") == secure_event["auditID"]
    assert "user" not in insecure_event
    assert insecure_event["verb"] == "list"


def test_impersonation_is_authorized_on_the_secure_chain(tmp_path):
    cfg, _ = config(tmp_path, authorizer=AlwaysDeny())
    secure, _ = build_handler_chains(Api(), cfg)
    response = call(secure, admin(path=PODS, headers={"Impersonate-User": "jane"}))
    assert response.code == 403
    assert response.json()["message"].startswith('users "jane" is forbidden: User "admin"')
    [event] = audit_lines(cfg)
    assert event["responseStatus"]["code"] == 403
    assert "impersonatedUser" not in event


def test_timed_out_request_is_audited_as_504_and_its_access_line_marked(tmp_path):
    def slow_stream(environ, start_response):
        start_response("200 OK", [])
        yield b"x"
        gevent.sleep(5)
        yield b"y"

    cfg, changes = config(tmp_path, request_timeout=0.01)
    _, insecure = build_handler_chains(slow_stream, cfg)
    response = call(insecure, make_environ(path=PODS))
    assert response.code == 504
    [event] = audit_lines(cfg)
    assert event["responseStatus"]["code"] == 504
    [(_, _, access)] = cfg.logger.at("info")
    assert access["aborted"] == "Timeout"
    assert changes[-1] == ("readOnly", 0)
