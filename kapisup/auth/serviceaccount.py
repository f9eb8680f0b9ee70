"""Service-account tokens: kube's bound JWTs, signed and verified with `cryptography` alone.

The TokenRequest API issues them (`TokenIssuer`); `ServiceAccountAuthenticator` turns one back
into the service account's identity. A token stays valid only while the service account (and the
Pod or Secret it is bound to) still exists with the same uid, which the authenticator asks an
injected lookup: auth knows no storage, so the control plane plugs the lookup in per worker.

Nothing here ever puts a token, or part of one, into an error message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from kapisup.auth.authenticator import AuthenticationError, Environ, bearer_token
from kapisup.auth.user import SERVICE_ACCOUNT_PREFIX, UserInfo, service_account_groups

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
PRIVATE_CLAIM = "kubernetes.io"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
POD_NAME = "authentication.kubernetes.io/pod-name"
POD_UID = "authentication.kubernetes.io/pod-uid"
#: clock skew tolerated on exp and nbf (go-jose's default leeway)
LEEWAY = 60.0
#: how long a lookup answer is reused: a deleted service account's tokens stop within this
LOOKUP_TTL = 1.0
_LOOKUP_CACHE_MAX = 4096
#: where the master leaves the verifier and the signer in Config.extra for the workers
AUTHENTICATOR_KEY = "serviceaccount.authenticator"
ISSUER_KEY = "serviceaccount.issuer"
SA_KEY_FILE = "sa.key"
SA_PUB_FILE = "sa.pub"

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: (kind, namespace, name) -> uid of the live object, or None when it is gone or being deleted.
#: kind is "ServiceAccount", "Pod" or "Secret".
Lookup = Callable[[str, str, str], str | None]

_EC_ALGORITHMS = {"secp256r1": ("ES256", hashes.SHA256, 32),
                  "secp384r1": ("ES384", hashes.SHA384, 48),
                  "secp521r1": ("ES512", hashes.SHA512, 66)}


class KeyFileError(ValueError):
    """A key file that cannot be used (named in the message, never its content)."""


# --- keys -------------------------------------------------------------------------------------


def key_id(public_key: PublicKey) -> str:
    """kube's `kid`: unpadded base64url of the SHA-256 of the key's DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def algorithm_of(key: PublicKey | PrivateKey) -> str:
    """RS256 for RSA, ES256/384/512 by the curve of an EC key."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        found = _EC_ALGORITHMS.get(key.curve.name)
        if found is not None:
            return found[0]
        raise KeyFileError(f"unsupported elliptic curve {key.curve.name}")
    raise KeyFileError(f"unsupported key type {type(key).__name__}")


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(label, whole block) of every PEM block in a file."""
    blocks: list[tuple[str, bytes]] = []
    rest = data
    while True:
        start = rest.find(b"-----BEGIN ")
        if start < 0:
            return blocks
        label_end = rest.find(b"-----", start + 11)
        if label_end < 0:
            return blocks
        label = rest[start + 11:label_end].decode("ascii", "replace")
        marker = b"-----END " + label.encode() + b"-----"
        end = rest.find(marker, label_end)
        if end < 0:
            return blocks
        end += len(marker)
        blocks.append((label, rest[start:end] + b"\n"))
        rest = rest[end:]


def load_public_keys(path: str) -> list[PublicKey]:
    """Every usable key in a PEM file: public keys, certificates' keys, private keys' public
    halves (kube's --service-account-key-file accepts all of them)."""
    from cryptography import x509

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise KeyFileError(f"{path}: {err.strerror}") from None
    keys: list[PublicKey] = []
    for label, block in _pem_blocks(data):
        try:
            if label == "CERTIFICATE":
                key: Any = x509.load_pem_x509_certificate(block).public_key()
            elif "PRIVATE KEY" in label:
                key = serialization.load_pem_private_key(block, password=None).public_key()
            elif "PUBLIC KEY" in label:
                key = serialization.load_pem_public_key(block)
            else:
                continue
        except (ValueError, TypeError) as err:
            raise KeyFileError(f"{path}: cannot read the {label} block: {err}") from None
        algorithm_of(key)  # refuses what it cannot verify
        keys.append(key)
    if not keys:
        raise KeyFileError(f"{path}: no PEM public key, private key or certificate found")
    return keys


