"""The admin kubeconfig the master writes next to its data: the CA, the server URL and the
admin client pair, all embedded, so `kubectl --kubeconfig <path>` works from anywhere."""

from __future__ import annotations

import base64
import os

import yaml

from kapisup.server.certs import write_atomic

CLUSTER = "kapisup"
USER = "kapisup-admin"
CONTEXT = "kapisup-admin@kapisup"


def server_url(bind_address: str, port: int) -> str:
    """Where a local client reaches the secure port: loopback when bound to every address."""
    host = "127.0.0.1" if bind_address in ("0.0.0.0", "::") else bind_address
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}"


def render(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> bytes:
    def data(pem: bytes) -> str:
        return base64.b64encode(pem).decode("ascii")

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {
            "server": server, "certificate-authority-data": data(ca_pem)}}],
        "users": [{"name": USER, "user": {
            "client-certificate-data": data(cert_pem), "client-key-data": data(key_pem)}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CLUSTER, "user": USER}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False).encode()


def write_admin_kubeconfig(path: str, server: str, ca_file: str, cert_file: str,
                           key_file: str) -> bool:
    """Write (mode 0600) unless the file already says exactly this; True when written."""
    pems = []
    for name in (ca_file, cert_file, key_file):
        with open(name, "rb") as handle:
            pems.append(handle.read())
    content = render(server, *pems)
    try:
        with open(path, "rb") as handle:
            if handle.read() == content and (os.stat(path).st_mode & 0o077) == 0:
                return False
    except FileNotFoundError:
        pass
    write_atomic(path, content, 0o600)
    return True
