"""Service-account JWTs: signing, verification and every way a token is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kapisup.auth.authenticator import (
    AuthenticationError,
    TokenFileAuthenticator,
    UnionAuthenticator,
)
from kapisup.auth.serviceaccount import (
    CREDENTIAL_ID,
    POD_NAME,
    BoundObject,
    KeyFileError,
    ServiceAccountAuthenticator,
    TokenIssuer,
    key_id,
    load_private_key,
    load_public_keys,
    parse,
    service_account_claims,
    sign,
)
from kapisup.auth.user import UserInfo
from kapisup.server.pki import ensure_signing_key

ISSUER = "https://kubernetes.default.svc.cluster.local"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(**changes):
    base = service_account_claims(ISSUER, [ISSUER], "ns1", "builder", "uid-1", 3600, NOW)
    base.update(changes)
    return base


def verifier(key, lookup=None, audiences=(ISSUER,)):
    return ServiceAccountAuthenticator([ISSUER], [key.public_key()], audiences, lookup)


def test_claims_are_kubes(rsa_key):
    token = TokenIssuer(ISSUER, rsa_key).issue(claims())
    parsed = parse(token)
    assert parsed is not None
    assert parsed.header == {"alg": "RS256", "kid": key_id(rsa_key.public_key())}
    body = parsed.claims
    assert body["sub"] == "system:serviceaccount:ns1:builder"
    assert body["iss"] == ISSUER and body["aud"] == [ISSUER]
    assert body["exp"] - body["iat"] == 3600 and body["nbf"] == body["iat"]
    assert body["kubernetes.io"] == {"namespace": "ns1",
                                     "serviceaccount": {"name": "builder", "uid": "uid-1"}}
    assert body["jti"]


def test_key_id_is_base64url_sha256_of_der(rsa_key):
    der = rsa_key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert key_id(rsa_key.public_key()) == expected


def test_valid_token_authenticates_as_the_service_account(rsa_key):
    token = sign(claims(), rsa_key)
    user = verifier(rsa_key).authenticate_token(token, now=NOW + 10)
    assert user == UserInfo("system:serviceaccount:ns1:builder", "uid-1",
                            ("system:serviceaccounts", "system:serviceaccounts:ns1"),
                            {CREDENTIAL_ID: (f"JTI={claims_jti(token)}",)})


def claims_jti(token):
    parsed = parse(token)
    assert parsed is not None
    return parsed.claims["jti"]


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_ec_keys_sign_and_verify(curve):
    key = ec.generate_private_key(curve)
    token = sign(claims(), key)
    parsed = parse(token)
    assert parsed is not None and parsed.header["alg"].startswith("ES")
    assert verifier(key).authenticate_token(token, now=NOW) is not None
    other = ec.generate_private_key(curve)
    with pytest.raises(AuthenticationError, match="invalid signature"):
        verifier(other).authenticate_token(token, now=NOW)


def test_tampered_claims_are_refused(rsa_key):
    token = sign(claims(), rsa_key)
    header, _, signature = token.split(".")
    changed = claims()
    changed["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    changed["sub"] = "system:serviceaccount:ns1:admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="invalid signature"):
        verifier(rsa_key).authenticate_token(f"{header}.{forged_payload}.{signature}", now=NOW)


def test_alg_none_is_refused(rsa_key):
    head = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="invalid signature"):
        verifier(rsa_key).authenticate_token(f"{head}.{body}.", now=NOW)


def test_wrong_key_is_refused(rsa_key, other_key):
    token = sign(claims(), other_key)
    with pytest.raises(AuthenticationError, match="invalid signature"):
        verifier(rsa_key).authenticate_token(token, now=NOW)


def test_any_configured_key_verifies(rsa_key, other_key):
    both = ServiceAccountAuthenticator([ISSUER], [rsa_key.public_key(), other_key.public_key()],
                                       [ISSUER])
    assert both.authenticate_token(sign(claims(), other_key), now=NOW) is not None


def test_expired_and_not_yet_valid_tokens_are_refused(rsa_key):
    token = sign(claims(), rsa_key)
    with pytest.raises(AuthenticationError, match="expired"):
        verifier(rsa_key).authenticate_token(token, now=NOW + 3600 + 61)
    assert verifier(rsa_key).authenticate_token(token, now=NOW + 3600 + 30) is not None  # leeway
    with pytest.raises(AuthenticationError, match="not valid yet"):
        verifier(rsa_key).authenticate_token(token, now=NOW - 120)


def test_wrong_issuer_or_not_a_jwt_is_left_to_others(rsa_key):
    other_issuer = sign(claims(iss="https://elsewhere.example"), rsa_key)
    assert verifier(rsa_key).authenticate_token(other_issuer, now=NOW) is None
    for token in ("s3cret", "a.b.c", "a.b", "e30.e30.e30"):
        assert verifier(rsa_key).authenticate_token(token, now=NOW) is None


def test_audience_must_intersect(rsa_key):
    token = sign(claims(aud=["vault"]), rsa_key)
    with pytest.raises(AuthenticationError, match="audiences"):
        verifier(rsa_key).authenticate_token(token, now=NOW)
    assert verifier(rsa_key, audiences=("vault", ISSUER)).authenticate_token(
        token, now=NOW) is not None
    single = sign(claims(aud=ISSUER), rsa_key)  # a single string is allowed by RFC 7519
    assert verifier(rsa_key).authenticate_token(single, now=NOW) is not None


def test_sub_must_name_the_private_claims(rsa_key):
    token = sign(claims(sub="system:serviceaccount:ns1:admin"), rsa_key)
    with pytest.raises(AuthenticationError, match="sub"):
        verifier(rsa_key).authenticate_token(token, now=NOW)


def test_lookup_revokes_deleted_or_recreated_accounts(rsa_key):
    live: dict[tuple[str, str, str], str] = {("ServiceAccount", "ns1", "builder"): "uid-1"}
    calls = []

    def lookup(kind, namespace, name):
        calls.append((kind, namespace, name))
        return live.get((kind, namespace, name))

    auth = ServiceAccountAuthenticator([ISSUER], [rsa_key.public_key()], [ISSUER], lookup,
                                       lookup_ttl=0.0)
    token = sign(claims(), rsa_key)
    assert auth.authenticate_token(token, now=NOW) is not None
    live[("ServiceAccount", "ns1", "builder")] = "uid-2"
    with pytest.raises(AuthenticationError, match="recreated"):
        auth.authenticate_token(token, now=NOW)
    del live[("ServiceAccount", "ns1", "builder")]
    with pytest.raises(AuthenticationError, match="no longer exists"):
        auth.authenticate_token(token, now=NOW)
    assert calls == [("ServiceAccount", "ns1", "builder")] * 3


def test_lookup_answers_are_cached_briefly(rsa_key):
    calls = []

    def lookup(kind, namespace, name):
        calls.append(kind)
        return "uid-1"

    auth = ServiceAccountAuthenticator([ISSUER], [rsa_key.public_key()], [ISSUER], lookup,
                                       lookup_ttl=60.0)
    token = sign(claims(), rsa_key)
    for _ in range(5):
        assert auth.authenticate_token(token, now=NOW) is not None
    assert calls == ["ServiceAccount"]


def test_lookup_failure_is_a_401_not_a_crash(rsa_key):
    def lookup(kind, namespace, name):
        raise RuntimeError("storage down")

    auth = ServiceAccountAuthenticator([ISSUER], [rsa_key.public_key()], [ISSUER], lookup)
    with pytest.raises(AuthenticationError, match="cannot look up"):
        auth.authenticate_token(sign(claims(), rsa_key), now=NOW)


def test_pod_bound_tokens_check_the_pod_and_carry_its_name(rsa_key):
    live = {("ServiceAccount", "ns1", "builder"): "uid-1", ("Pod", "ns1", "web"): "pod-uid"}
    auth = ServiceAccountAuthenticator([ISSUER], [rsa_key.public_key()], [ISSUER],
                                       lambda *key: live.get(key), lookup_ttl=0.0)
    bound = service_account_claims(ISSUER, [ISSUER], "ns1", "builder", "uid-1", 3600, NOW,
                                   BoundObject("Pod", "web", "pod-uid"))
    token = sign(bound, rsa_key)
    user = auth.authenticate_token(token, now=NOW)
    assert user is not None and user.extra[POD_NAME] == ("web",)
    del live[("Pod", "ns1", "web")]
    with pytest.raises(AuthenticationError, match="Pod ns1/web no longer exists"):
        auth.authenticate_token(token, now=NOW)


def test_errors_never_contain_the_token(rsa_key, other_key):
    token = sign(claims(), other_key)
    for now in (NOW, NOW + 10_000):
        try:
            verifier(rsa_key).authenticate_token(token, now=now)
        except AuthenticationError as err:
            assert token not in str(err)
            assert token.split(".")[2] not in str(err)
        else:
            pytest.fail("a token signed by another key was accepted")


def test_union_order_token_file_then_service_accounts(rsa_key, other_key):
    sa = verifier(rsa_key)
    union = UnionAuthenticator([TokenFileAuthenticator({"static": UserInfo("alice")}), sa],
                               anonymous=None)
    token = sign(claims(exp=int(time.time()) + 600, nbf=int(time.time()),
                        iat=int(time.time())), rsa_key)
    user = union.authenticate({"HTTP_AUTHORIZATION": f"Bearer {token}"})
    assert user is not None and user.name == "system:serviceaccount:ns1:builder"
    assert "system:authenticated" in user.groups
    assert union.authenticate({"HTTP_AUTHORIZATION": "Bearer static"}).name == "alice"
    with pytest.raises(AuthenticationError):
        union.authenticate({"HTTP_AUTHORIZATION": f"Bearer {sign(claims(), other_key)}"})


def test_generated_key_is_private_reused_and_loadable(tmp_path):
    directory = str(tmp_path / "pki")
    path = ensure_signing_key(directory)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = (tmp_path / "pki" / "sa.key").read_bytes()
    assert ensure_signing_key(directory) == path
    assert (tmp_path / "pki" / "sa.key").read_bytes() == first
    key = load_private_key(path)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert [k.public_numbers() for k in load_public_keys(str(tmp_path / "pki" / "sa.pub"))] \
        == [key.public_key().public_numbers()]
    assert [name for name in os.listdir(directory) if name.startswith(".tmp")] == []


def test_key_files_with_several_blocks_and_bad_files(tmp_path, rsa_key, other_key):
    bundle = tmp_path / "keys.pem"
    bundle.write_bytes(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        + other_key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    keys = load_public_keys(str(bundle))
    assert [key_id(k) for k in keys] == [key_id(rsa_key.public_key()),
                                         key_id(other_key.public_key())]
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    with pytest.raises(KeyFileError, match="no PEM"):
        load_public_keys(str(empty))
    with pytest.raises(KeyFileError, match="no PEM private key"):
        load_private_key(str(empty))
    with pytest.raises(KeyFileError):
        load_public_keys(str(tmp_path / "absent.pem"))
