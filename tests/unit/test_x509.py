"""The x509 authenticator: which client certificates make a user, and which make a 401.

The certificate helpers here are also used by tests/integration/test_tls_auth.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from kapisup.auth.authenticator import (
    AuthenticationError,
    TokenFileAuthenticator,
    UnionAuthenticator,
)
from kapisup.auth.user import ANONYMOUS_USER, AUTHENTICATED, UserInfo
from kapisup.auth.x509 import PEER_CERT, X509Authenticator, load_ca_bundle

NOW = datetime.datetime.now(datetime.UTC)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def write(self, stem: Path) -> tuple[str, str]:
        """(cert path, key path) as PEM files next to `stem`."""
        cert, key = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(self.key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return str(cert), str(key)


def make_ca(cn: str = "test-ca") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def issue(ca: Issued, cn: str, orgs: tuple[str, ...] = (), *,
          usages: list[ObjectIdentifier] | None = None,
          not_before: datetime.datetime | None = None,
          not_after: datetime.datetime | None = None,
          dns: tuple[str, ...] = (), ips: tuple[str, ...] = (),
          critical_unknown: bool = False) -> Issued:
    """A leaf signed by `ca`; `usages=None` means clientAuth, `[]` no EKU extension at all."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    if cn:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = (x509.CertificateBuilder().subject_name(x509.Name(attributes))
               .issuer_name(ca.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(hours=1))
               .not_valid_after(not_after or NOW + datetime.timedelta(days=1)))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if usages is None else usages
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if critical_unknown:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"),
            critical=True)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca()


@pytest.fixture(scope="module")
def authenticator(ca: Issued) -> X509Authenticator:
    return X509Authenticator([make_ca("another-ca").cert, ca.cert])


def _env(der: bytes | None) -> dict:
    return {PEER_CERT: der}


def test_a_good_certificate_is_its_cn_in_its_organizations(authenticator, ca):
    cert = issue(ca, "alice", ("devs", "ops"))
    assert authenticator.authenticate(_env(cert.der)) == UserInfo("alice",
                                                                  groups=("devs", "ops"))


def test_no_certificate_lets_the_next_authenticator_try(authenticator):
    assert authenticator.authenticate(_env(None)) is None
    assert authenticator.authenticate({}) is None


@pytest.mark.parametrize(("make", "reason"), [
    (lambda ca: issue(make_ca("test-ca"), "mallory"), "unknown authority"),  # same name, other key
    (lambda ca: issue(make_ca("foreign"), "mallory"), "unknown authority"),
    (lambda ca: issue(ca, "late", not_after=NOW - datetime.timedelta(minutes=1),
                      not_before=NOW - datetime.timedelta(days=2)), "expired"),
    (lambda ca: issue(ca, "early", not_before=NOW + datetime.timedelta(days=1),
                      not_after=NOW + datetime.timedelta(days=2)), "not yet valid"),
    (lambda ca: issue(ca, "server", usages=[ExtendedKeyUsageOID.SERVER_AUTH]), "key usage"),
    (lambda ca: issue(ca, ""), "common name is empty"),
    (lambda ca: issue(ca, "odd", critical_unknown=True), "critical extension"),
])
def test_bad_certificates_are_authentication_errors(authenticator, ca, make, reason):
    cert = make(ca)
    with pytest.raises(AuthenticationError, match=reason):
        authenticator.authenticate(_env(cert.der))


def test_no_extended_key_usage_or_any_usage_is_accepted(authenticator, ca):
    assert authenticator.authenticate(_env(issue(ca, "bob", usages=[]).der)).name == "bob"
    any_usage = issue(ca, "carol", usages=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    assert authenticator.authenticate(_env(any_usage.der)).name == "carol"


def test_garbage_is_an_error_not_a_crash(authenticator):
    with pytest.raises(AuthenticationError, match="malformed"):
        authenticator.authenticate(_env(b"\x30\x03\x02\x01\x00"))


def test_a_verdict_is_reused_for_the_same_certificate(ca):
    authenticator = X509Authenticator([ca.cert])
    der = issue(ca, "alice").der
    first = authenticator.authenticate(_env(der))
    assert authenticator.authenticate(_env(der)) is first  # the cached UserInfo itself
    bad = issue(make_ca("foreign"), "mallory").der
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            authenticator.authenticate(_env(bad))
    assert len(authenticator._cache) == 2


def test_in_the_union_a_bad_certificate_yields_to_a_good_token(ca):
    x509_auth = X509Authenticator([ca.cert])
    tokens = TokenFileAuthenticator({"t0ken": UserInfo("tom", "1")})
    union = UnionAuthenticator([x509_auth, tokens], anonymous=True)
    bad = issue(make_ca("foreign"), "mallory").der
    env = {PEER_CERT: bad, "HTTP_AUTHORIZATION": "Bearer t0ken"}
    assert union.authenticate(env).name == "tom"
    with pytest.raises(AuthenticationError):  # 401 even though anonymous is on
        union.authenticate({PEER_CERT: bad})
    assert union.authenticate({PEER_CERT: None}) == ANONYMOUS_USER
    good = union.authenticate({PEER_CERT: issue(ca, "alice", ("devs",)).der})
    assert good.groups == ("devs", AUTHENTICATED)


def test_ca_bundle_reads_every_certificate(tmp_path):
    first, second = make_ca("one"), make_ca("two")
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(b"".join(c.cert.public_bytes(serialization.Encoding.PEM)
                                for c in (first, second)))
    assert [c.subject for c in load_ca_bundle(str(bundle))] == [first.cert.subject,
                                                                 second.cert.subject]
    (tmp_path / "junk.crt").write_text("not a certificate")
    with pytest.raises(ValueError, match=r"junk\.crt"):
        load_ca_bundle(str(tmp_path / "junk.crt"))
