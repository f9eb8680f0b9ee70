"""The secure port's TLS contexts: built per worker after fork (and once in the master to fail
fast on a bad pair, client CA, cipher name or SNI entry before anything binds).

Client certificates are asked for but never judged here: as in kube-apiserver the x509
authenticator verifies them, so a bad certificate is a 401 Status, not a failed handshake.
Python's ssl has no verify callback, so `accept_any_client_certificate` installs one through
ctypes (see there); the leaf reaches the application as DER bytes.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID


class TLSConfigError(Exception):
    """A certificate, key, CA bundle or TLS setting cannot be put to work."""


#: kube's --tls-min-version spellings
MIN_VERSIONS = {
    "VersionTLS12": ssl.TLSVersion.TLSv1_2,
    "VersionTLS13": ssl.TLSVersion.TLSv1_3,
}

#: TLS 1.3 suites: accepted (kube lists them) but OpenSSL's set_ciphers cannot choose them,
#: so they change nothing; every TLS 1.3 suite OpenSSL offers stays on.
TLS13_SUITES = frozenset({
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
})

#: kube's (Go's) IANA names of TLS 1.0-1.2 suites -> OpenSSL's names
CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "ECDHE-RSA-RC4-SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "ECDHE-ECDSA-RC4-SHA",
}


@dataclass(frozen=True)
class SNICertKey:
    """One --tls-sni-cert-key: a pair and the names it serves (empty: the certificate's own)."""

    cert_file: str
    key_file: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class TLSOptions:
    """What hardens the secure port beyond its default pair."""

    min_version: str = "VersionTLS12"
    cipher_suites: tuple[str, ...] = ()
    client_ca_file: str = ""
    sni_cert_keys: tuple[SNICertKey, ...] = field(default=())


def openssl_ciphers(names: Iterable[str]) -> str:
    """The OpenSSL cipher string for kube's names; TLSConfigError names the first unknown one."""
    chosen: list[str] = []
    for name in names:
        if name in TLS13_SUITES:
            continue
        openssl = CIPHER_SUITES.get(name)
        if openssl is None:
            raise TLSConfigError(f"--tls-cipher-suites: unknown cipher suite {name!r}")
        if openssl not in chosen:
            chosen.append(openssl)
    return ":".join(chosen)


def build_server_context(cert_file: str, key_file: str,
                         tls: TLSOptions | None = None) -> ssl.SSLContext:
    """The default context; with SNI entries it switches to theirs by the client's name."""
    tls = tls or TLSOptions()
    context = _context(cert_file, key_file, tls)
    if tls.sni_cert_keys:
        by_name = sni_contexts(tls)
        # Set through the C type: gevent's patched SSLContext wraps the callback to hand it a
        # gevent socket, which memory-BIO connections (SSLObject) do not have.
        import _ssl

        _ssl._SSLContext.sni_callback.__set__(context, _sni_callback(by_name))  # type: ignore[attr-defined]
    return context


def _context(cert_file: str, key_file: str, tls: TLSOptions, what: str = "") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.minimum_version = MIN_VERSIONS[tls.min_version]
    except KeyError:
        raise TLSConfigError(f"--tls-min-version: unknown version {tls.min_version!r} "
                             f"(known: {', '.join(MIN_VERSIONS)})") from None
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    if tls.cipher_suites:
        ciphers = openssl_ciphers(tls.cipher_suites)
        if ciphers:
            try:
                context.set_ciphers(ciphers)
            except ssl.SSLError:
                raise TLSConfigError("--tls-cipher-suites: this OpenSSL offers none of "
                                     f"{', '.join(tls.cipher_suites)}") from None
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as err:
        for path in (cert_file, key_file):
            if not os.path.isfile(path):
                raise TLSConfigError(f"{what}cannot read {path}: no such file") from None
        raise TLSConfigError(
            f"{what}cannot load certificate {cert_file} with key {key_file}: {err}") from None
    if tls.client_ca_file:
        _ask_for_client_certificates(context, tls.client_ca_file)
    return context


def _ask_for_client_certificates(context: ssl.SSLContext, ca_file: str) -> None:
    """Request (never require) a client certificate and name the client CAs in the request."""
    try:
        context.load_verify_locations(cafile=ca_file)
    except FileNotFoundError:
        raise TLSConfigError(f"--client-ca-file: cannot read {ca_file}: no such file") from None
    except (ssl.SSLError, OSError) as err:
        raise TLSConfigError(f"--client-ca-file {ca_file}: {err}") from None
    context.verify_mode = ssl.CERT_OPTIONAL
    if not accept_any_client_certificate(context, ca_file):
        from kapisup.observability.logging import get_logger

        get_logger("kapisup.tls").warning(
            "cannot install the TLS verify callback; a client certificate the client CAs do "
            "not verify fails the handshake instead of getting 401")


# ---- the verify callback, through ctypes -------------------------------------------------------

_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


@_VERIFY_CB
def _accept(preverify_ok: int, store_ctx: int | None) -> int:
    """Accept; the x509 authenticator decides. A failed check (a signature by an unknown key)
    left an entry on the thread's OpenSSL error queue, which would make the connection's next
    SSL_read report SSL_ERROR_SSL: clear it, since the failure is forgiven."""
    if not preverify_ok and isinstance(_libssl, _LibSSL):
        _libssl.clear_errors()
    return 1


_SSL_VERIFY_PEER = 0x01


class _LibSSL:
    """The libssl `_ssl` itself links (dlsym on its handle searches its dependencies)."""

    def __init__(self) -> None:
        import _ssl

        lib = ctypes.CDLL(_ssl.__file__)
        self.set_verify = lib.SSL_CTX_set_verify
        self.set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CB]
        self.set_verify.restype = None
        self.get_verify_mode = lib.SSL_CTX_get_verify_mode
        self.get_verify_mode.argtypes = [ctypes.c_void_p]
        self.get_verify_mode.restype = ctypes.c_int
        self.get_verify_callback = lib.SSL_CTX_get_verify_callback
        self.get_verify_callback.argtypes = [ctypes.c_void_p]
        self.get_verify_callback.restype = ctypes.c_void_p
        self.get_options = lib.SSL_CTX_get_options
        self.get_options.argtypes = [ctypes.c_void_p]
        self.get_options.restype = ctypes.c_uint64
        self.load_client_ca_file = lib.SSL_load_client_CA_file
        self.load_client_ca_file.argtypes = [ctypes.c_char_p]
        self.load_client_ca_file.restype = ctypes.c_void_p
        self.set_client_ca_list = lib.SSL_CTX_set_client_CA_list
        self.set_client_ca_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.set_client_ca_list.restype = None
        self.clear_errors = lib.ERR_clear_error  # libcrypto, a dependency of libssl
        self.clear_errors.argtypes = []
        self.clear_errors.restype = None


