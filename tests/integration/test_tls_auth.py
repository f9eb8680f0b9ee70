"""The secure port as clients meet it: the generated admin kubeconfig with kubectl and the
Python client, client certificates judged by the x509 authenticator (401, never a failed
handshake), certificates and client CAs re-read on HUP while old connections drain, and the
TLS flags on the wire."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import ssl
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.integration.server import Kapisup, run_to_exit, running, wait_for
from tests.unit.test_x509 import NOW, Issued, issue, make_ca

KUBECTL_TIMEOUT = 30


def _ready(server: Kapisup) -> dict[str, Any]:
    return server.wait_log(lambda e: e.get("event") == "ready", what="ready line")


def _kubectl(kubeconfig: str, workdir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(workdir)
    argv = ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", str(workdir / "cache"), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT,
                          env=env, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_the_generated_admin_kubeconfig_works_for_kubectl_and_the_python_client(tmp_path):
    """No credentials configured: the master makes the PKI and the kubeconfig and says where;
    the plain port is off, so everything here went over TLS with the admin certificate."""
    with running(tmp_path, "--insecure-port", "0", workers=1) as server:
        ready = _ready(server)
        assert "insecure" not in ready
        kubeconfig = ready["kubeconfig"]
        assert kubeconfig == os.path.join(server.data_dir, "admin.kubeconfig")
        assert os.path.isabs(kubeconfig)
        assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
        with socket.socket() as probe:  # --insecure-port 0: nothing listens there
            assert probe.connect_ex(("127.0.0.1", server.insecure_port)) != 0

        assert "default" in _kubectl(kubeconfig, tmp_path, "get", "ns", "-o", "name")
        _kubectl(kubeconfig, tmp_path, "create", "namespace", "tls-demo")
        _kubectl(kubeconfig, tmp_path, "-n", "tls-demo", "create", "configmap", "cm1",
                 "--from-literal=a=b")
        got = json.loads(_kubectl(kubeconfig, tmp_path, "-n", "tls-demo", "get", "configmap",
                                  "cm1", "-o", "json"))
        assert got["data"] == {"a": "b"}
        assert got["metadata"]["namespace"] == "tls-demo"

        from kubernetes import client, config

        api_client = config.new_client_from_config(config_file=kubeconfig)
        try:
            names = {ns.metadata.name for ns in client.CoreV1Api(api_client).list_namespace(
                _request_timeout=10).items}
        finally:
            api_client.close()
        assert {"default", "tls-demo"} <= names

        # Without the client certificate the request is anonymous: refused under the default
        # authorization, as 401 (anonymous off, AlwaysAllow) or 403 (anonymous, RBAC).
        ca = os.path.join(server.data_dir, "pki", "ca.crt")
        anonymous = requests.get(f"https://127.0.0.1:{server.secure_port}/api/v1/namespaces",
                                 verify=ca, timeout=10)
        assert anonymous.status_code in (401, 403)
        assert anonymous.json()["kind"] == "Status"


def test_anonymous_without_a_certificate_is_what_the_mode_makes_it(tmp_path):
    """AlwaysAllow turns anonymous off (401); the admin certificate still gets in."""
    with running(tmp_path, "--authorization-mode", "AlwaysAllow", "--insecure-port", "0",
                 workers=1) as server:
        pki = Path(server.data_dir) / "pki"
        url = f"https://127.0.0.1:{server.secure_port}/api/v1/namespaces"
        refused = requests.get(url, verify=pki / "ca.crt", timeout=10)
        assert refused.status_code == 401 and refused.json()["reason"] == "Unauthorized"
        admin = requests.get(url, verify=pki / "ca.crt", timeout=10,
                             cert=(str(pki / "admin.crt"), str(pki / "admin.key")))
        assert admin.status_code == 200 and admin.json()["kind"] == "NamespaceList"


# ---- client certificates with a CA of our own ---------------------------------------------------


def _serving(ca: Issued, tmp_path: Path, stem: str) -> tuple[str, str]:
    return issue(ca, "kapisup-test", usages=[ExtendedKeyUsageOID.SERVER_AUTH],
                 dns=("localhost",), ips=("127.0.0.1",)).write(tmp_path / stem)


def _pem(cert: Issued) -> bytes:
    return cert.cert.public_bytes(serialization.Encoding.PEM)


def _curl(port: int, ca: str, pair: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
    argv = ["curl", "-sS", "--max-time", "10", "--cacert", ca, "-w", "\n%{http_code}",
            f"https://127.0.0.1:{port}/version"]
    if pair is not None:
        argv[1:1] = ["--cert", pair[0], "--key", pair[1]]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    body, _, code = done.stdout.rpartition("\n")
    return int(code), json.loads(body)


def test_client_certificates_make_users_or_401(tmp_path):
    """AlwaysDeny names the user in its 403, which shows who the certificate made."""
    ca = make_ca("kapisup-test-ca")
    (tmp_path / "ca.crt").write_bytes(_pem(ca))
    cert, key = _serving(ca, tmp_path, "serving")
    with running(tmp_path, "--tls-cert-file", cert, "--tls-private-key-file", key,
                 "--client-ca-file", str(tmp_path / "ca.crt"),
                 "--authorization-mode", "AlwaysDeny", workers=1) as server:
        assert "kubeconfig" not in _ready(server)
        assert not os.path.exists(os.path.join(server.data_dir, "admin.kubeconfig"))
        url = f"https://127.0.0.1:{server.secure_port}/version"
        verify = str(tmp_path / "ca.crt")
        alice = issue(ca, "alice", ("devs",)).write(tmp_path / "alice")
        foreign = issue(make_ca("kapisup-test-ca"), "mallory").write(tmp_path / "mallory")
        expired = issue(ca, "old", not_before=NOW - datetime.timedelta(days=3),
                        not_after=NOW - datetime.timedelta(days=1)).write(tmp_path / "old")
        server_only = issue(ca, "srv", usages=[ExtendedKeyUsageOID.SERVER_AUTH]).write(
            tmp_path / "srv")

        denied = requests.get(url, verify=verify, cert=alice, timeout=10)
        assert denied.status_code == 403
        assert 'User "alice" cannot get path "/version"' in denied.json()["message"]
        for pair in (foreign, expired, server_only):
            refused = requests.get(url, verify=verify, cert=pair, timeout=10)
            assert refused.status_code == 401, pair
            assert refused.json()["reason"] == "Unauthorized"
        anonymous = requests.get(url, verify=verify, timeout=10)
        assert anonymous.status_code == 403
        assert 'User "system:anonymous"' in anonymous.json()["message"]

        code, body = _curl(server.secure_port, verify, alice)
        assert code == 403 and 'User "alice"' in body["message"]
        code, body = _curl(server.secure_port, verify, foreign)
        assert code == 401 and body["reason"] == "Unauthorized"

        # one keep-alive connection, several requests: the same user every time
        with requests.Session() as session:
            for _ in range(3):
                again = session.get(url, verify=verify, cert=alice, timeout=10)
                assert 'User "alice"' in again.json()["message"]


# ---- HUP: new files for new connections, old connections drained ------------------------------


def _tls_client(ca_file: str, pair: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(*pair)
    return context


def _served_der(port: int) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        return tls.getpeercert(binary_form=True)


def _read_until_clean_close(sock: ssl.SSLSocket) -> bytes:
    """Everything until the server's close_notify; a reset or a ragged EOF fails the test."""
    chunks = []
    for _ in range(10_000):  # bounded; each recv waits at most the socket timeout
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
    raise AssertionError("the server never closed the connection")


