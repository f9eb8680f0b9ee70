"""HTTPServer with TLS: handshake, client certificates, and handshake deadlines."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
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
from kapisup.server.tls import (
    SNICertKey,
    TLSConfigError,
    TLSOptions,
    accept_any_client_certificate,
    build_server_context,
    openssl_ciphers,
    select_sni,
    sni_contexts,
)


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


def _peer_app(environ, start_response):
    """Answers with the DER leaf the connection put in the environ (hex), or "none"."""
    der = environ["kapisup.peer_cert"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [der.hex().encode() if der else b"none"]


def test_tls_client_certificate_reaches_environ_as_der(pki, tls_server):
    srv = tls_server(_peer_app)
    raw = connect(srv.port)
    with _client_context(pki, True).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        f = sock.makefile("rb")
        der = bytes.fromhex(request(sock, f, get()).body.decode())
        cert = x509.load_der_x509_certificate(der)
        assert cert.subject == _name("alice")
        # the same connection's next request carries the same certificate
        assert bytes.fromhex(request(sock, f, get()).body.decode()) == der


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


# ---- kapisup's own contexts: client CAs judged later, SNI, versions and cipher suites ----------


def _kapisup_server(pki: Path, tls: TLSOptions, app=_peer_app, **kwargs) -> ServerThread:
    context = build_server_context(str(pki / "server.crt"), str(pki / "server.key"), tls)
    return ServerThread(app, ssl_context=context, **kwargs)


def _foreign_client(tmp_path: Path) -> ssl.SSLContext:
    """A client whose certificate no CA of the server knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path / "mallory", _cert("mallory", key, "mallory", key), key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.load_cert_chain(tmp_path / "mallory.crt", tmp_path / "mallory.key")
    return ctx


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_an_unknown_client_certificate_completes_the_handshake(pki, tmp_path, version):
    """The context asks for a certificate but never fails the handshake over it: the x509
    authenticator answers 401 instead (kube's behaviour)."""
    srv = _kapisup_server(pki, TLSOptions(client_ca_file=str(pki / "ca.crt")))
    try:
        client = _foreign_client(tmp_path)
        client.maximum_version = version
        with client.wrap_socket(connect(srv.port)) as sock:
            f = sock.makefile("rb")
            der = bytes.fromhex(request(sock, f, get()).body.decode())
            assert x509.load_der_x509_certificate(der).subject == _name("mallory")
            assert sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                      ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        with _client_context(pki, False).wrap_socket(connect(srv.port),
                                                     server_hostname="127.0.0.1") as sock:
            assert request(sock, sock.makefile("rb"), get()).body == b"none"
    finally:
        srv.close()


def test_the_verify_callback_is_installed(pki):
    context = build_server_context(str(pki / "server.crt"), str(pki / "server.key"),
                                   TLSOptions(client_ca_file=str(pki / "ca.crt")))
    assert context.verify_mode == ssl.CERT_OPTIONAL
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    plain.verify_mode = ssl.CERT_OPTIONAL
    assert accept_any_client_certificate(plain, str(pki / "ca.crt"))


def test_the_server_names_its_client_cas(pki):
    """kubectl (Go) only sends a certificate whose issuer is among the names the server sends
    (when it sends any); openssl shows them."""
    srv = _kapisup_server(pki, TLSOptions(client_ca_file=str(pki / "ca.crt")))
    try:
        out = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", "-tls1_2"],
            input=b"", capture_output=True, timeout=20, check=False).stdout.decode()
    finally:
        srv.close()
    names = out.split("Acceptable client certificate CA names", 1)[1].splitlines()[1]
    assert names.strip() == "CN = test-ca"


def _served_cn(port: int, server_name: str | None) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with ctx.wrap_socket(connect(port), server_hostname=server_name) as sock:
        der = sock.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def _named_pair(tmp_path: Path, stem: str, cn: str, dns: list[str]) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(datetime.datetime.now(datetime.UTC))
               .not_valid_after(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)))
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    _write(tmp_path / stem, builder.sign(key, hashes.SHA256()), key)
    return str(tmp_path / f"{stem}.crt"), str(tmp_path / f"{stem}.key")


