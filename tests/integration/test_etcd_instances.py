"""Two kapisup instances (masters with 2 workers each, on their own ports) sharing one
3-member etcd cluster, as kube-apiservers behind a load balancer share theirs.

What one instance writes, the other reads, lists and watches; a CRD made on A is served on B;
an RBAC binding made on A lets a user through on B; and the controllers every worker of every
instance runs agree: a namespace is finalized once, default namespaces and bootstrap policy are
written once, and a further instance starting on the same etcd writes nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from tests.etcd_cluster import EtcdCluster
from tests.integration.api_wire import RawWatch, names
from tests.integration.server import Kapisup, running, wait_for

POLL = 5.0  # "within a second", polled with a bound of a few
TOKENS = 'admin-token,admin,1,"system:masters"\nviewer-token,viewer,2,""\n'
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.multi.example.com"},
    "spec": {
        "group": "multi.example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
            "openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}],
    },
}


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    with EtcdCluster(tmp_path_factory.mktemp("etcd-multi"), members=3) as cluster:
        yield cluster


def instance(tmp_path: Path, etcd: EtcdCluster,
             order: list[int]) -> contextlib.AbstractContextManager[Kapisup]:
    """A master with 2 workers on the shared etcd, RBAC on its secure port, members listed in
    `order` (so the two instances start on different members)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(TOKENS)
    servers = ",".join(etcd.client_urls[i] for i in order)
    return running(tmp_path, "--etcd-servers", servers, "--authorization-mode", "RBAC",
                   "--token-auth-file", str(tokens), workers=2)


@pytest.fixture(scope="module")
def pair(etcd: EtcdCluster, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Kapisup, Kapisup]]:
    base = tmp_path_factory.mktemp("multi")
    with instance(base / "a", etcd, [0, 1, 2]) as a, instance(base / "b", etcd, [2, 1, 0]) as b:
        yield a, b


@pytest.fixture
def ns(pair: tuple[Kapisup, Kapisup]) -> str:
    name = f"multi-{uuid.uuid4().hex[:8]}"
    made = requests.post(f"{pair[0].url}/api/v1/namespaces", json={"metadata": {"name": name}},
                         timeout=10)
    assert made.status_code == 201, made.text
    return name


def fresh(url: str) -> requests.Response:
    """A GET on its own connection, so the kernel spreads them over an instance's workers."""
    return requests.get(url, headers={"Connection": "close"}, timeout=10)


def on_all_workers(url: str, code: int) -> bool:
    return all(fresh(url).status_code == code for _ in range(6))


def test_a_write_on_a_is_read_listed_and_watched_on_b(pair, ns):
    a, b = pair
    listed = requests.get(f"{b.url}/api/v1/namespaces/{ns}/configmaps", timeout=10).json()
    with RawWatch(b.insecure_port, f"/api/v1/namespaces/{ns}/configmaps?watch=1&"
                  f"resourceVersion={listed['metadata']['resourceVersion']}") as watch:
        assert watch.status == 200
        base_a = f"{a.url}/api/v1/namespaces/{ns}/configmaps"
        made = requests.post(base_a, json={"metadata": {"name": "cm1"}, "data": {"k": "a"}},
                             timeout=10)
        assert made.status_code == 201, made.text
        patched = requests.patch(f"{base_a}/cm1", data=json.dumps({"data": {"k": "b"}}),
                                 headers={"Content-Type": "application/merge-patch+json"},
                                 timeout=10)
        assert patched.status_code == 200, patched.text
        assert requests.delete(f"{base_a}/cm1", timeout=10).status_code == 200
        events = watch.until(lambda e: e["type"] == "DELETED")
    assert names(events) == [("ADDED", "cm1"), ("MODIFIED", "cm1"), ("DELETED", "cm1")]
    assert events[1]["object"]["data"] == {"k": "b"}
    # the same object, at the same resourceVersion, through either instance
    again = requests.post(f"{a.url}/api/v1/namespaces/{ns}/configmaps",
                          json={"metadata": {"name": "cm2"}, "data": {"k": "c"}}, timeout=10)
    assert again.status_code == 201
    got = fresh(f"{b.url}/api/v1/namespaces/{ns}/configmaps/cm2")
    assert got.status_code == 200 and got.json()["data"] == {"k": "c"}
    assert got.json()["metadata"]["resourceVersion"] == again.json()["metadata"]["resourceVersion"]
    items = requests.get(f"{b.url}/api/v1/namespaces/{ns}/configmaps", timeout=10).json()
    assert [i["metadata"]["name"] for i in items["items"]] == ["cm2"]
    # an update through B with A's resourceVersion wins; a second with it is a conflict
    body = again.json()
    body["data"] = {"k": "d"}
    assert requests.put(f"{b.url}/api/v1/namespaces/{ns}/configmaps/cm2", json=body,
                        timeout=10).status_code == 200
    stale = requests.put(f"{a.url}/api/v1/namespaces/{ns}/configmaps/cm2", json=body,
                         timeout=10)
    assert stale.status_code == 409, stale.text