def test_hup_rereads_certificates_and_client_cas_and_drains_old_connections(tmp_path):
    first_ca, second_ca = make_ca("first-ca"), make_ca("second-ca")
    bundle = tmp_path / "client-ca.crt"
    bundle.write_bytes(_pem(first_ca))
    cert, key = _serving(first_ca, tmp_path, "serving")
    trust = tmp_path / "trust.crt"  # the client trusts both serving CAs
    trust.write_bytes(_pem(first_ca) + _pem(second_ca))
    alice = issue(first_ca, "alice").write(tmp_path / "alice")
    bob = issue(second_ca, "bob").write(tmp_path / "bob")
    with running(tmp_path, "--tls-cert-file", cert, "--tls-private-key-file", key,
                 "--client-ca-file", str(bundle), "--authorization-mode", "AlwaysAllow",
                 workers=1) as server:
        port = server.secure_port
        old_worker = set(server.workers())
        old_der = _served_der(port)
        context = _tls_client(str(trust), alice)
        idle = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                   server_hostname="localhost", suppress_ragged_eofs=False)
        watch = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                                    server_hostname="localhost", suppress_ragged_eofs=False)
        try:
            idle.sendall(b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n")
            first = idle.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 ")
            watch.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\n"
                          b"Host: localhost\r\n\r\n")
            head = watch.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 ") and b"chunked" in head.lower()

            _serving(second_ca, tmp_path, "serving")  # new pair over the old files
            bundle.write_bytes(_pem(second_ca))
            mark = server.mark()
            server.signal(signal.SIGHUP)
            server.wait_log(lambda e: e.get("event") == "reload complete", after=mark)

            new_der = _served_der(port)
            assert new_der != old_der
            url = f"https://localhost:{port}/version"
            assert requests.get(url, verify=str(trust), cert=bob, timeout=10).status_code == 200
            assert requests.get(url, verify=str(trust), cert=alice,
                                timeout=10).status_code == 401

            # The old worker drains: the watch ends with its last chunk, the idle keep-alive
            # connection is closed with close_notify; neither is reset.
            rest = _read_until_clean_close(watch)
            assert (head + rest).endswith(b"0\r\n\r\n")
            assert _read_until_clean_close(idle) == b""
            wait_for(lambda: not (set(server.workers()) & old_worker), what="old worker gone")
        finally:
            idle.close()
            watch.close()