def load_private_key(path: str) -> PrivateKey:
    """The first private key of a PEM file (RSA or EC)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise KeyFileError(f"{path}: {err.strerror}") from None
    for label, block in _pem_blocks(data):
        if "PRIVATE KEY" not in label:
            continue
        try:
            key = serialization.load_pem_private_key(block, password=None)
        except (ValueError, TypeError) as err:
            raise KeyFileError(f"{path}: cannot read the {label} block: {err}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyFileError(f"{path}: unsupported key type {type(key).__name__}")
        algorithm_of(key)
        return key
    raise KeyFileError(f"{path}: no PEM private key found")


# --- JWS compact serialization ------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def sign(claims: Mapping[str, Any], key: PrivateKey, kid: str | None = None) -> str:
    """A compact JWS of `claims`: header {alg, kid}, as go-jose writes kube's tokens."""
    alg = algorithm_of(key)
    header = {"alg": alg, "kid": kid if kid is not None else key_id(key.public_key())}
    signing_input = (_b64(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     _b64(json.dumps(dict(claims), separators=(",", ":")).encode()))
    data = signing_input.encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        _, hash_type, size = _EC_ALGORITHMS[key.curve.name]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_type())))
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input + "." + _b64(signature)


@dataclass(frozen=True, slots=True)
class ParsedToken:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse(token: str) -> ParsedToken | None:
    """The token's parts when it is shaped like a JWS with JSON header and claims, else None.
    Nothing is verified here."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        # an empty signature (alg "none") still parses: it is then refused, not passed on
        signature = _unb64(parts[2]) if parts[2] else b""
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or \
            not isinstance(header.get("alg"), str):
        return None
    return ParsedToken(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def verify_signature(parsed: ParsedToken, key: PublicKey) -> bool:
    """Whether `key` made the signature with the algorithm the header names."""
    alg = parsed.header.get("alg")
    try:
        if algorithm_of(key) != alg:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(parsed.signature, parsed.signing_input, padding.PKCS1v15(),
                       hashes.SHA256())
            return True
        _, hash_type, size = _EC_ALGORITHMS[key.curve.name]
        if len(parsed.signature) != 2 * size:
            return False
        r = int.from_bytes(parsed.signature[:size], "big")
        s = int.from_bytes(parsed.signature[size:], "big")
        key.verify(encode_dss_signature(r, s), parsed.signing_input, ec.ECDSA(hash_type()))
        return True
    except (InvalidSignature, KeyFileError, ValueError):
        return False


# --- issuing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoundObject:
    """The Pod or Secret a token is bound to (kube's BoundObjectReference, uid resolved)."""

    kind: str  # "Pod" or "Secret"
    name: str
    uid: str


def service_account_claims(issuer: str, audiences: Sequence[str], namespace: str, name: str,
                           uid: str, expiration_seconds: int, now: float | None = None,
                           bound: BoundObject | None = None) -> dict[str, Any]:
    """kube's claims of a bound service-account token."""
    issued = int(now if now is not None else time.time())
    private: dict[str, Any] = {"namespace": namespace,
                               "serviceaccount": {"name": name, "uid": uid}}
    if bound is not None:
        private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
    return {
        "aud": list(audiences),
        "exp": issued + int(expiration_seconds),
        "iat": issued,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        PRIVATE_CLAIM: private,
        "nbf": issued,
        "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
    }


class TokenIssuer:
    """Signs service-account tokens with the --service-account-signing-key-file key."""

    __slots__ = ("_key", "_kid", "issuer")

    def __init__(self, issuer: str, key: PrivateKey):
        self.issuer = issuer
        self._key = key
        self._kid = key_id(key.public_key())

    @classmethod
    def from_file(cls, issuer: str, path: str) -> TokenIssuer:
        return cls(issuer, load_private_key(path))

    @property
    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def issue(self, claims: Mapping[str, Any]) -> str:
        return sign(claims, self._key, self._kid)


# --- authenticating -----------------------------------------------------------------------------


class _LookupCache:
    """Lookup answers reused for at most LOOKUP_TTL seconds (positive and negative alike)."""

    __slots__ = ("_entries", "_ttl")

    def __init__(self, ttl: float):
        self._ttl = ttl
        self._entries: dict[tuple[str, str, str], tuple[float, str | None]] = {}

    def get(self, lookup: Lookup, kind: str, namespace: str, name: str) -> str | None:
        key = (kind, namespace, name)
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and now - found[0] < self._ttl:
            return found[1]
        uid = lookup(kind, namespace, name)
        if len(self._entries) >= _LOOKUP_CACHE_MAX:
            self._entries.clear()
        self._entries[key] = (now, uid)
        return uid


class ServiceAccountAuthenticator:
    """Bearer JWTs of our issuer(s) → system:serviceaccount:<ns>:<name>.

    A token that is not a JWT, or names another issuer, is not ours (None: let the next
    authenticator try); one of ours that fails any check is a 401.
    """

    __slots__ = ("_audiences", "_cache", "_issuers", "_keys", "lookup")

    def __init__(self, issuers: Iterable[str], keys: Iterable[PublicKey],
                 audiences: Iterable[str], lookup: Lookup | None = None,
                 lookup_ttl: float = LOOKUP_TTL):
        self._issuers = frozenset(issuers)
        self._keys = tuple(keys)
        self._audiences = frozenset(audiences)
        #: set by the control plane in each worker; None trusts the token alone (no revocation)
        self.lookup = lookup
        self._cache = _LookupCache(lookup_ttl)

    @property
    def audiences(self) -> list[str]:
        """The audiences this server accepts (--api-audiences, else the first issuer): also
        the default audience of the tokens it issues."""
        return sorted(self._audiences)

    def authenticate(self, environ: Environ) -> UserInfo | None:
        token = bearer_token(environ)
        if token is None:
            return None
        return self.authenticate_token(token)

    def authenticate_token(self, token: str, audiences: Iterable[str] | None = None,
                           now: float | None = None) -> UserInfo | None:
        parsed = parse(token)
        if parsed is None or parsed.claims.get("iss") not in self._issuers:
            return None
        if not any(verify_signature(parsed, key) for key in self._keys):
            raise AuthenticationError("service account token: invalid signature")
        claims = parsed.claims
        current = time.time() if now is None else now
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not _number(exp):
            raise AuthenticationError("service account token: no expiration")
        if current > exp + LEEWAY:
            raise AuthenticationError("service account token has expired")
        if nbf is not None and (not _number(nbf) or current < nbf - LEEWAY):
            raise AuthenticationError("service account token is not valid yet")
        wanted = self._audiences if audiences is None else frozenset(audiences)
        aud = claims.get("aud")
        if isinstance(aud, str):
            token_audiences = {aud}
        elif isinstance(aud, list):
            token_audiences = {a for a in aud if isinstance(a, str)}
        else:
            token_audiences = set()
        if not token_audiences & wanted:
            raise AuthenticationError("service account token: the audiences of the token are "
                                      "not accepted by this server")
        return self._user(claims)

    def _user(self, claims: Mapping[str, Any]) -> UserInfo:
        private = claims.get(PRIVATE_CLAIM)
        sub = claims.get("sub")
        if not isinstance(private, dict) or not isinstance(sub, str):
            raise AuthenticationError("service account token: missing kubernetes.io claims")
        namespace = private.get("namespace")
        account = private.get("serviceaccount")
        if not isinstance(namespace, str) or not isinstance(account, dict):
            raise AuthenticationError("service account token: missing kubernetes.io claims")
        name, uid = account.get("name"), account.get("uid")
        if not isinstance(name, str) or not isinstance(uid, str) or not namespace or not name:
            raise AuthenticationError("service account token: missing service account claims")
        if sub != f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}":
            raise AuthenticationError("service account token: sub does not name the service "
                                      "account")
        extra: dict[str, tuple[str, ...]] = {}
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID] = (f"JTI={jti}",)
        self._check_live("ServiceAccount", namespace, name, uid)
        for kind in ("Pod", "Secret"):
            bound = private.get(kind.lower())
            if bound is None:
                continue
            if not isinstance(bound, dict) or not isinstance(bound.get("name"), str) or \
                    not isinstance(bound.get("uid"), str):
                raise AuthenticationError(f"service account token: malformed {kind} claim")
            self._check_live(kind, namespace, bound["name"], bound["uid"])
            if kind == "Pod":
                extra[POD_NAME] = (bound["name"],)
                extra[POD_UID] = (bound["uid"],)
        return UserInfo(sub, uid, service_account_groups(namespace), extra)

    def _check_live(self, kind: str, namespace: str, name: str, uid: str) -> None:
        """kube's bound-token validation: the object still exists with the token's uid."""
        lookup = self.lookup
        if lookup is None:
            return
        try:
            live = self._cache.get(lookup, kind, namespace, name)
        except Exception as err:
            raise AuthenticationError(f"service account token: cannot look up {kind} "
                                      f"{namespace}/{name}: {err}") from None
        if live is None:
            raise AuthenticationError(f"service account token has been invalidated: {kind} "
                                      f"{namespace}/{name} no longer exists")
        if live != uid:
            raise AuthenticationError(f"service account token has been invalidated: {kind} "
                                      f"{namespace}/{name} was recreated (uid differs)")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
