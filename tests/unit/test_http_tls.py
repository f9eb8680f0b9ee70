"""HTTPServer with TLS: handshake, client certificates, and handshake deadlines."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_http_server import (
    ServerThread,
    closed_by_peer,
    connect,
    echo_app,
    get,
    read_response,
    request,
    text_app,
)

from kapisup.http.limits import HTTPLimits


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    _write(d / "ca", _cert("test-ca", ca_key, "test-ca", ca_key, ca=True), ca_key)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    _write(d / "server", _cert("server", srv_key, "test-ca", ca_key, server=True), srv_key)
    cli_key = ec.generate_private_key(ec.SECP256R1())
    _write(d / "client", _cert("alice", cli_key, "test-ca", ca_key), cli_key)
    return d


def _server_context(pki: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(pki / "ca.crt")
    return ctx


def _client_context(pki: Path, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if with_cert:
        ctx.load_cert_chain(pki / "client.crt", pki / "client.key")
    return ctx


@pytest.fixture
def tls_server(pki: Path):
    servers: list[ServerThread] = []

    def make(app, **kwargs):
        srv = ServerThread(app, ssl_context=_server_context(pki), **kwargs)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.close()


def test_tls_keepalive_requests_and_environ(pki, tls_server):
    srv = tls_server(echo_app)
    raw = connect(srv.port)
    with _client_context(pki, False).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        f = sock.makefile("rb")
        env = request(sock, f, get("/secure")).json()
        assert env["wsgi.url_scheme"] == "https"
        assert env["PATH_INFO"] == "/secure"
        assert env["peer_cert"] is None
        post = b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
        assert request(sock, f, post).json()["body"] == "xyz"


def test_tls_client_certificate_reaches_environ(pki, tls_server):
    srv = tls_server(echo_app)
    raw = connect(srv.port)
    with _client_context(pki, True).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        f = sock.makefile("rb")
        cert = request(sock, f, get()).json()["peer_cert"]
        assert cert is not None
        assert tuple(tuple(tuple(x) for x in rdn) for rdn in cert["subject"]) == (
            (("commonName", "alice"),),
        )


def test_tls_streaming_and_large_body(pki, tls_server):
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"a" * 100_000
        yield b"b" * 100_000

    srv = tls_server(app)
    raw = connect(srv.port)
    with _client_context(pki, False).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        f = sock.makefile("rb")
        resp = request(sock, f, get())
        assert resp.body == b"a" * 100_000 + b"b" * 100_000


def test_stalled_tls_handshake_is_closed(pki, tls_server):
    srv = tls_server(text_app(), limits=HTTPLimits(tls_handshake_timeout=0.3))
    with connect(srv.port) as sock:  # never sends a ClientHello
        assert closed_by_peer(sock)
    srv.wait_for(lambda: srv.server.connection_count == 0, "the connection to be released")
    assert "tls handshake timed out" in srv.log.levels("debug")
    assert srv.log.levels("error") == []


def test_failed_tls_handshake_is_logged_at_debug_without_traceback(pki, tls_server):
    srv = tls_server(text_app())
    with connect(srv.port) as sock:
        sock.sendall(get())  # plain HTTP to the TLS port
        assert closed_by_peer(sock)
    srv.wait_for(
        lambda: "tls handshake failed" in srv.log.levels("debug"), "the handshake failure log"
    )
    assert srv.log.levels("error") == []
    assert all("exc_info" not in kw for _, _, kw in srv.log.records)
    # and the server still serves real TLS clients
    raw = connect(srv.port)
    with _client_context(pki, False).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        f = tls.makefile("rb")
        assert read_response_after(tls, f).status == 200


def read_response_after(sock: socket.socket, f) -> object:
    sock.sendall(get())
    return read_response(f)