# ---- TLS flags on the wire ----------------------------------------------------------------------


def test_sni_pairs_and_cipher_suites_on_the_wire(tmp_path):
    ca = make_ca("sni-ca")
    cert, key = _serving(ca, tmp_path, "serving")
    one = issue(ca, "one", usages=[ExtendedKeyUsageOID.SERVER_AUTH],
                dns=("one.test",)).write(tmp_path / "one")
    two = issue(ca, "two", usages=[ExtendedKeyUsageOID.SERVER_AUTH],
                dns=("ignored.test",)).write(tmp_path / "two")
    with running(tmp_path, "--tls-cert-file", cert, "--tls-private-key-file", key,
                 "--tls-sni-cert-key", f"{one[0]},{one[1]}",
                 "--tls-sni-cert-key", f"{two[0]},{two[1]}:*.two.test",
                 "--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                 workers=1) as server:
        def served(name: str | None) -> tuple[bytes, str, str]:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            with socket.create_connection(("127.0.0.1", server.secure_port), timeout=10) as raw, \
                    context.wrap_socket(raw, server_hostname=name) as tls:
                return tls.getpeercert(binary_form=True), tls.cipher()[0], tls.version()

        def der(path: str) -> bytes:
            return ssl.PEM_cert_to_DER_cert(Path(path).read_text())

        assert served("one.test")[0] == der(one[0])
        assert served("api.two.test")[0] == der(two[0])
        assert served("ignored.test")[0] == der(cert)
        default_der, cipher, version = served(None)
        assert default_der == der(cert)
        assert (cipher, version) == ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2")


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["--tls-cipher-suites", "TLS_BOGUS_SUITE"], 1, "unknown cipher suite 'TLS_BOGUS_SUITE'"),
    (["--tls-min-version", "VersionTLS10"], 2, "--tls-min-version"),
    (["--tls-sni-cert-key", "only-one-file.crt"], 2, "--tls-sni-cert-key"),
    (["--client-ca-file", "/nonexistent/ca.crt"], 1, "/nonexistent/ca.crt"),
])
def test_bad_tls_settings_stop_the_master_with_one_line(tmp_path, args, code, needle):
    exit_code, output = run_to_exit(tmp_path, *args, workers=1)
    assert exit_code == code
    errors = [line for line in output if line.startswith("kapisup: error:")]
    assert len(errors) == 1 and needle in errors[0], output
