"""The PKI made on first start, the admin kubeconfig, and how the master wires them in."""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kapisup.cmd.apiserver import ConfigError, build_master_config
from kapisup.options import load_options
from kapisup.server.kubeconfig import server_url, write_admin_kubeconfig
from kapisup.server.pki import PKIError, ensure_pki, serving_names

IPS = ["127.0.0.1"]
DNS = ["localhost", "kubernetes"]


def _cert(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_start_makes_a_ca_a_serving_pair_and_an_admin_pair(tmp_path):
    files = ensure_pki(str(tmp_path / "pki"), IPS, DNS, admin=True)
    ca, serving, admin = _cert(files.ca_cert), _cert(files.serving_cert), _cert(files.admin_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    serving.verify_directly_issued_by(ca)
    admin.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == DNS
    assert list(serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "kubernetes-admin"
    assert [a.value for a in admin.subject.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME)] == ["system:masters"]
    assert list(admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    for key in (files.ca_key, files.serving_key, files.admin_key):
        assert _mode(key) == 0o600
    assert not [name for name in os.listdir(files.directory) if ".tmp." in name]


def test_a_restart_reuses_everything(tmp_path):
    first = ensure_pki(str(tmp_path), IPS, DNS, admin=True)
    before = {p: Path(p).read_bytes() for p in (first.ca_cert, first.ca_key, first.serving_cert,
                                                first.serving_key, first.admin_cert)}
    ensure_pki(str(tmp_path), IPS, DNS, admin=True)
    assert {p: Path(p).read_bytes() for p in before} == before


def test_new_names_remake_only_the_serving_certificate(tmp_path):
    first = ensure_pki(str(tmp_path), IPS, DNS, admin=True)
    ca, admin = Path(first.ca_cert).read_bytes(), Path(first.admin_cert).read_bytes()
    old_serving = Path(first.serving_cert).read_bytes()
    ensure_pki(str(tmp_path), ["10.1.2.3", *IPS], DNS, admin=True)
    assert Path(first.ca_cert).read_bytes() == ca
    assert Path(first.admin_cert).read_bytes() == admin
    assert Path(first.serving_cert).read_bytes() != old_serving
    sans = _cert(first.serving_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in sans.get_values_for_type(x509.IPAddress)


def test_a_new_ca_remakes_the_certificates_it_signed(tmp_path):
    first = ensure_pki(str(tmp_path), IPS, DNS, admin=True)
    os.unlink(first.ca_cert)
    os.unlink(first.ca_key)
    ensure_pki(str(tmp_path), IPS, DNS, admin=True)
    ca = _cert(first.ca_cert)
    _cert(first.serving_cert).verify_directly_issued_by(ca)
    _cert(first.admin_cert).verify_directly_issued_by(ca)


def test_a_ca_certificate_without_its_key_is_refused(tmp_path):
    first = ensure_pki(str(tmp_path), IPS, DNS, admin=False)
    assert first.admin_cert == "" and not (tmp_path / "admin.crt").exists()
    os.unlink(first.ca_key)
    with pytest.raises(PKIError, match=r"ca\.key is missing"):
        ensure_pki(str(tmp_path), IPS, DNS, admin=False)


def test_serving_names_cover_loopback_and_the_cluster_names():
    ips, dns = serving_names("0.0.0.0")
    assert ips[0] == "127.0.0.1" and "0.0.0.0" not in ips
    assert {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"} <= set(dns)
    ips, _ = serving_names("192.0.2.7")
    assert ips[:2] == ["192.0.2.7", "127.0.0.1"]


def test_kubeconfig_embeds_everything_and_is_private(tmp_path):
    files = ensure_pki(str(tmp_path / "pki"), IPS, DNS, admin=True)
    path = str(tmp_path / "admin.kubeconfig")
    assert write_admin_kubeconfig(path, "https://127.0.0.1:6443", files.ca_cert,
                                  files.admin_cert, files.admin_key)
    assert _mode(path) == 0o600
    config = yaml.safe_load(Path(path).read_text())
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert "insecure-skip-tls-verify" not in cluster
    assert base64.b64decode(cluster["certificate-authority-data"]) == \
        Path(files.ca_cert).read_bytes()
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == Path(files.admin_cert).read_bytes()
    assert base64.b64decode(user["client-key-data"]) == Path(files.admin_key).read_bytes()
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    assert context["context"] == {"cluster": config["clusters"][0]["name"],
                                  "user": config["users"][0]["name"]}
    # the same content is not rewritten; a new server is
    assert not write_admin_kubeconfig(path, "https://127.0.0.1:6443", files.ca_cert,
                                      files.admin_cert, files.admin_key)
    assert write_admin_kubeconfig(path, "https://127.0.0.1:7443", files.ca_cert,
                                  files.admin_cert, files.admin_key)


def test_server_url():
    assert server_url("0.0.0.0", 6443) == "https://127.0.0.1:6443"
    assert server_url("::", 6443) == "https://127.0.0.1:6443"
    assert server_url("192.0.2.7", 443) == "https://192.0.2.7:443"
    assert server_url("::1", 6443) == "https://[::1]:6443"


def _options(tmp_path: Path, *args: str):
    return load_options(["--data-dir", str(tmp_path / "data"), "--bind-address", "127.0.0.1",
                         *args], environ={})


def test_master_without_credentials_uses_the_generated_pki(tmp_path):
    config = build_master_config(_options(tmp_path, "--secure-port", "16443"))
    data = tmp_path / "data"
    assert config.admin_kubeconfig == str(data / "admin.kubeconfig")
    assert config.options.client_ca_file == str(data / "pki" / "ca.crt")
    assert config.secure_serving is not None
    assert config.secure_serving.cert_file == str(data / "pki" / "apiserver.crt")
    kubeconfig = yaml.safe_load(Path(config.admin_kubeconfig).read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16443"
    # a restart on another port keeps the PKI and points the kubeconfig at the new port
    ca = (data / "pki" / "ca.crt").read_bytes()
    config = build_master_config(_options(tmp_path, "--secure-port", "17443"))
    kubeconfig = yaml.safe_load(Path(config.admin_kubeconfig).read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:17443"
    assert (data / "pki" / "ca.crt").read_bytes() == ca


def test_master_with_its_own_client_ca_makes_no_admin(tmp_path):
    own = ensure_pki(str(tmp_path / "own"), IPS, DNS, admin=False)
    config = build_master_config(_options(tmp_path, "--client-ca-file", own.ca_cert,
                                          "--cert-dir", str(tmp_path / "certs")))
    assert config.admin_kubeconfig == ""
    assert config.options.client_ca_file == own.ca_cert
    assert (tmp_path / "certs" / "apiserver.crt").exists()
    assert not (tmp_path / "certs" / "admin.crt").exists()
    assert not (tmp_path / "data" / "admin.kubeconfig").exists()


def test_master_with_a_serving_pair_generates_nothing(tmp_path):
    own = ensure_pki(str(tmp_path / "own"), IPS, DNS, admin=False)
    config = build_master_config(_options(tmp_path, "--tls-cert-file", own.serving_cert,
                                          "--tls-private-key-file", own.serving_key))
    assert config.admin_kubeconfig == "" and config.options.client_ca_file == ""
    assert not (tmp_path / "data" / "admin.kubeconfig").exists()
    assert not (tmp_path / "data" / "pki" / "ca.crt").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--tls-cipher-suites", "TLS_NOT_A_SUITE"], "unknown cipher suite 'TLS_NOT_A_SUITE'"),
    (["--tls-min-version", "VersionTLS13", "--tls-cipher-suites",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "cannot be set with --tls-min-version"),
    (["--client-ca-file", "/nonexistent/ca.crt"], "/nonexistent/ca.crt"),
    (["--tls-sni-cert-key", "/nonexistent/a.crt,/nonexistent/a.key"], "/nonexistent/a.crt"),
])
def test_master_refuses_bad_tls_settings_with_one_line(tmp_path, args, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        build_master_config(_options(tmp_path, *args))
    assert "\n" not in str(caught.value)
