"""Issue 3 part 8: the machine's kubectl (the gcloud dispatcher, which runs kubectl 1.32 for a
server reporting 1.32) against one real kapisup with two workers.

Every test works in its own namespace and checks two things: what kubectl printed (exit code,
messages, columns) and what the server stored, read back over the API with `requests`.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.integration.kubectl import (
    Kubectl,
    api_get,
    fixture,
    make_configmap,
    make_namespace,
    namespace_for,
    table,
)
from tests.integration.server import Kapisup, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on PATH")

# ---- version and discovery -------------------------------------------------------------------


def test_version_picks_the_1_32_client(server: Kapisup, kubectl: Kubectl) -> None:
    mark = server.mark()
    report = json.loads(kubectl.ok("version", "-o", "json"))
    assert report["serverVersion"]["major"] == "1"
    assert report["serverVersion"]["minor"] == "32"
    assert report["serverVersion"]["gitVersion"].startswith("v1.32.")
    # The dispatcher asked /version first, then ran its own 1.32 build (the protobuf-speaking one).
    agents = [e.get("user_agent", "") for e in server.events("request", mark)]
    assert any(agent.startswith("kubectl-dispatcher/") for agent in agents)
    server.wait_log(lambda e: e.get("event") == "request"
                    and e.get("user_agent", "").startswith("kubectl/v1.32."),
                    what="a request from kubectl 1.32", after=mark)
    human = kubectl.ok("version")
    assert "Server Version: v1.32." in human


def test_api_resources_lists_every_served_type(kubectl: Kubectl) -> None:
    header, rows = table(kubectl.ok("api-resources"))
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    by_name = {row[0]: row for row in rows}
    assert by_name["configmaps"] == ["configmaps", "cm", "v1", "true", "ConfigMap"]
    assert by_name["namespaces"] == ["namespaces", "ns", "v1", "false", "Namespace"]
    assert by_name["leases"][1:] == ["coordination.k8s.io/v1", "true", "Lease"]
    assert by_name["customresourcedefinitions"][1:] == [
        "crd,crds", "apiextensions.k8s.io/v1", "false", "CustomResourceDefinition"]
    for served in ("secrets", "pods", "services", "endpoints", "events", "nodes",
                   "serviceaccounts"):
        assert served in by_name
    assert not any("/" in name for name in by_name)  # subresources are not listed
    names = kubectl.ok("api-resources", "--namespaced=false", "-o", "name").split()
    assert "namespaces" in names and "configmaps" not in names


# ---- create ----------------------------------------------------------------------------------


def test_run_service_and_serviceaccount_generators_send_protobuf_that_decodes(
        server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    # kubectl 1.32 POSTs these as protobuf Pod, Service and ServiceAccount bodies.
    out = kubectl.ok("run", "web", "-n", ns, "--image=nginx:1.25", "--labels=app=web",
                     "--env=A=b", "--port=80", "--restart=Never")
    assert out.strip() == "pod/web created"
    pod = api_get(server, f"/api/v1/namespaces/{ns}/pods/web")
    assert pod is not None
    container = pod["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("web", "nginx:1.25")
    assert container["env"] == [{"name": "A", "value": "b"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["metadata"]["labels"] == {"app": "web"}
    assert pod["status"]["phase"] == "Pending"

    kubectl.ok("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080")
    service = api_get(server, f"/api/v1/namespaces/{ns}/services/web")
    assert service is not None
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert service["spec"]["clusterIP"]

    kubectl.ok("create", "serviceaccount", "robot", "-n", ns)
    assert api_get(server, f"/api/v1/namespaces/{ns}/serviceaccounts/robot") is not None


def test_create_generators(server: Kapisup, kubectl: Kubectl,
                           request: pytest.FixtureRequest) -> None:
    # These three POST protobuf bodies from kubectl 1.32.
    name = namespace_for(request)
    assert kubectl.ok("create", "namespace", name).strip() == f"namespace/{name} created"
    stored_ns = api_get(server, f"/api/v1/namespaces/{name}")
    assert stored_ns is not None
    assert stored_ns["status"]["phase"] == "Active"
    assert stored_ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name

    out = kubectl.ok("create", "configmap", "gen", "-n", name,
                     "--from-literal=a=b", "--from-literal=multi=x=y")
    assert out.strip() == "configmap/gen created"
    cm = api_get(server, f"/api/v1/namespaces/{name}/configmaps/gen")
    assert cm is not None and cm["data"] == {"a": "b", "multi": "x=y"}

    out = kubectl.ok("create", "secret", "generic", "creds", "-n", name,
                     "--from-literal=password=s3cret", "--from-literal=user=me")
    assert out.strip() == "secret/creds created"
    secret = api_get(server, f"/api/v1/namespaces/{name}/secrets/creds")
    assert secret is not None
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"
    assert base64.b64decode(secret["data"]["user"]) == b"me"

    # dry-run=server answers as if created and stores nothing.
    out = kubectl.ok("create", "configmap", "ghost", "-n", name, "--from-literal=a=b",
                     "--dry-run=server")
    assert "configmap/ghost created (server dry run)" in out
    assert api_get(server, f"/api/v1/namespaces/{name}/configmaps/ghost") is None

    missing = kubectl.run("create", "configmap", "x", "-n", "no-such-namespace",
                          "--from-literal=a=b")
    assert missing.rc == 1
    assert ('error: failed to create configmap: namespaces "no-such-namespace" not found'
            in missing.stderr)


def test_create_from_file_and_already_exists(server: Kapisup, kubectl: Kubectl,
                                             ns: str) -> None:
    out = kubectl.ok("create", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert out.strip() == "configmap/settings created"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert stored is not None and stored["data"]["drop"] == "gone"

    again = kubectl.run("create", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert again.rc == 1
    assert ('Error from server (AlreadyExists): error when creating "'
            + fixture("configmap-v1.yaml") + '": configmaps "settings" already exists'
            in again.stderr)

    generated = kubectl.run("create", "configmap", "settings", "-n", ns, "--from-literal=a=b")
    assert generated.rc == 1
    assert ('error: failed to create configmap: configmaps "settings" already exists'
            in generated.stderr)


# ---- apply -----------------------------------------------------------------------------------


def test_apply_twice_with_a_changed_and_a_removed_key(server: Kapisup, kubectl: Kubectl,
                                                      ns: str) -> None:
    first = kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert first.strip() == "configmap/settings created"
    unchanged = kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert unchanged.strip() == "configmap/settings unchanged"
    rv_before = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert rv_before is not None

    second = kubectl.ok("apply", "-f", fixture("configmap-v2.yaml"), "-n", ns)
    assert second.strip() == "configmap/settings configured"

    shown = json.loads(kubectl.ok("get", "configmap", "settings", "-n", ns, "-o", "json"))
    assert shown["data"] == {"keep": "1", "change": "new"}
    last_applied = json.loads(
        shown["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["data"] == {"keep": "1", "change": "new"}

    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert stored is not None and stored["data"] == {"keep": "1", "change": "new"}
    assert int(stored["metadata"]["resourceVersion"]) > int(
        rv_before["metadata"]["resourceVersion"])
    assert stored["metadata"]["uid"] == rv_before["metadata"]["uid"]


def test_server_side_apply_twice_with_a_removed_field(server: Kapisup, kubectl: Kubectl,
                                                      ns: str) -> None:
    out = kubectl.ok("apply", "--server-side", "-f", fixture("ssa-v1.yaml"), "-n", ns)
    assert out.strip() == "configmap/owned serverside-applied"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/owned")
    assert stored is not None
    assert stored["data"] == {"a": "1", "b": "2"}
    assert stored["metadata"]["labels"] == {"team": "a"}
    managers = {(m["manager"], m["operation"]) for m in stored["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers

    # Another manager's field survives the owner's re-apply; the owner's dropped fields go.
    kubectl.ok("patch", "configmap", "owned", "-n", ns, "--type=merge",
               "-p", '{"data":{"other":"kept"}}')
    out = kubectl.ok("apply", "--server-side", "-f", fixture("ssa-v2.yaml"), "-n", ns)
    assert out.strip() == "configmap/owned serverside-applied"
    shown = json.loads(kubectl.ok("get", "cm", "owned", "-n", ns, "-o", "json"))
    assert shown["data"] == {"a": "1", "other": "kept"}
    assert "team" not in (shown["metadata"].get("labels") or {})


# ---- get -------------------------------------------------------------------------------------


def test_get_table_and_output_formats(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    make_configmap(server, ns, "second", labels={"app": "x"})

    header, rows = table(kubectl.ok("get", "configmaps", "-n", ns))
    assert header == ["NAME", "DATA", "AGE"]
    assert {row[0]: row[1] for row in rows} == {"settings": "3", "second": "1"}

    header, rows = table(kubectl.ok("get", "cm", "-n", ns, "--show-labels"))
    assert header == ["NAME", "DATA", "AGE", "LABELS"]
    assert {row[0]: row[3] for row in rows} == {"settings": "<none>", "second": "app=x"}

    header, rows = table(kubectl.ok("get", "namespace", ns))
    assert header == ["NAME", "STATUS", "AGE"]
    assert rows[0][:2] == [ns, "Active"]

    header, rows = table(kubectl.ok("get", "cm", "-A", "--field-selector",
                                    f"metadata.namespace={ns}"))
    assert header == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert sorted(row[1] for row in rows) == ["second", "settings"]

    as_yaml = yaml.safe_load(kubectl.ok("get", "cm", "settings", "-n", ns, "-o", "yaml"))
    assert (as_yaml["kind"], as_yaml["apiVersion"]) == ("ConfigMap", "v1")
    assert as_yaml["data"] == {"keep": "1", "change": "old", "drop": "gone"}
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert stored is not None
    assert as_yaml["metadata"]["uid"] == stored["metadata"]["uid"]

    as_json = json.loads(kubectl.ok("get", "cm", "-n", ns, "-o", "json"))
    assert as_json["kind"] == "List"
    assert sorted(item["metadata"]["name"] for item in as_json["items"]) == ["second",
                                                                             "settings"]

    jsonpath = kubectl.ok("get", "cm", "-n", ns, "-o",
                          "jsonpath={range .items[*]}{.metadata.name}={.data.k}{'\\n'}{end}")
    assert jsonpath.splitlines() == ["second=second", "settings="]
    assert kubectl.ok("get", "cm", "-n", ns, "-o", "name").split() == [
        "configmap/second", "configmap/settings"]

    missing = kubectl.run("get", "cm", "nope", "-n", ns)
    assert missing.rc == 1
    assert 'Error from server (NotFound): configmaps "nope" not found' in missing.stderr
    other = make_namespace(server, ns + "-empty")
    nothing = kubectl.run("get", "cm", "-n", other)
    assert nothing.rc == 0
    assert f"No resources found in {other} namespace." in nothing.stderr


# ---- label, annotate, patch ------------------------------------------------------------------


def test_label_and_annotate(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    make_configmap(server, ns, "tagged")
    assert kubectl.ok("label", "cm", "tagged", "-n", ns, "tier=web").strip() == (
        "configmap/tagged labeled")
    assert kubectl.ok("annotate", "cm", "tagged", "-n", ns, "note=hello world").strip() == (
        "configmap/tagged annotated")
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/tagged")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"tier": "web"}
    assert stored["metadata"]["annotations"] == {"note": "hello world"}

    clash = kubectl.run("label", "cm", "tagged", "-n", ns, "tier=db")
    assert clash.rc == 1
    assert "already has a value (web)" in clash.stderr
    kubectl.ok("label", "cm", "tagged", "-n", ns, "tier=db", "--overwrite")
    kubectl.ok("annotate", "cm", "tagged", "-n", ns, "note-")
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/tagged")
    assert stored is not None
    assert stored["metadata"]["labels"] == {"tier": "db"}
    assert not stored["metadata"].get("annotations")

    # kubectl checks `label` values itself; a patch reaches the server's validation (422).
    invalid = kubectl.run("patch", "cm", "tagged", "-n", ns, "--type=merge",
                          "-p", '{"metadata":{"labels":{"bad":"-value-"}}}')
    assert invalid.rc == 1
    assert ('The ConfigMap "tagged" is invalid: metadata.labels: Invalid value: "-value-"'
            in invalid.stderr)


def test_patch_strategic_merge_and_json(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("apply", "-f", fixture("pod-and-service.yaml"), "-n", ns)
    # Strategic merge: containers merge by name, so the port survives an image-only patch.
    out = kubectl.ok("patch", "pod", "web", "-n", ns,
                     "-p", '{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}')
    assert out.strip() == "pod/web patched"
    pod = api_get(server, f"/api/v1/namespaces/{ns}/pods/web")
    assert pod is not None
    [container] = pod["spec"]["containers"]
    assert container["image"] == "nginx:1.28"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]

    make_configmap(server, ns, "patched")
    kubectl.ok("patch", "cm", "patched", "-n", ns, "--type=strategic",
               "-p", '{"data":{"s":"1"}}')
    kubectl.ok("patch", "cm", "patched", "-n", ns, "--type=merge",
               "-p", '{"data":{"m":"2","k":null}}')
    kubectl.ok("patch", "cm", "patched", "-n", ns, "--type=json",
               "-p", '[{"op":"add","path":"/data/j","value":"3"},'
                     '{"op":"replace","path":"/data/s","value":"one"}]')
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/patched")
    assert stored is not None and stored["data"] == {"s": "one", "m": "2", "j": "3"}

    failed = kubectl.run("patch", "cm", "patched", "-n", ns, "--type=json",
                         "-p", '[{"op":"test","path":"/data/j","value":"wrong"}]')
    assert failed.rc == 1
    assert failed.stderr.startswith("The request is invalid: the server rejected our request")
    after_failure = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/patched")
    assert after_failure == stored

    unchanged = kubectl.ok("patch", "cm", "patched", "-n", ns, "--type=merge",
                           "-p", '{"data":{"j":"3"}}')
    assert unchanged.strip() == "configmap/patched patched (no change)"


# ---- delete, selectors, chunking -------------------------------------------------------------


def test_delete(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    make_configmap(server, ns, "doomed")
    for name in ("a1", "a2"):
        make_configmap(server, ns, name, labels={"app": "a"})
    make_configmap(server, ns, "b1", labels={"app": "b"})

    assert kubectl.ok("delete", "cm", "doomed", "-n", ns).strip() == (
        'configmap "doomed" deleted')
    assert api_get(server, f"/api/v1/namespaces/{ns}/configmaps/doomed") is None

    again = kubectl.run("delete", "cm", "doomed", "-n", ns)
    assert again.rc == 1
    assert 'Error from server (NotFound): configmaps "doomed" not found' in again.stderr
    assert kubectl.run("delete", "cm", "doomed", "-n", ns, "--ignore-not-found").rc == 0

    out = kubectl.ok("delete", "cm", "-l", "app=a", "-n", ns)
    assert sorted(out.splitlines()) == ['configmap "a1" deleted', 'configmap "a2" deleted']
    left = api_get(server, f"/api/v1/namespaces/{ns}/configmaps")
    assert left is not None
    assert [item["metadata"]["name"] for item in left["items"]] == ["b1"]


def test_label_and_field_selectors(kubectl: Kubectl, server: Kapisup, ns: str) -> None:
    for name, labels in (("x1", {"app": "x"}), ("x2", {"app": "x", "tier": "web"}),
                         ("y1", {"app": "y"}), ("z1", {"app": "z"}), ("bare", {})):
        make_configmap(server, ns, name, labels=labels)

    def names(*selector: str) -> list[str]:
        out = kubectl.ok("get", "cm", "-n", ns, "-o", "name", *selector)
        return sorted(line.removeprefix("configmap/") for line in out.split())

    assert names("-l", "app=x") == ["x1", "x2"]
    assert names("-l", "app==y") == ["y1"]
    assert names("-l", "app!=x") == ["bare", "y1", "z1"]
    assert names("-l", "app in (x,y),app!=y") == ["x1", "x2"]
    assert names("-l", "app notin (x,y)") == ["bare", "z1"]
    assert names("-l", "tier") == ["x2"]
    assert names("-l", "!app") == ["bare"]
    assert names("-l", "app,!tier") == ["x1", "y1", "z1"]
    assert names("--field-selector", "metadata.name=y1") == ["y1"]
    assert names("--field-selector", "metadata.name!=y1", "-l", "app in (x,y)") == ["x1", "x2"]

    unsupported = kubectl.run("get", "cm", "-n", ns, "--field-selector", "data.k=x1")
    assert unsupported.rc == 1
    assert "Error from server (BadRequest)" in unsupported.stderr
    bad_syntax = kubectl.run("get", "cm", "-n", ns, "-l", "app in (x")
    assert bad_syntax.rc == 1


def test_chunk_size_returns_every_object_once(server: Kapisup, kubectl: Kubectl,
                                              ns: str) -> None:
    expected = [f"chunk-{i:02d}" for i in range(11)]
    for name in expected:
        make_configmap(server, ns, name)
    mark = server.mark()
    out = kubectl.ok("get", "cm", "-n", ns, "-o", "name", "--chunk-size=3")
    assert sorted(out.split()) == [f"configmap/{name}" for name in expected]
    assert len(out.split()) == len(expected)  # nothing twice

    # Four pages of three: the first without a continue token, then three with one.
    def pages() -> list[str]:
        return [e["path"] for e in server.events("request", mark)
                if e["path"].startswith(f"/api/v1/namespaces/{ns}/configmaps?")]

    wait_for(lambda: len(pages()) >= 4, what="four list requests in the access log")
    assert all("limit=3" in path for path in pages())
    assert sum("continue=" in path for path in pages()) == 3

    header, rows = table(kubectl.ok("get", "cm", "-n", ns, "--chunk-size=4"))
    assert header == ["NAME", "DATA", "AGE"]
    assert [row[0] for row in rows] == expected


# ---- describe, get all, diff, replace --------------------------------------------------------


def test_describe_configmap(kubectl: Kubectl, ns: str) -> None:
    kubectl.ok("create", "configmap", "described", "-n", ns, "--from-literal=color=blue",
               "--from-literal=size=9")
    kubectl.ok("label", "cm", "described", "-n", ns, "app=demo")
    out = kubectl.ok("describe", "configmap", "described", "-n", ns)
    fields = dict(re.findall(r"^(\w+):\s+(.*)$", out, flags=re.MULTILINE))
    assert fields["Name"] == "described"
    assert fields["Namespace"] == ns
    assert fields["Labels"] == "app=demo"
    assert re.search(r"^color:\n-+\nblue$", out, flags=re.MULTILINE)
    assert re.search(r"^size:\n-+\n9$", out, flags=re.MULTILINE)


def test_pod_and_service_from_yaml_and_get_all(server: Kapisup, kubectl: Kubectl,
                                               ns: str) -> None:
    out = kubectl.ok("apply", "-f", fixture("pod-and-service.yaml"), "-n", ns)
    assert out.splitlines() == ["pod/web created", "service/web created"]

    header, rows = table(kubectl.ok("get", "pods", "-n", ns))
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[0][:4] == ["web", "0/1", "Pending", "0"]

    header, rows = table(kubectl.ok("get", "svc", "-n", ns))
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    service = api_get(server, f"/api/v1/namespaces/{ns}/services/web")
    assert service is not None
    assert rows[0][:5] == ["web", "ClusterIP", service["spec"]["clusterIP"], "<none>", "80/TCP"]

    everything = kubectl.ok("get", "all", "-n", ns, "-o", "name").split()
    assert "pod/web" in everything and "service/web" in everything
    human = kubectl.ok("get", "all", "-n", ns)
    assert "pod/web" in human and "service/web" in human


def test_diff_shows_changes_and_stores_nothing(server: Kapisup, kubectl: Kubectl,
                                               ns: str) -> None:
    kubectl.ok("apply", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    before = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert before is not None

    same = kubectl.run("diff", "-f", fixture("configmap-v1.yaml"), "-n", ns)
    assert (same.rc, same.stdout) == (0, "")

    changed = kubectl.run("diff", "-f", fixture("configmap-v2.yaml"), "-n", ns)
    assert changed.rc == 1, changed.output  # 1 means "differences found"
    removed = {line[1:].strip() for line in changed.stdout.splitlines()
               if line.startswith("-") and not line.startswith("---")}
    added = {line[1:].strip() for line in changed.stdout.splitlines()
             if line.startswith("+") and not line.startswith("+++")}
    assert {"change: old", "drop: gone"} <= removed
    assert "change: new" in added

    after = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/settings")
    assert after == before  # dryRun=All: nothing stored, no new resourceVersion


def test_replace_with_a_stale_resource_version_conflicts(server: Kapisup, kubectl: Kubectl,
                                                         ns: str, tmp_path: Path) -> None:
    make_configmap(server, ns, "replaced")
    stale = tmp_path / "stale.yaml"
    live = yaml.safe_load(kubectl.ok("get", "cm", "replaced", "-n", ns, "-o", "yaml"))
    live["data"] = {"k": "from-file"}
    stale.write_text(yaml.safe_dump(live))

    fresh = kubectl.ok("replace", "-f", str(stale))
    assert fresh.strip() == "configmap/replaced replaced"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/replaced")
    assert stored is not None and stored["data"] == {"k": "from-file"}

    # The file still carries the old resourceVersion: replacing again must conflict.
    conflict = kubectl.run("replace", "-f", str(stale))
    assert conflict.rc == 1
    assert ('Error from server (Conflict): error when replacing "' + str(stale)
            + '": Operation cannot be fulfilled on configmaps "replaced": the object has been '
              "modified; please apply your changes to the latest version and try again"
            in conflict.stderr)


# ---- leases and explain ----------------------------------------------------------------------


def test_leases(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    out = kubectl.ok("apply", "-f", fixture("lease.yaml"), "-n", ns)
    assert out.strip() == "lease.coordination.k8s.io/leader created"
    header, rows = table(kubectl.ok("get", "leases", "-n", ns))
    assert header == ["NAME", "HOLDER", "AGE"]
    assert rows[0][:2] == ["leader", "worker-a"]

    now = "2026-01-01T00:00:00.000000Z"
    kubectl.ok("patch", "lease", "leader", "-n", ns, "--type=merge", "-p",
               json.dumps({"spec": {"holderIdentity": "worker-b", "renewTime": now,
                                    "leaseTransitions": 1}}))
    stored = api_get(server, f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/leader")
    assert stored is not None
    assert stored["spec"]["holderIdentity"] == "worker-b"
    assert stored["spec"]["renewTime"] == now
    assert stored["spec"]["leaseTransitions"] == 1
    assert kubectl.ok("get", "lease", "leader", "-n", ns, "-o",
                      "jsonpath={.spec.holderIdentity}") == "worker-b"
    assert kubectl.ok("delete", "lease", "leader", "-n", ns).strip() == (
        'lease.coordination.k8s.io "leader" deleted')


def test_explain_builtin_types(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "configmap")
    assert re.search(r"^KIND:\s+ConfigMap$", out, flags=re.MULTILINE)
    assert re.search(r"^VERSION:\s+v1$", out, flags=re.MULTILINE)
    for field in ("apiVersion", "binaryData", "data", "immutable", "kind", "metadata"):
        assert re.search(rf"^  {field}\t<", out, flags=re.MULTILINE), field

    field = kubectl.ok("explain", "configmap.data")
    assert re.search(r"^FIELD:\s+data <map\[string\]string>$", field, flags=re.MULTILINE)

    nested = kubectl.ok("explain", "pods.spec.containers.ports")
    assert "containerPort\t<integer> -required-" in nested

    lease = kubectl.ok("explain", "lease.spec")
    assert re.search(r"^GROUP:\s+coordination.k8s.io$", lease, flags=re.MULTILINE)
    assert "holderIdentity\t<string>" in lease

    unknown = kubectl.run("explain", "configmap.nothing")
    assert unknown.rc == 1


# ---- more everyday commands ------------------------------------------------------------------


def test_get_columns_sorting_and_raw(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    for name, rank in (("alpha", "3"), ("beta", "1"), ("gamma", "2")):
        make_configmap(server, ns, name, labels={"rank": rank})

    header, rows = table(kubectl.ok("get", "cm", "-n", ns, "-L", "rank"))
    assert header == ["NAME", "DATA", "AGE", "RANK"]
    assert {row[0]: row[3] for row in rows} == {"alpha": "3", "beta": "1", "gamma": "2"}

    # --sort-by asks for full objects in the Table rows (includeObject=Object).
    _, rows = table(kubectl.ok("get", "cm", "-n", ns, "--sort-by=.metadata.labels.rank"))
    assert [row[0] for row in rows] == ["beta", "gamma", "alpha"]

    custom = kubectl.ok("get", "cm", "-n", ns, "-o",
                        "custom-columns=NAME:.metadata.name,RANK:.metadata.labels.rank,"
                        "VALUE:.data.k")
    header, rows = table(custom)
    assert header == ["NAME", "RANK", "VALUE"]
    assert rows == [["alpha", "3", "alpha"], ["beta", "1", "beta"], ["gamma", "2", "gamma"]]

    assert kubectl.ok("get", "--raw", "/healthz") == "ok"
    raw = json.loads(kubectl.ok("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps/beta"))
    assert raw["data"] == {"k": "beta"}

    out = kubectl.ok("delete", "cm", "--all", "-n", ns)
    assert sorted(out.splitlines()) == [f'configmap "{name}" deleted'
                                        for name in ("alpha", "beta", "gamma")]
    left = api_get(server, f"/api/v1/namespaces/{ns}/configmaps")
    assert left is not None and left["items"] == []


def test_edit_with_a_scripted_editor(server: Kapisup, kubectl: Kubectl, ns: str,
                                     tmp_path: Path) -> None:
    make_configmap(server, ns, "edited")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^  k: edited$/  k: by-editor/' \"$1\"\n")
    editor.chmod(0o755)
    scripted = Kubectl(kubectl.server_url, tmp_path, binary=kubectl.binary)
    scripted.env["KUBE_EDITOR"] = str(editor)

    assert scripted.ok("edit", "cm", "edited", "-n", ns).strip() == "configmap/edited edited"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/edited")
    assert stored is not None and stored["data"] == {"k": "by-editor"}
    # The second edit finds nothing to change.
    again = scripted.run("edit", "cm", "edited", "-n", ns)
    assert again.rc == 0
    assert "Edit cancelled, no changes made." in again.stderr


def test_strict_field_validation(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\nbogus: 1\n"
    strict = kubectl.run("create", "-f", "-", "-n", ns, stdin=manifest)
    assert strict.rc == 1
    assert ('Error from server (BadRequest): error when creating "STDIN": strict decoding '
            'error: unknown field "bogus"') in strict.stderr
    assert api_get(server, f"/api/v1/namespaces/{ns}/configmaps/strict") is None

    # --validate=false sends fieldValidation=Ignore: the unknown field is dropped.
    kubectl.ok("create", "-f", "-", "-n", ns, "--validate=false", stdin=manifest)
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/strict")
    assert stored is not None and "bogus" not in stored


def test_nodes_cordon_and_pod_status(server: Kapisup, kubectl: Kubectl, ns: str) -> None:
    node = f"node-{ns}"[:63]
    kubectl.ok("create", "-f", "-",
               stdin=f"apiVersion: v1\nkind: Node\nmetadata: {{name: {node}}}\n")
    assert kubectl.ok("cordon", node).strip() == f"node/{node} cordoned"
    stored = api_get(server, f"/api/v1/nodes/{node}")
    assert stored is not None and stored["spec"]["unschedulable"] is True
    _, rows = table(kubectl.ok("get", "node", node))
    assert rows[0][1].endswith("SchedulingDisabled")
    assert kubectl.ok("uncordon", node).strip() == f"node/{node} uncordoned"
    stored = api_get(server, f"/api/v1/nodes/{node}")
    assert stored is not None and not stored["spec"].get("unschedulable")
    kubectl.ok("delete", "node", node)

    kubectl.ok("apply", "-f", fixture("pod-and-service.yaml"), "-n", ns)
    # The main resource ignores status; the status subresource takes it.
    kubectl.ok("patch", "pod", "web", "-n", ns, "--type=merge",
               "-p", '{"status":{"phase":"Running"}}')
    assert kubectl.ok("get", "pod", "web", "-n", ns, "-o", "jsonpath={.status.phase}") == (
        "Pending")
    kubectl.ok("patch", "pod", "web", "-n", ns, "--subresource=status", "--type=merge",
               "-p", '{"status":{"phase":"Running"}}')
    _, rows = table(kubectl.ok("get", "pods", "-n", ns))
    assert rows[0][:3] == ["web", "0/1", "Running"]

    assert kubectl.ok("create", "serviceaccount", "robot", "-n", ns).strip() == (
        "serviceaccount/robot created")
    _, rows = table(kubectl.ok("get", "serviceaccounts", "-n", ns))
    assert "robot" in [row[0] for row in rows]


def test_client_dry_run_output_piped_into_apply(server: Kapisup, kubectl: Kubectl,
                                                ns: str) -> None:
    # `--dry-run=client -o yaml` prints `creationTimestamp: null`, as JSON null: kube's typed
    # decoding takes a null as "unset", so the usual pipe into apply must work.
    manifest = kubectl.ok("create", "configmap", "piped", "--from-literal=a=b",
                          "--dry-run=client", "-o", "yaml")
    assert "creationTimestamp: null" in manifest
    out = kubectl.ok("apply", "-f", "-", "-n", ns, stdin=manifest)
    assert out.strip() == "configmap/piped created"
    out = kubectl.ok("create", "-f", "-", "-n", ns, stdin=manifest.replace("piped", "created"))
    assert out.strip() == "configmap/created created"
    stored = api_get(server, f"/api/v1/namespaces/{ns}/configmaps/piped")
    assert stored is not None and stored["data"] == {"a": "b"}
    assert stored["metadata"]["creationTimestamp"]  # set by the server, not left null
