"""x509 client-certificate authentication, kube's first authenticator.

The TLS layer accepts any client certificate and hands the leaf over as DER bytes
(`kapisup.peer_cert`); this module judges it: directly issued by one of the --client-ca-file
CAs, within its validity, clientAuth among its extended key usages when it has any, no critical
extension it does not understand. The user is the subject's CN, the groups its O values.

Verdicts are cached per certificate (the DER bytes object is shared by every request of a
keep-alive connection, so its hash is computed once), which makes a connection's later requests
a dictionary lookup and a clock comparison.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kapisup.auth.authenticator import AuthenticationError
from kapisup.auth.user import UserInfo

PEER_CERT = "kapisup.peer_cert"  # the environ key the TLS connection fills (DER bytes or None)

_CACHE_SIZE = 4096
_ACCEPTED_USAGES = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)


def load_ca_bundle(path: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle; ValueError naming the file when none can be read."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        cas = x509.load_pem_x509_certificates(data)
    except ValueError as err:
        raise ValueError(f"{path}: not a PEM bundle of certificates: {err}") from None
    return cas


class _Verdict:
    """A cached answer: the user until `not_after`, or a lasting refusal."""

    __slots__ = ("error", "not_after", "user")

    def __init__(self, user: UserInfo | None, not_after: float, error: str = ""):
        self.user = user
        self.not_after = not_after
        self.error = error


class X509Authenticator:
    """Users from verified client certificates; no certificate -> None (the next one tries)."""

    __slots__ = ("_cache", "_cas")

    def __init__(self, cas: Sequence[x509.Certificate]):
        self._cas = tuple(cas)
        self._cache: dict[bytes, _Verdict] = {}

    @classmethod
    def from_file(cls, path: str) -> X509Authenticator:
        return cls(load_ca_bundle(path))

    def authenticate(self, environ: Mapping[str, Any]) -> UserInfo | None:
        der = environ.get(PEER_CERT)
        if not der:
            return None
        now = time.time()  # a cached verdict needs only this; a datetime only to verify
        verdict = self._cache.get(der)
        if verdict is None:
            verdict = self._verify(der, datetime.datetime.fromtimestamp(now, datetime.UTC))
        if verdict.user is None:
            raise AuthenticationError(verdict.error)
        if now >= verdict.not_after:
            self._cache.pop(der, None)
            raise AuthenticationError("x509: certificate has expired")
        return verdict.user

    def _verify(self, der: bytes, now: datetime.datetime) -> _Verdict:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return self._remember(der, _Verdict(None, 0.0, "x509: malformed certificate"))
        # time first: cheap, and not cached (a certificate that is not valid yet will be)
        if now < cert.not_valid_before_utc:
            return _Verdict(None, 0.0, "x509: certificate is not yet valid")
        if now >= cert.not_valid_after_utc:
            return _Verdict(None, 0.0, "x509: certificate has expired")
        problem = _check_extensions(cert)
        if problem is None:
            problem = self._check_issuer(cert, now)
        if problem is not None:
            return self._remember(der, _Verdict(None, 0.0, problem))
        common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        name = str(common_names[0].value) if common_names else ""
        if not name:
            return self._remember(der, _Verdict(None, 0.0, "x509: the common name is empty"))
        groups = tuple(str(a.value) for a in
                       cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        user = UserInfo(name, groups=groups)
        return self._remember(der, _Verdict(user, cert.not_valid_after_utc.timestamp()))

    def _check_issuer(self, cert: x509.Certificate, now: datetime.datetime) -> str | None:
        for ca in self._cas:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if not ca.not_valid_before_utc <= now < ca.not_valid_after_utc:
                return "x509: the issuing CA certificate is outside its validity"
            return None
        return "x509: certificate signed by unknown authority"

    def _remember(self, der: bytes, verdict: _Verdict) -> _Verdict:
        cache = self._cache
        if len(cache) >= _CACHE_SIZE:
            del cache[next(iter(cache))]  # the oldest entry
        cache[der] = verdict
        return verdict


def _check_extensions(cert: x509.Certificate) -> str | None:
    for extension in cert.extensions:
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            return f"x509: unhandled critical extension {extension.oid.dotted_string}"
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not any(usage in _ACCEPTED_USAGES for usage in usages):
        return "x509: certificate specifies an incompatible key usage"
    return None