_libssl: _LibSSL | bool | None = None


def _lib() -> _LibSSL | None:
    global _libssl
    if _libssl is None:
        try:
            _libssl = _LibSSL()
        except (OSError, AttributeError):
            _libssl = False
    return _libssl or None


def _ssl_ctx_pointer(context: ssl.SSLContext, lib: _LibSSL) -> int | None:
    """The SSL_CTX* of a context: CPython's PySSLContext keeps it right after PyObject_HEAD.

    Trusted only when OpenSSL reads back this context's verify mode and options from it.
    """
    import sys

    if sys.implementation.name != "cpython":
        return None
    if type(context).__basicsize__ <= object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p):
        return None
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        return None
    if lib.get_options(pointer) != int(context.options):
        return None
    if lib.get_verify_mode(pointer) != int(context.verify_mode):
        return None
    return pointer


def accept_any_client_certificate(context: ssl.SSLContext, ca_file: str) -> bool:
    """Let any client certificate through the handshake and send the CA names; False (and
    the context left at CERT_OPTIONAL) when this interpreter does not allow it."""
    lib = _lib()
    if lib is None:
        return False
    pointer = _ssl_ctx_pointer(context, lib)
    if pointer is None:
        return False
    lib.set_verify(pointer, _SSL_VERIFY_PEER, _accept)
    accept_address = ctypes.cast(_accept, ctypes.c_void_p).value
    if lib.get_verify_callback(pointer) != accept_address:
        return False
    names = lib.load_client_ca_file(ca_file.encode())
    if names:
        lib.set_client_ca_list(pointer, names)  # the context owns the list from now on
    return True


# ---- SNI -----------------------------------------------------------------------------------


def certificate_names(cert_file: str) -> list[str]:
    """The DNS names a certificate serves, as kube extracts them: a CN that is a DNS name (not
    an IP), then the DNS SANs."""
    try:
        with open(cert_file, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
    except (OSError, ValueError) as err:
        raise TLSConfigError(f"--tls-sni-cert-key: cannot read {cert_file}: {err}") from None
    names: list[str] = []
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        cn = str(attribute.value)
        if cn and not _is_ip(cn) and _is_dns_pattern(cn):
            names.append(cn.lower())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    names += [name.lower() for name in sans.get_values_for_type(x509.DNSName)]
    return names


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_dns_pattern(text: str) -> bool:
    labels = text.removeprefix("*.").split(".")
    return text == "*" or all(
        label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in labels)


def sni_contexts(tls: TLSOptions) -> dict[str, ssl.SSLContext]:
    """Name or `*.suffix` -> context. Explicit names beat names read from certificates; the
    first entry naming a name wins among equals (kube's rules)."""
    chosen: dict[str, tuple[int, ssl.SSLContext]] = {}
    for entry in tls.sni_cert_keys:
        context = _context(entry.cert_file, entry.key_file, tls, "--tls-sni-cert-key: ")
        explicit = bool(entry.names)
        names = [n.lower() for n in entry.names] if explicit else \
            certificate_names(entry.cert_file)
        for name in names:
            rank = 2 if explicit else 1
            held = chosen.get(name)
            if held is None or held[0] < rank:
                chosen[name] = (rank, context)
    return {name: context for name, (_, context) in chosen.items()}


def select_sni(by_name: dict[str, ssl.SSLContext], server_name: str) -> ssl.SSLContext | None:
    """The context for a requested name: exact first, then the wildcard one label up."""
    name = server_name.lower().rstrip(".")
    context = by_name.get(name)
    if context is not None:
        return context
    _, dot, parent = name.partition(".")
    if dot:
        return by_name.get("*." + parent)
    return None


def _sni_callback(by_name: dict[str, ssl.SSLContext]):  # type: ignore[no-untyped-def]
    def callback(ssl_object: ssl.SSLObject, server_name: str | None,
                 context: ssl.SSLContext) -> None:
        if server_name:
            chosen = select_sni(by_name, server_name)
            if chosen is not None:
                ssl_object.context = chosen
        return None

    return callback