def test_a_crd_created_on_a_is_served_on_b(pair, ns):
    a, b = pair
    made = requests.post(f"{a.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                         json=CRD, timeout=10)
    assert made.status_code == 201, made.text
    url_b = f"{b.url}/apis/multi.example.com/v1/namespaces/{ns}/widgets"
    wait_for(lambda: on_all_workers(url_b, 200), POLL, "the CRD served on every worker of B")
    group = fresh(f"{b.url}/apis/multi.example.com/v1").json()
    assert [r["name"] for r in group["resources"]] == ["widgets"]
    widget = {"apiVersion": "multi.example.com/v1", "kind": "Widget",
              "metadata": {"name": "w1"}, "spec": {"size": 3}}
    assert requests.post(url_b, json=widget, timeout=10).status_code == 201
    got = fresh(f"{a.url}/apis/multi.example.com/v1/namespaces/{ns}/widgets/w1")
    assert got.status_code == 200 and got.json()["spec"] == {"size": 3}
    # deleting it on B stops A serving it
    gone = requests.delete(f"{b.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                           f"{CRD['metadata']['name']}", timeout=10)
    assert gone.status_code == 200, gone.text
    wait_for(lambda: on_all_workers(
        f"{a.url}/apis/multi.example.com/v1/namespaces/{ns}/widgets", 404), POLL,
        "the CRD gone from every worker of A")


def _as(server: Kapisup, token: str, path: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRequestWarning)
        return requests.get(f"https://127.0.0.1:{server.secure_port}{path}",
                            headers={"Authorization": f"Bearer {token}",
                                     "Connection": "close"},
                            verify=False, timeout=10).status_code


def test_an_rbac_binding_made_on_a_takes_effect_on_b(pair, ns):
    a, b = pair
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert all(_as(b, "viewer-token", path) == 403 for _ in range(4))
    assert _as(b, "admin-token", path) == 200
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "viewer-view"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                             "name": "viewer"}]}
    made = requests.post(f"{a.url}/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/"
                         "rolebindings", json=binding, timeout=10)
    assert made.status_code == 201, made.text
    wait_for(lambda: all(_as(b, "viewer-token", path) == 200 for _ in range(6)), POLL,
             "the binding in force on every worker of B")
    assert _as(b, "viewer-token", f"/api/v1/namespaces/{ns}/secrets") == 403
    other = f"/api/v1/namespaces/{ns}x/configmaps"
    assert _as(b, "viewer-token", other) == 403


def test_a_namespace_deleted_on_b_is_finalized_once(pair, ns):
    a, b = pair
    for i in range(5):
        made = requests.post(f"{a.url}/api/v1/namespaces/{ns}/configmaps",
                             json={"metadata": {"name": f"c{i}"}}, timeout=10)
        assert made.status_code == 201
    marks = (a.mark(), b.mark())
    deleted = requests.delete(f"{b.url}/api/v1/namespaces/{ns}", timeout=10)
    assert deleted.status_code == 200, deleted.text
    wait_for(lambda: fresh(f"{a.url}/api/v1/namespaces/{ns}").status_code == 404, 20,
             "the namespace finalized")
    assert fresh(f"{b.url}/api/v1/namespaces/{ns}").status_code == 404
    listed = fresh(f"{a.url}/api/v1/namespaces/{ns}/configmaps").json()
    assert listed["items"] == []
    finals = [e for server, mark in zip(pair, marks, strict=True)
              for e in server.events("namespace deleted", mark) if e.get("namespace") == ns]
    assert len(finals) == 1, finals  # one worker of one instance deleted it; the rest saw it gone
    # and the same name can be made again at once
    again = requests.post(f"{a.url}/api/v1/namespaces", json={"metadata": {"name": ns}},
                          timeout=10)
    assert again.status_code == 201, again.text


def test_default_namespaces_and_bootstrap_policy_are_written_once(pair, etcd, tmp_path):
    a, b = pair
    spaces = fresh(f"{b.url}/api/v1/namespaces").json()["items"]
    names_ = [n["metadata"]["name"] for n in spaces]
    for default in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert names_.count(default) == 1
    roles = fresh(f"{a.url}/apis/rbac.authorization.k8s.io/v1/clusterroles").json()["items"]
    admin = next(r for r in roles if r["metadata"]["name"] == "admin")
    assert admin["rules"], "the aggregation controllers filled admin"

    # nothing fights: with A and B idle, etcd's revision stands still (a bootstrap step or an
    # aggregation undone by another worker would write again and again) ...
    def revision() -> int:
        return int(json.loads(etcd.etcdctl("get", "/registry/none", "-w", "json"))
                   ["header"]["revision"])

    idle = revision()
    time.sleep(1.0)
    assert revision() == idle
    # ... and a third instance starting on the same etcd (its 2 workers bootstrap and sync)
    # writes nothing: every controller and bootstrap step reads first
    before = revision()
    with instance(tmp_path / "c", etcd, [1, 0, 2]) as c:
        wait_for(lambda: on_all_workers(f"{c.url}/readyz", 200), 30, "C ready")
        assert fresh(f"{c.url}/api/v1/namespaces/default").status_code == 200
        time.sleep(1.0)  # let the controllers' first sync finish: they would write now
        assert revision() == before
