"""A real kapisup (2 workers) storing in a real etcd: CRUD, watch, kubectl, 410 after a
compaction, and /readyz failing (with 503 for API calls) while etcd is away."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.etcd_cluster import EtcdCluster
from tests.integration.api_wire import JSON, MERGE, RawWatch, wait_status
from tests.integration.kubectl import Kubectl, wait_output
from tests.integration.server import Kapisup, running


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    with EtcdCluster(tmp_path_factory.mktemp("etcd-api"), members=1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def server(etcd: EtcdCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    with running(tmp_path_factory.mktemp("kapisup-etcd"), "--etcd-servers", etcd.endpoints,
                 workers=2, secure=False) as started:
        yield started


@pytest.fixture
def ns(server: Kapisup) -> str:
    name = f"etcd-{uuid.uuid4().hex[:8]}"
    made = requests.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": name}},
                         timeout=10)
    assert made.status_code == 201, made.text
    return name


def test_no_sqlite_database_is_made(server: Kapisup):
    assert not os.path.exists(os.path.join(server.data_dir, "kapisup.db"))
    assert server.get("/readyz").status_code == 200


def test_crud_and_watch_over_http_are_stored_in_kubes_layout(server: Kapisup, etcd, ns):
    base = f"{server.url}/api/v1/namespaces/{ns}/configmaps"
    created = requests.post(base, json={"metadata": {"name": "cm1"}, "data": {"a": "1"}},
                            timeout=10)
    assert created.status_code == 201, created.text
    listed = requests.get(base, timeout=10).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["cm1"]
    with RawWatch(server.insecure_port, f"/api/v1/namespaces/{ns}/configmaps?watch=1&"
                  f"resourceVersion={listed['metadata']['resourceVersion']}") as watch:
        assert watch.status == 200
        patched = requests.patch(f"{base}/cm1", data=json.dumps({"data": {"a": "2"}}),
                                 headers=MERGE, timeout=10)
        assert patched.status_code == 200, patched.text
        made = requests.post(base, data=json.dumps({"metadata": {"name": "cm2"}}),
                             headers=JSON, timeout=10)
        assert made.status_code == 201
        assert requests.delete(f"{base}/cm1", timeout=10).status_code == 200
        events = [watch.next() for _ in range(3)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "cm1"), ("ADDED", "cm2"), ("DELETED", "cm1")]
    assert events[0]["object"]["data"] == {"a": "2"}
    # etcd holds exactly kube's keys, and a resourceVersion is the key's mod_revision
    keys = etcd.etcdctl("get", "--prefix", f"/registry/configmaps/{ns}/", "--keys-only").split()
    assert keys == [f"/registry/configmaps/{ns}/cm2"]
    stored = json.loads(etcd.etcdctl("get", f"/registry/configmaps/{ns}/cm2", "-w", "json"))
    assert str(stored["kvs"][0]["mod_revision"]) == made.json()["metadata"]["resourceVersion"]
    assert requests.get(f"{base}/cm1", timeout=10).status_code == 404


def test_kubectl_create_get_watch_delete(server: Kapisup, ns, tmp_path):
    kubectl = Kubectl(server.url, tmp_path)
    kubectl.ok("create", "configmap", "settings", "-n", ns, "--from-literal=mode=fast")
    got = json.loads(kubectl.ok("get", "configmap", "settings", "-n", ns, "-o", "json"))
    assert got["data"] == {"mode": "fast"}
    with kubectl.background("get", "configmaps", "-n", ns, "--watch",
                            "--output-watch-events") as watch:
        wait_output(watch, "settings")
        kubectl.ok("label", "configmap", "settings", "-n", ns, "tier=gold")
        kubectl.ok("delete", "configmap", "settings", "-n", ns)
        text = wait_output(watch, "DELETED")
    assert "MODIFIED" in text
    assert kubectl.run("get", "configmap", "settings", "-n", ns).rc != 0


def test_a_compacted_resource_version_is_410_gone(server: Kapisup, etcd, ns):
    base = f"{server.url}/api/v1/namespaces/{ns}/configmaps"
    first = requests.post(base, json={"metadata": {"name": "old"}}, timeout=10).json()
    old = first["metadata"]["resourceVersion"]
    latest = requests.patch(f"{base}/old", data=json.dumps({"data": {"x": "1"}}), headers=MERGE,
                            timeout=10).json()["metadata"]["resourceVersion"]
    etcd.etcdctl("compaction", latest)
    gone = requests.get(f"{base}?resourceVersion={int(old) - 1}&resourceVersionMatch=Exact",
                        timeout=10)
    assert gone.status_code == 410, gone.text
    assert gone.json()["reason"] in ("Expired", "Gone")
    with RawWatch(server.insecure_port,
                  f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={old}") as watch:
        if watch.status == 200:  # kube reports it in the stream
            event = watch.next()
            assert event["type"] == "ERROR" and event["object"]["code"] == 410
        else:
            assert watch.status == 410
    ok = requests.get(f"{base}?resourceVersion={latest}&resourceVersionMatch=Exact", timeout=10)
    assert ok.status_code == 200


def test_readyz_fails_while_etcd_is_away_and_recovers(server: Kapisup, etcd, ns):
    etcd.stop(0)
    try:
        failed = wait_status(f"{server.url}/readyz?verbose", 500)  # kube's code for a failed check
        assert "[-]etcd failed" in failed.text
        answer = requests.get(f"{server.url}/api/v1/namespaces/{ns}/configmaps", timeout=30)
        assert answer.status_code == 503, answer.text
        assert answer.json()["kind"] == "Status"
    finally:
        etcd.start(0)
    wait_status(f"{server.url}/readyz", 200)
    made = requests.post(f"{server.url}/api/v1/namespaces/{ns}/configmaps",
                         json={"metadata": {"name": "after"}}, timeout=10)
    assert made.status_code == 201, made.text
