"""Issue 3 part 8, the long-running and cross-object scenarios with the machine's kubectl:
`get -w`, `wait --for=delete`, a CRD and its instances, and namespace deletion.

Runs that stay open (watches, waits) run in the background, bounded, and are always stopped.
"""

from __future__ import annotations

import re
import shutil

import pytest
import requests

from tests.integration.kubectl import (
    Kubectl,
    api_get,
    api_post,
    fixture,
    make_configmap,
    table,
    wait_output,
)
from tests.integration.server import Kapisup, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on PATH")

CRD = "widgets.kubectl-test.example.com"
WIDGETS = "/apis/kubectl-test.example.com/v1/namespaces/{ns}/widgets"


def api_delete(server: Kapisup, path: str) -> None:
    response = requests.delete(server.url + path, timeout=10)
    assert response.status_code == 200, response.text


def test_get_watch_prints_a_row_per_change(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    make_configmap(server, ns, "before")
    with kubectl.background("get", "configmaps", "-n", ns, "-w",
                            "--output-watch-events") as watch:
        # The first row comes from the list; the watch starts at the list's resourceVersion,
        # so nothing written after this point can be missed.
        wait_output(watch, "before")
        make_configmap(server, ns, "during")
        response = requests.patch(
            f"{server.url}/api/v1/namespaces/{ns}/configmaps/during",
            data='{"data":{"a":"1","b":"2"}}', timeout=10,
            headers={"Content-Type": "application/merge-patch+json"})
        assert response.status_code == 200, response.text
        api_delete(server, f"/api/v1/namespaces/{ns}/configmaps/during")
        text = wait_output(watch, "DELETED")
        assert watch.proc.poll() is None  # still watching: the server did not end the stream

    header, rows = table(text)
    assert header == ["EVENT", "NAME", "DATA", "AGE"]
    assert [row[:3] for row in rows] == [
        ["ADDED", "before", "1"],
        ["ADDED", "during", "1"],
        ["MODIFIED", "during", "3"],
        ["DELETED", "during", "3"],
    ]


def test_get_watch_of_one_object_with_json_output(server: Kapisup, kubectl: Kubectl,
                                                  ns: str) -> None:
    make_configmap(server, ns, "single")
    make_configmap(server, ns, "other")
    with kubectl.background("get", "cm", "single", "-n", ns, "-w",
                            "-o", "jsonpath={.metadata.name}={.data.k}{'\\n'}") as watch:
        wait_output(watch, "single=single")
        # A change to another object must not show; the change to the watched one must.
        for name, value in (("other", "x"), ("single", "changed")):
            patched = requests.patch(f"{server.url}/api/v1/namespaces/{ns}/configmaps/{name}",
                                     data=f'{{"data":{{"k":"{value}"}}}}', timeout=10,
                                     headers={"Content-Type": "application/merge-patch+json"})
            assert patched.status_code == 200, patched.text
        text = wait_output(watch, "single=changed")
    assert text.splitlines() == ["single=single", "single=changed"]


def test_wait_for_delete(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    make_configmap(server, ns, "short-lived")
    waiter = kubectl.start("wait", "--for=delete", "configmap/short-lived", "-n", ns,
                           "--timeout=30s")
    try:
        # Delete once the waiter has listed (access lines are written when a request ends, so
        # its watch never shows here). Its watch starts at that list's resourceVersion, so the
        # deletion reaches it as a DELETED event however the two race.
        listed = f"/api/v1/namespaces/{ns}/configmaps?fieldSelector=metadata.name%3Dshort-lived"
        server.wait_log(lambda e: e.get("event") == "request" and e["path"].startswith(listed),
                        what="kubectl wait's list")
        api_delete(server, f"/api/v1/namespaces/{ns}/configmaps/short-lived")
        result = waiter.wait(timeout=30)
    finally:
        waiter.stop()
    assert result.rc == 0, result.output
    assert result.stdout.strip() == "configmap/short-lived condition met"

    # Waiting for something already gone returns at once.
    gone = kubectl.run("wait", "--for=delete", "configmap/short-lived", "-n", ns,
                       "--timeout=10s")
    assert gone.rc == 0, gone.output

    # And a wait that cannot be satisfied ends with a timeout error, not a hang.
    make_configmap(server, ns, "stays")
    stays = kubectl.run("wait", "--for=delete", "configmap/stays", "-n", ns, "--timeout=1s")
    assert stays.rc == 1
    assert "timed out waiting for the condition" in stays.stderr


def test_custom_resource_definition_and_instances(server: Kapisup, kubectl: Kubectl,
                                                  ns: str) -> None:
    out = kubectl.ok("apply", "-f", fixture("crd-widgets.yaml"))
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/{CRD} created"
    out = kubectl.ok("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    assert out.strip() == f"customresourcedefinition.apiextensions.k8s.io/{CRD} condition met"

    # Instances: create, get (printer columns), list, read back.
    out = kubectl.ok("apply", "-f", fixture("widget-good.yaml"), "-n", ns)
    assert out.strip() == "widget.kubectl-test.example.com/small created"
    kubectl.ok("create", "-f", "-", "-n", ns, stdin=(
        "apiVersion: kubectl-test.example.com/v1\nkind: Widget\n"
        "metadata: {name: large}\nspec: {size: 40, color: blue}\n"))
    header, rows = table(kubectl.ok("get", "widgets", "-n", ns))
    assert header == ["NAME", "SIZE", "COLOR"]  # declared columns replace the default Age
    assert sorted(row[:3] for row in rows) == [["large", "40", "blue"], ["small", "3", "red"]]
    assert kubectl.ok("get", "wdg", "-n", ns, "-o", "name").split() == [
        "widget.kubectl-test.example.com/large", "widget.kubectl-test.example.com/small"]
    stored = api_get(server, WIDGETS.format(ns=ns) + "/small")
    assert stored is not None and stored["spec"] == {"size": 3, "color": "red"}

    # Applying a changed manifest again: kubectl must pick a JSON merge patch for a custom
    # resource (strategic merge is not offered for CRs in the published OpenAPI).
    kubectl.ok("apply", "-f", "-", "-n", ns, stdin=(
        "apiVersion: kubectl-test.example.com/v1\nkind: Widget\n"
        "metadata: {name: small}\nspec: {size: 5}\n"))
    stored = api_get(server, WIDGETS.format(ns=ns) + "/small")
    assert stored is not None and stored["spec"] == {"size": 5}
    # Server-side apply twice, with a field dropped the second time.
    for spec in ("{size: 7, color: blue}", "{size: 7}"):
        out = kubectl.ok("apply", "--server-side", "-f", "-", "-n", ns, stdin=(
            "apiVersion: kubectl-test.example.com/v1\nkind: Widget\n"
            f"metadata: {{name: applied}}\nspec: {spec}\n"))
        assert out.strip() == "widget.kubectl-test.example.com/applied serverside-applied"
    stored = api_get(server, WIDGETS.format(ns=ns) + "/applied")
    assert stored is not None and stored["spec"] == {"size": 7}
    kubectl.ok("patch", "widget", "applied", "-n", ns, "--type=merge",
               "-p", '{"spec":{"color":"red"}}')
    kubectl.ok("label", "widget", "applied", "-n", ns, "tier=web")
    stored = api_get(server, WIDGETS.format(ns=ns) + "/applied")
    assert stored is not None and stored["spec"] == {"size": 7, "color": "red"}
    assert stored["metadata"]["labels"] == {"tier": "web"}
    kubectl.ok("delete", "widget", "applied", "-n", ns)

    # A schema violation is a 422 with kube's per-field messages.
    bad = kubectl.run("create", "-f", fixture("widget-bad.yaml"), "-n", ns)
    assert bad.rc == 1
    assert 'The Widget "broken" is invalid:' in bad.stderr
    assert 'spec.color: Unsupported value: "green": supported values: "red", "blue"' in (
        bad.stderr)
    assert ("spec.size: Invalid value: 0: spec.size in body should be greater than or equal "
            "to 1") in bad.stderr
    assert api_get(server, WIDGETS.format(ns=ns) + "/broken") is None

    # explain reads the CRD's schema out of the published OpenAPI.
    explained = kubectl.ok("explain", "widget.spec")
    assert re.search(r"^KIND:\s+Widget$", explained, flags=re.MULTILINE)
    assert "What the widget should look like." in explained
    assert "size\t<integer> -required-" in explained
    assert "How big the widget is." in explained

    out = kubectl.ok("delete", "widget", "large", "-n", ns)
    assert out.strip() == 'widget.kubectl-test.example.com "large" deleted'
    assert api_get(server, WIDGETS.format(ns=ns) + "/large") is None

    # Deleting the CRD removes the resource and its instances: a re-created CRD starts empty.
    out = kubectl.ok("delete", "crd", CRD, "--timeout=30s")
    assert out.strip() == f'customresourcedefinition.apiextensions.k8s.io "{CRD}" deleted'
    assert api_get(server, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}") is (
        None)
    wait_for(lambda: requests.get(server.url + WIDGETS.format(ns=ns),
                                  timeout=10).status_code == 404,
             what="the widgets resource to stop being served")
    kubectl.ok("apply", "-f", fixture("crd-widgets.yaml"))
    kubectl.ok("wait", "--for=condition=Established", f"crd/{CRD}", "--timeout=30s")
    instances = api_get(server, WIDGETS.format(ns=ns))
    assert instances is not None and instances["items"] == []
    kubectl.ok("delete", "crd", CRD, "--timeout=30s")


def test_namespace_deletion_removes_its_contents(server: Kapisup, kubectl: Kubectl,
                                                 ns: str) -> None:
    make_configmap(server, ns, "content")
    api_post(server, f"/api/v1/namespaces/{ns}/secrets",
             {"metadata": {"name": "content"}, "stringData": {"a": "b"}})
    kubectl.ok("apply", "-f", fixture("pod-and-service.yaml"), "-n", ns)
    kubectl.ok("apply", "-f", fixture("lease.yaml"), "-n", ns)

    # `delete ns` waits (list + watch on metadata.name) until the namespace is gone.
    out = kubectl.ok("delete", "namespace", ns, "--timeout=60s", timeout=70)
    assert out.strip() == f'namespace "{ns}" deleted'
    assert api_get(server, f"/api/v1/namespaces/{ns}") is None
    for path in (f"/api/v1/namespaces/{ns}/configmaps", f"/api/v1/namespaces/{ns}/secrets",
                 f"/api/v1/namespaces/{ns}/pods", f"/api/v1/namespaces/{ns}/services",
                 f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"):
        listed = api_get(server, path)
        assert listed is not None and listed["items"] == [], path
    everywhere = api_get(server, "/api/v1/configmaps")
    assert everywhere is not None
    assert all(item["metadata"]["namespace"] != ns for item in everywhere["items"])

    names = [row[0] for row in table(kubectl.ok("get", "namespaces"))[1]]
    assert ns not in names and "default" in names
    gone = kubectl.run("get", "namespace", ns)
    assert gone.rc == 1
    assert f'Error from server (NotFound): namespaces "{ns}" not found' in gone.stderr

    # A namespace that was deleted can be created again, empty.
    kubectl.ok("create", "namespace", ns)
    recreated = api_get(server, f"/api/v1/namespaces/{ns}/configmaps")
    assert recreated is not None and recreated["items"] == []
