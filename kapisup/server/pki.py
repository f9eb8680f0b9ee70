"""The PKI the master makes on first start when no credentials are configured (neither
--tls-cert-file nor --client-ca-file): a CA, a serving certificate it signs, and an admin
client certificate (kubernetes-admin in system:masters) for the generated kubeconfig.

Everything is made once into the PKI directory and reused; a file is remade only when it is
missing, no longer signed by the CA, near its end, or (the serving certificate) no longer names
what the server is reached by. The master runs this before any worker forks.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kapisup.auth.serviceaccount import SA_KEY_FILE, SA_PUB_FILE
from kapisup.server.certs import key_pem, write_atomic

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUP = "system:masters"
SERVING_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
               "kubernetes.default.svc.cluster.local")


class PKIError(Exception):
    """The PKI directory holds something that cannot be used or replaced."""


@dataclass(frozen=True)
class PKIFiles:
    """Paths of what ensure_pki made or found; admin_* are empty when no admin was asked."""

    directory: str
    ca_cert: str
    ca_key: str
    serving_cert: str
    serving_key: str
    admin_cert: str = ""
    admin_key: str = ""


def serving_names(bind_address: str) -> tuple[list[str], list[str]]:
    """(IPs, DNS names) the serving certificate must carry for this bind address."""
    ips = ["127.0.0.1"]
    if _ipv6_loopback_bindable():
        ips.append("::1")
    if bind_address not in ("0.0.0.0", "::"):
        ips.insert(0, str(ipaddress.ip_address(bind_address)))
    dns = list(SERVING_DNS)
    host = socket.gethostname().lower().rstrip(".")
    if host and _is_dns_name(host):
        dns.append(host)
    return list(dict.fromkeys(ips)), list(dict.fromkeys(dns))


def _ipv6_loopback_bindable() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def _is_dns_name(text: str) -> bool:
    return all(label and len(label) <= 63 and label.isascii()
               and label.replace("-", "").isalnum() and not label.startswith("-")
               for label in text.split("."))


def ensure_pki(directory: str, ips: list[str], dns: list[str], admin: bool) -> PKIFiles:
    """Make or reuse the CA, the serving pair and (when `admin`) the admin pair."""
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as err:
        raise PKIError(f"cannot create {directory}: {err.strerror}") from None
    now = datetime.datetime.now(datetime.UTC)
    files = PKIFiles(
        directory=directory,
        ca_cert=os.path.join(directory, "ca.crt"), ca_key=os.path.join(directory, "ca.key"),
        serving_cert=os.path.join(directory, "apiserver.crt"),
        serving_key=os.path.join(directory, "apiserver.key"),
        admin_cert=os.path.join(directory, "admin.crt") if admin else "",
        admin_key=os.path.join(directory, "admin.key") if admin else "",
    )
    ca, ca_key = _ensure_ca(files.ca_cert, files.ca_key, now)
    wanted = _general_names(ips, dns)
    serving = _load_leaf(files.serving_cert, files.serving_key, ca, now)
    if serving is None or _sans(serving) != set(wanted):
        _write_pair(files.serving_cert, files.serving_key,
                    *_leaf(ca, ca_key, now, "kube-apiserver", (), ExtendedKeyUsageOID.SERVER_AUTH,
                           wanted))
    if admin and _load_leaf(files.admin_cert, files.admin_key, ca, now) is None:
        _write_pair(files.admin_cert, files.admin_key,
                    *_leaf(ca, ca_key, now, ADMIN_USER, (ADMIN_GROUP,),
                           ExtendedKeyUsageOID.CLIENT_AUTH, []))
    return files


def _ensure_ca(cert_path: str, key_path: str,
               now: datetime.datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    have_cert, have_key = os.path.exists(cert_path), os.path.exists(key_path)
    if have_cert and have_key:
        cert, key = _read_pair(cert_path, key_path)
        if cert is None or key is None:
            raise PKIError(f"{cert_path} and {key_path} are not a certificate and its key")
        if cert.not_valid_after_utc > now + RENEW_BEFORE:
            return cert, key
    elif have_cert or have_key:
        missing = key_path if have_cert else cert_path
        raise PKIError(f"{missing} is missing; remove the other CA file to make a new CA "
                       "(and with it new certificates for every client)")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kapisup-ca@{int(time.time())}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=False, key_cert_sign=True,
            content_commitment=False, data_encipherment=False, key_agreement=False,
            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_pair(cert_path, key_path, cert, key)
    return cert, key


def _leaf(ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, now: datetime.datetime, cn: str,
          orgs: tuple[str, ...], usage: x509.ObjectIdentifier,
          sans: list[x509.GeneralName]) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in orgs]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=LEAF_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=True, key_cert_sign=False,
            content_commitment=False, data_encipherment=False, key_agreement=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _general_names(ips: list[str], dns: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.DNSName(name) for name in dns]
    return names


def _sans(cert: x509.Certificate) -> set[x509.GeneralName]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


def _read_pair(cert_path: str, key_path: str
               ) -> tuple[x509.Certificate | None, rsa.RSAPrivateKey | None]:
    """The pair, or Nones when unreadable or when the key is not the certificate's."""
    try:
        with open(cert_path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError, TypeError):
        return None, None
    if not isinstance(key, rsa.RSAPrivateKey) or key.public_key() != cert.public_key():
        return None, None
    return cert, key


def _load_leaf(cert_path: str, key_path: str, ca: x509.Certificate,
               now: datetime.datetime) -> x509.Certificate | None:
    """A leaf worth keeping: readable, matching its key, signed by `ca`, not near its end."""
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        return None
    cert, _ = _read_pair(cert_path, key_path)
    if cert is None or cert.issuer != ca.subject:
        return None
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None
    if cert.not_valid_after_utc <= now + RENEW_BEFORE:
        return None
    return cert


def _write_pair(cert_path: str, key_path: str, cert: x509.Certificate,
                key: rsa.RSAPrivateKey) -> None:
    try:
        write_atomic(key_path, key_pem(key), 0o600)
        write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as err:
        raise PKIError(f"cannot write {err.filename or cert_path}: {err.strerror}") from None


def ensure_signing_key(directory: str) -> str:
    """`<directory>/sa.key` (RSA 2048, 0600), the service-account token signing key, made once
    and reused as kubeadm's sa.key; its public half goes beside it as sa.pub for verifiers
    outside the server."""
    path = os.path.join(directory, SA_KEY_FILE)
    if os.path.exists(path):
        return path
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    write_atomic(os.path.join(directory, SA_PUB_FILE), public, 0o644)
    write_atomic(path, key_pem(key), 0o600)
    return path