def test_sni_picks_the_pair_by_name(pki, tmp_path):
    extracted = _named_pair(tmp_path, "a", "a.example", ["a.example", "shared.example"])
    explicit = _named_pair(tmp_path, "b", "b-cert", ["ignored.example"])
    wildcard = _named_pair(tmp_path, "w", "*.wild.example", [])
    tls = TLSOptions(sni_cert_keys=(
        SNICertKey(*extracted),
        SNICertKey(*explicit, ("shared.example", "B.example")),
        SNICertKey(*wildcard),
    ))
    srv = _kapisup_server(pki, tls)
    try:
        assert _served_cn(srv.port, "a.example") == "a.example"
        assert _served_cn(srv.port, "b.example") == "b-cert"  # names compare case-blind
        assert _served_cn(srv.port, "shared.example") == "b-cert"  # explicit beats extracted
        assert _served_cn(srv.port, "ignored.example") == "server"  # explicit names replace SANs
        assert _served_cn(srv.port, "x.wild.example") == "*.wild.example"
        assert _served_cn(srv.port, "y.x.wild.example") == "server"  # one label only
        assert _served_cn(srv.port, "other.example") == "server"
        assert _served_cn(srv.port, None) == "server"
    finally:
        srv.close()


def test_exact_names_beat_wildcards(tmp_path):
    exact = _named_pair(tmp_path, "e", "e", [])
    wild = _named_pair(tmp_path, "w", "w", [])
    tls = TLSOptions(sni_cert_keys=(SNICertKey(*wild, ("*.example.com",)),
                                    SNICertKey(*exact, ("api.example.com",))))
    by_name = sni_contexts(tls)
    assert select_sni(by_name, "api.example.com") is by_name["api.example.com"]
    assert select_sni(by_name, "web.example.com") is by_name["*.example.com"]
    assert select_sni(by_name, "example.com") is None


def test_min_version_tls13_refuses_a_tls12_client(pki):
    srv = _kapisup_server(pki, TLSOptions(min_version="VersionTLS13"))
    try:
        old = _client_context(pki, False)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            old.wrap_socket(connect(srv.port), server_hostname="127.0.0.1").close()
        with _client_context(pki, False).wrap_socket(connect(srv.port),
                                                     server_hostname="127.0.0.1") as sock:
            assert sock.version() == "TLSv1.3"
    finally:
        srv.close()


def test_cipher_suites_by_their_iana_names(pki):
    tls = TLSOptions(cipher_suites=("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                                    "TLS_AES_128_GCM_SHA256"))
    srv = _kapisup_server(pki, tls)
    try:
        client = _client_context(pki, False)
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        with client.wrap_socket(connect(srv.port), server_hostname="127.0.0.1") as sock:
            assert sock.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"
        only_other = _client_context(pki, False)
        only_other.maximum_version = ssl.TLSVersion.TLSv1_2
        only_other.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        with pytest.raises(ssl.SSLError):
            only_other.wrap_socket(connect(srv.port), server_hostname="127.0.0.1").close()
    finally:
        srv.close()
    assert openssl_ciphers(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                            "TLS_CHACHA20_POLY1305_SHA256"]) == "ECDHE-RSA-AES128-GCM-SHA256"
    with pytest.raises(TLSConfigError, match="unknown cipher suite 'TLS_FAKE'"):
        openssl_ciphers(["TLS_FAKE"])


def test_a_certificate_from_a_namesake_ca_still_gets_its_requests_answered(pki, tmp_path):
    """Signed by a CA named like the trusted one but with another key: OpenSSL's failed
    signature check must not poison the connection's later reads (its error queue)."""
    namesake = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path / "impostor", _cert("impostor", key, "test-ca", namesake), key)
    srv = _kapisup_server(pki, TLSOptions(client_ca_file=str(pki / "ca.crt")))
    try:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            client = _client_context(pki, False)
            client.maximum_version = version
            client.load_cert_chain(tmp_path / "impostor.crt", tmp_path / "impostor.key")
            with client.wrap_socket(connect(srv.port), server_hostname="127.0.0.1") as sock:
                f = sock.makefile("rb")
                for _ in range(2):
                    der = bytes.fromhex(request(sock, f, get()).body.decode())
                    assert x509.load_der_x509_certificate(der).subject == _name("impostor")
    finally:
        srv.close()
