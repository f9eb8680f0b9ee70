"""Issue 3 part 8: the core flow with older and newer kubectl builds than the dispatcher picks.

`kubectl.1.27` and `kubectl.1.33` lie beside gcloud's dispatcher and are plain kubectl builds
(they send JSON, not protobuf, for `create <generator>`). Debian's `kubernetes-client` is 1.20;
it cannot be installed next to gcloud's `kubectl` package (both own /usr/bin/kubectl), so it is
looked for where `dpkg-deb -x` unpacks it (see tests/integration/kubectl.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
import requests

from kapisup.endpoints.openapiv2 import PROTOBUF_V2
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

# kubectl up to 1.28 (and 1.20) reads /openapi/v2 as protobuf for `apply -f`/`create -f`
# validation, client-side apply's patch metadata and `explain` (1.20 always, 1.27 with
# --output=plaintext-openapiv2); 1.29 and later use /openapi/v3 (measured against kapisup).
OPENAPI_V2_CLIENTS = ("1.27", "1.20-debian")
CRD = "widgets.kubectl-test.example.com"


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

    assert kubectl.ok("create", "namespace", ns).strip() == f"namespace/{ns} created"
    out = kubectl.ok("create", "configmap", "gen", "-n", ns, "--from-literal=a=b")
    assert out.strip() == "configmap/gen created"
    generated = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/gen")
    assert generated is not None and generated["data"] == {"a": "b"}

    out = kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert out.strip() == "configmap/settings created"
    out = kubectl.ok("apply", "-f", fixture("configmap-v2.yaml"), "-n", ns)
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


def v2_clients() -> list[pytest.ParameterSet]:
    return [p for p in client_params() if p.values[0] in OPENAPI_V2_CLIENTS]


def wait_for_v2_kind(server: Kapisup, kind: str) -> None:
    """Until several /openapi/v2 answers in a row name `kind` (each worker caches its own)."""
    needle = kind.encode()
    streak = 0
    for _ in range(100):
        response = requests.get(server.url + "/openapi/v2", timeout=10,
                                headers={"Accept": PROTOBUF_V2, "Connection": "close"})
        streak = streak + 1 if needle in response.content else 0
        if streak >= 6:
            return
        time.sleep(0.05)
    raise AssertionError(f"/openapi/v2 never consistently named {kind}")


def rejected(kubectl: Kubectl, client: str, manifest: str, ns: str) -> str:
    """`apply -f -` of a manifest with an unknown field: what kubectl said, after checks.

    kubectl 1.20 validates client-side against /openapi/v2. kubectl 1.27 also downloads v2 (it
    fails without it) but, seeing fieldValidation on the PATCH operations, leaves unknown
    fields to the server's strict decoding.
    """
    result = kubectl.run("apply", "-f", "-", "-n", ns, stdin=manifest)
    assert result.rc != 0, result.output
    if client == "1.20-debian":
        assert "error validating data: ValidationError(" in result.output, result.output
    else:
        assert "strict decoding error" in result.output, result.output
    return result.output


@pytest.mark.parametrize("client", v2_clients())
def test_apply_with_default_validation_on_openapi_v2_clients(server: Kapisup,
                                                             kubectl_for: KubectlFactory,
                                                             client: str) -> None:
    kubectl = kubectl_for(client)
    ns = "validate-" + client.replace(".", "-")
    kubectl.ok("create", "namespace", ns)
    out = kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert out.strip() == "configmap/settings created"
    out = kubectl.ok("apply", "-f", fixture("configmap-v2.yaml"), "-n", ns)
    assert out.strip() == "configmap/settings configured"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert stored is not None and stored["data"] == {"keep": "1", "change": "new"}

    output = rejected(kubectl, client, "apiVersion: v1\nkind: ConfigMap\n"
                      "metadata: {name: bogus}\nbogus: 1\ndata: {a: b}\n", ns)
    assert 'unknown field "bogus"' in output
    assert api_get(server, f"/api/v1/namespaces/{ns}/configmaps/bogus") is None

    # A CRD (itself validated against the v2 CustomResourceDefinition schema), then its kind.
    kubectl.ok("apply", "-f", fixture("crd-widgets.yaml"))
    kubectl.ok("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    wait_for_v2_kind(server, "com.example.kubectl-test.v1.Widget")
    out = kubectl.ok("apply", "-f", fixture("widget-good.yaml"), "-n", ns)
    assert out.strip() == "widget.kubectl-test.example.com/small created"
    output = rejected(kubectl, client, "apiVersion: kubectl-test.example.com/v1\nkind: Widget\n"
                      "metadata: {name: odd}\nspec: {size: 2, bogus: 1}\n", ns)
    assert "bogus" in output
    assert api_get(server, f"/apis/kubectl-test.example.com/v1/namespaces/{ns}/widgets/odd") \
        is None


@pytest.mark.parametrize("client", v2_clients())
def test_explain_from_openapi_v2(server: Kapisup, kubectl_for: KubectlFactory,
                                 client: str) -> None:
    kubectl = kubectl_for(client)
    # kubectl 1.27 explains from v3 unless told to use v2; 1.20 only knows v2
    v2 = ["--output=plaintext-openapiv2"] if client == "1.27" else []
    out = kubectl.ok("explain", "configmap.data", *v2)
    assert re.search(r"FIELD:\s+data <map\[string\]string>", out), out
    assert "UTF-8 configuration values by key" in out

    kubectl.ok("apply", "-f", fixture("crd-widgets.yaml"))
    kubectl.ok("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    wait_for_v2_kind(server, "com.example.kubectl-test.v1.Widget")
    out = kubectl.ok("explain", "widget.spec", *v2)
    assert "What the widget should look like." in out
    assert re.search(r"size\s+<integer> -required-", out), out
    assert re.search(r"color\s+<string>", out), out
