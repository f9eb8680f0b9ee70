"""RBAC for a client-certificate user, end to end, on a server started with no security flags.

The master makes its PKI; the test signs a certificate for alice (CN=alice, O=dev-team) with
the generated CA, as an operator would with `<data-dir>/pki/ca.key`. Alice is refused with
kube's exact words (through requests and through kubectl) until the admin, with the generated
admin kubeconfig, binds ClusterRole `view` to Group `dev-team` in one namespace; then alice
reads there, through both clients, and nowhere else, and still cannot write. A certificate of
another organisation stays refused: the binding is the group's.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kapisup.server.kubeconfig import render
from tests.integration.server import Kapisup, running, wait_for
from tests.unit.test_x509 import Issued, issue

KUBECTL_TIMEOUT = 30


def _forbidden(user: str, verb: str, namespace: str) -> str:
    return (f'configmaps is forbidden: User "{user}" cannot {verb} resource "configmaps" in '
            f'API group "" in the namespace "{namespace}"')


class Clients:
    """One user's certificate pair, as a requests `cert=` and as a kubeconfig for kubectl."""

    def __init__(self, server: Kapisup, workdir: Path, cert: Issued, name: str):
        self.base = f"https://127.0.0.1:{server.secure_port}"
        self.ca = os.path.join(server.data_dir, "pki", "ca.crt")
        self.workdir = workdir
        self.pair = cert.write(workdir / name)
        self.kubeconfig = workdir / f"{name}.kubeconfig"
        pems = [Path(self.ca).read_bytes(), *(Path(p).read_bytes() for p in self.pair)]
        self.kubeconfig.write_bytes(render(self.base, *pems))
        self.kubeconfig.chmod(0o600)

    def get(self, path: str) -> requests.Response:
        # verify= on every request: the environment may set REQUESTS_CA_BUNDLE
        return requests.get(self.base + path, cert=self.pair, verify=self.ca, timeout=10)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return kubectl(str(self.kubeconfig), self.workdir, *args)


def kubectl(kubeconfig: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(workdir)
    argv = ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", str(workdir / "cache"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT,
                          env=env, check=False)


def admin(server: Kapisup, workdir: Path, *args: str) -> str:
    ready = server.wait_log(lambda e: e.get("event") == "ready", what="ready line")
    done = kubectl(ready["kubeconfig"], workdir, *args)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def generated_ca(server: Kapisup) -> Issued:
    pki = Path(server.data_dir) / "pki"
    cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    return Issued(cert, key)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """Default flags: both ports, generated PKI, RBAC, anonymous on; two workers."""
    with running(tmp_path_factory.mktemp("kapisup"), workers=2) as started:
        yield started


def test_a_group_binding_lets_a_certificate_user_read(server, tmp_path):
    ns = f"dev-{uuid.uuid4().hex[:6]}"
    other = f"other-{uuid.uuid4().hex[:6]}"
    for name in (ns, other):
        admin(server, tmp_path, "create", "namespace", name)
    admin(server, tmp_path, "-n", ns, "create", "configmap", "settings", "--from-literal=a=b")
    ca = generated_ca(server)
    alice = Clients(server, tmp_path, issue(ca, "alice", ("dev-team",)), "alice")
    bob = Clients(server, tmp_path, issue(ca, "bob", ("other-team",)), "bob")

    # before: authenticated as alice (the 403 names her), but nothing allows her
    refused = alice.get(f"/api/v1/namespaces/{ns}/configmaps")
    assert refused.status_code == 403, refused.text
    status = refused.json()
    assert status["kind"] == "Status" and status["reason"] == "Forbidden"
    assert status["message"] == _forbidden("alice", "list", ns)
    assert status["details"] == {"kind": "configmaps"}
    done = alice.kubectl("get", "configmaps", "-n", ns)
    assert done.returncode != 0
    assert f"Error from server (Forbidden): {_forbidden('alice', 'list', ns)}" in done.stderr

    admin(server, tmp_path, "-n", ns, "create", "rolebinding", "dev-team-view",
          "--clusterrole=view", "--group=dev-team")

    # after: every worker learns of the binding from its watch; fresh connections spread
    # the requests over both workers, so several answers in a row must all be 200
    def allowed_everywhere() -> bool:
        return all(alice.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 200
                   for _ in range(6))

    wait_for(allowed_everywhere, timeout=15, what="alice allowed on every worker")
    listed = alice.get(f"/api/v1/namespaces/{ns}/configmaps").json()
    assert listed["kind"] == "ConfigMapList"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["settings"]
    done = alice.kubectl("get", "configmaps", "-n", ns, "-o", "name")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["configmap/settings"]

    # only that namespace, only reading, only the group's members
    elsewhere = alice.get(f"/api/v1/namespaces/{other}/configmaps")
    assert elsewhere.status_code == 403
    assert elsewhere.json()["message"] == _forbidden("alice", "list", other)
    done = alice.kubectl("-n", ns, "create", "configmap", "mine", "--from-literal=x=y")
    assert done.returncode != 0
    assert _forbidden("alice", "create", ns) in done.stderr
    stranger = bob.get(f"/api/v1/namespaces/{ns}/configmaps")
    assert stranger.status_code == 403
    assert stranger.json()["message"] == _forbidden("bob", "list", ns)
