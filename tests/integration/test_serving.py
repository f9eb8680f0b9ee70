"""What a client sees of the serving rules and filters, against a real master and workers."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import threading
from pathlib import Path

import requests

from kapisup.server.pki import ensure_pki
from tests.integration.server import exchange, run_to_exit, running, wait_for


def head_and_body(response: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def test_servemux_rules_on_the_wire(tmp_path):
    with running(tmp_path, workers=1) as server:
        port = server.insecure_port
        status, headers, body = head_and_body(
            exchange(port, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert status.startswith("HTTP/1.1 400")
        assert headers["connection"] == "close"
        assert body == b""

        status, headers, _ = head_and_body(
            exchange(port, b"GET //api/../healthz?x=1 HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n"))
        assert status.startswith("HTTP/1.1 301")
        assert headers["location"] == "/healthz?x=1"

        status, headers, _ = head_and_body(
            exchange(port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        assert status.startswith("HTTP/1.1 200")

        huge = b"X-Big: " + b"a" * (1 << 20) + b"\r\n"
        status, headers, _ = head_and_body(
            exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + huge + b"\r\n"))
        assert status.startswith("HTTP/1.1 431")

        long_line = b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        status, _, _ = head_and_body(exchange(port, long_line))
        assert status.startswith("HTTP/1.1 414")

        # The worker survived all of that.
        assert server.get("/healthz").text == "ok"


def test_not_found_answers(tmp_path):
    with running(tmp_path, workers=1) as server:
        api = server.get("/api/v1/nothing-here")
        assert api.status_code == 404
        status = api.json()
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
        other = server.get("/nothing-here")
        assert other.status_code == 404
        assert "/healthz" in other.json()["paths"]
        assert server.get("/healthz/nope").status_code == 404
        assert server.get("/healthz/ping").text == "ok"
        verbose = server.get("/readyz?verbose")
        assert "[+]shutdown ok" in verbose.text and "readyz check passed" in verbose.text
        assert server.get("/version", params={}).status_code == 200
        assert requests.post(server.url + "/version", timeout=10).status_code == 405


def test_request_timeout_is_a_504_status(tmp_path):
    with running(tmp_path, "--request-timeout", "1s", workers=1) as server:
        response = server.get("/debug/pprof/profile?seconds=5")
        assert response.status_code == 504
        body = response.json()
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "Timeout", 504)
        assert server.get("/healthz").text == "ok"


def test_max_in_flight_answers_429(tmp_path):
    with running(tmp_path, "--max-requests-inflight", "1", workers=1) as server:
        holder = threading.Thread(
            target=lambda: server.get("/debug/pprof/profile?seconds=3", timeout=30))
        holder.start()
        try:
            # (a Response is falsy for 4xx, hence the list)
            (response,) = wait_for(
                lambda: [r] if (r := server.get("/version")).status_code == 429 else None,
                what="a 429 while the only read-only slot is taken")
            assert response.headers["Retry-After"] == "1"
            assert response.json()["reason"] == "TooManyRequests"
        finally:
            holder.join(timeout=30)
        assert server.get("/version").status_code == 200


def test_secure_port_authenticates_and_authorizes(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('secret-token,alice,1001,"devs,ops"\n')
    # AlwaysAllow turns anonymous requests off, so a request without credentials is a 401
    # (under the default RBAC mode it would be system:anonymous, allowed to read /version)
    with running(tmp_path, "--token-auth-file", str(tokens), "--authorization-mode",
                 "AlwaysAllow", workers=1) as server:
        ca = str(tmp_path / "data" / "pki" / "ca.crt")
        url = f"https://localhost:{server.secure_port}/version"
        assert requests.get(url, verify=ca, timeout=10).status_code == 401
        bad = requests.get(url, verify=ca, timeout=10,
                           headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and bad.json()["reason"] == "Unauthorized"
        good = requests.get(url, verify=ca, timeout=10,
                            headers={"Authorization": "Bearer secret-token"})
        assert good.status_code == 200
        # The plain port on loopback never asks.
        assert server.get("/version").status_code == 200


def test_always_deny_forbids_on_the_secure_port_only(tmp_path):
    with running(tmp_path, "--authorization-mode", "AlwaysDeny", workers=1) as server:
        ca = str(tmp_path / "data" / "pki" / "ca.crt")
        url = f"https://localhost:{server.secure_port}/version"
        denied = requests.get(url, verify=ca, timeout=10)
        assert denied.status_code == 403
        body = denied.json()
        assert body["reason"] == "Forbidden"
        assert 'User "system:anonymous" cannot get path "/version"' in body["message"]
        assert server.get("/version").status_code == 200


def test_cors_and_audit(tmp_path):
    audit = tmp_path / "audit.log"
    with running(tmp_path, "--cors-allowed-origins", r"example\.com",
                 "--audit-log-path", str(audit), workers=1) as server:
        allowed = server.get("/version", headers={"Origin": "https://example.com"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://example.com"
        other = server.get("/version", headers={"Origin": "https://evil.test"})
        assert "Access-Control-Allow-Origin" not in other.headers
        preflight = requests.options(server.url + "/api/v1/pods", timeout=10,
                                     headers={"Origin": "https://example.com"})
        assert preflight.status_code == 204
        assert server.get("/api/v1/namespaces/ns1/pods/p1").status_code == 404
        events = wait_for(lambda: [json.loads(line) for line in audit.read_text().splitlines()
                                   if "/api/v1/namespaces/ns1/pods/p1" in line]
                          if audit.exists() else None, what="the audit line")
        event = events[0]
        assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
        assert event["verb"] == "get"
        assert event["objectRef"]["resource"] == "pods"
        assert event["objectRef"]["namespace"] == "ns1"
        assert event["objectRef"]["name"] == "p1"
        assert event["responseStatus"]["code"] == 404
        assert event["sourceIPs"] == ["127.0.0.1"]


def test_hup_applies_a_changed_config_file(tmp_path):
    config = tmp_path / "kapisup.yaml"
    config.write_text('cors-allowed-origins: ["one\\\\.example"]\n')
    with running(tmp_path, "--config", str(config), workers=1) as server:
        origin = {"Origin": "https://two.example"}
        assert "Access-Control-Allow-Origin" not in server.get("/version", headers=origin).headers
        config.write_text('cors-allowed-origins: ["two\\\\.example"]\n')
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_log(lambda e: e.get("event") == "reload complete", after=mark)
        wait_for(lambda: "Access-Control-Allow-Origin" in server.get(
            "/version", headers=origin).headers, what="the new CORS rule")


def test_hup_with_a_broken_config_keeps_serving(tmp_path):
    config = tmp_path / "kapisup.yaml"
    config.write_text("max-requests-inflight: 100\n")
    with running(tmp_path, "--config", str(config), workers=2) as server:
        workers = set(server.workers())
        config.write_text("max-requests-inflight: lots\n")
        mark = server.mark()
        server.signal(signal.SIGHUP)
        refused = server.wait_log(lambda e: e.get("event") == "reload refused; keeping the "
                                  "running configuration", after=mark)
        assert "max-requests-inflight" in refused["error"]
        assert set(server.workers()) == workers
        assert server.get("/healthz").text == "ok"


def test_second_instance_on_the_same_port_fails_cleanly(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running(tmp_path / "a", workers=1) as first:
        code, output = run_to_exit(tmp_path / "b", workers=1, insecure_port=first.insecure_port)
        assert code == 1
        assert any("failed to listen" in line for line in output)
        assert first.get("/healthz").text == "ok"


def _served_certificate(port: int) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        return tls.getpeercert(binary_form=True)


def test_hup_reloads_the_serving_certificate(tmp_path):
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"

    made = iter(range(1, 10))

    def new_pair() -> bytes:
        """A fresh CA-signed serving pair copied over the files the server was given."""
        pki = ensure_pki(str(tmp_path / f"pki{next(made)}"), ["127.0.0.1"], ["localhost"],
                         admin=False)
        cert_pem = Path(pki.serving_cert).read_bytes()
        cert.write_bytes(cert_pem)
        key.write_bytes(Path(pki.serving_key).read_bytes())
        return ssl.PEM_cert_to_DER_cert(cert_pem.decode())

    first = new_pair()
    with running(tmp_path, "--tls-cert-file", str(cert), "--tls-private-key-file", str(key),
                 workers=1) as server:
        assert _served_certificate(server.secure_port) == first
        second = new_pair()
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_log(lambda e: e.get("event") == "reload complete", after=mark)
        wait_for(lambda: _served_certificate(server.secure_port) == second,
                 what="the new certificate")
