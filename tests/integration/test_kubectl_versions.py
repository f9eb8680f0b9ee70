"""Issue 3 part 8: the core flow with older and newer kubectl builds than the dispatcher picks.

`kubectl.1.27` and `kubectl.1.33` lie beside gcloud's dispatcher and are plain kubectl builds
(they send JSON, not protobuf, for `create <generator>`). Debian's `kubernetes-client` is 1.20;
it cannot be installed next to gcloud's `kubectl` package (both own /usr/bin/kubectl), so it is
looked for where `dpkg-deb -x` unpacks it (see tests/integration/kubectl.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.integration.kubectl import (
    Kubectl,
    api_get,
    debian_kubectl,
    fixture,
    table,
    versioned_kubectl,
)
from tests.integration.server import Kapisup

CLIENTS = {
    "1.27": versioned_kubectl(27),
    "1.33": versioned_kubectl(33),
    "1.20-debian": debian_kubectl(),
}

# kubectl up to 1.28 validates `apply -f` (and runs `explain`) from /openapi/v2 as protobuf,
# then /swagger-2.0.0.pb-v1; 1.29 and later use /openapi/v3 (measured against kapisup). kapisup
# serves no v2, which the issue allows, so those clients apply with validation off; the xfail
# test below turns into a failure (XPASS) once v2 is served, to drop the flag then.
NEEDS_OPENAPI_V2 = {"1.27", "1.20-debian"}


def client_params() -> list[pytest.ParameterSet]:
    return [pytest.param(name, id=name, marks=pytest.mark.skipif(
        binary is None, reason=f"kubectl {name} binary not found")) for name, binary in
        CLIENTS.items()]


KubectlFactory = Callable[[str], Kubectl]


@pytest.fixture
def kubectl_for(server: Kapisup, tmp_path_factory: pytest.TempPathFactory) -> KubectlFactory:
    """A Kubectl for a named client build, with a cache dir of its own."""
    def make(name: str) -> Kubectl:
        binary = CLIENTS[name]
        assert binary is not None
        return Kubectl(server.url, tmp_path_factory.mktemp(f"kubectl-{name}"), binary=binary)
    return make


@pytest.mark.parametrize("client", client_params())
def test_core_flow(server: Kapisup, kubectl_for: KubectlFactory,
                   client: str) -> None:
    kubectl = kubectl_for(client)
    ns = "flow-" + client.replace(".", "-")
    validate = ["--validate=false"] if client in NEEDS_OPENAPI_V2 else []

    assert kubectl.ok("create", "namespace", ns).strip() == f"namespace/{ns} created"
    out = kubectl.ok("create", "configmap", "gen", "-n", ns, "--from-literal=a=b")
    assert out.strip() == "configmap/gen created"
    generated = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/gen")
    assert generated is not None and generated["data"] == {"a": "b"}

    out = kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns, *validate)
    assert out.strip() == "configmap/settings created"
    out = kubectl.ok("apply", "-f", fixture("configmap-v2.yaml"), "-n", ns, *validate)
    assert out.strip() == "configmap/settings configured"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert stored is not None and stored["data"] == {"keep": "1", "change": "new"}

    header, rows = table(kubectl.ok("get", "configmaps", "-n", ns))
    assert header == ["NAME", "DATA", "AGE"]
    assert {row[0]: row[1] for row in rows} == {"gen": "1", "settings": "2"}
    shown = json.loads(kubectl.ok("get", "cm", "settings", "-n", ns, "-o", "json"))
    assert shown["data"] == {"keep": "1", "change": "new"}

    assert kubectl.ok("label", "cm", "settings", "-n", ns, "tier=web").strip() == (
        "configmap/settings labeled")
    out = kubectl.ok("patch", "cm", "settings", "-n", ns, "-p", '{"data":{"patched":"yes"}}')
    assert out.strip() == "configmap/settings patched"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"tier": "web"}
    assert stored["data"] == {"keep": "1", "change": "new", "patched": "yes"}

    out = kubectl.ok("delete", "cm", "settings", "gen", "-n", ns)
    assert out.splitlines() == ['configmap "settings" deleted', 'configmap "gen" deleted']
    assert api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings") is None
    out = kubectl.ok("delete", "namespace", ns, "--timeout=60s", timeout=70)
    assert out.strip() == f'namespace "{ns}" deleted'
    assert api_get(server, f"/api/v1/namespaces/{ns}") is None


@pytest.mark.xfail(strict=True, reason="kapisup serves no protobuf /openapi/v2, which these "
                   "clients need for apply -f with default validation")
@pytest.mark.parametrize("client", [p for p in client_params()
                                    if p.values[0] in NEEDS_OPENAPI_V2])
def test_apply_with_default_validation_on_openapi_v2_clients(server: Kapisup,
                                                             kubectl_for: KubectlFactory,
                                                             client: str) -> None:
    kubectl = kubectl_for(client)
    ns = "validate-" + client.replace(".", "-")
    kubectl.ok("create", "namespace", ns)
    kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
