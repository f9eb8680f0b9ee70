"""Kube's object and request semantics over HTTP, against a real master with two workers.

Names, metadata, generation, finalizers, dry runs, field validation, request bodies and media
types, list resourceVersion semantics and pagination, namespaces, secrets, Status shapes,
protobuf bodies recorded from kubectl. Watches, discovery, OpenAPI and durability are in
test_api_watch.py and test_api_discovery.py.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.api_wire import JSON, MERGE, wait_status
from tests.integration.server import Kapisup, running, wait_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protobuf"
PROTOBUF = {"Content-Type": "application/vnd.kubernetes.protobuf",
            "Accept": "application/vnd.kubernetes.protobuf,application/json"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def cms(server: Kapisup, ns: str) -> str:
    return f"{server.url}/api/v1/namespaces/{ns}/configmaps"


def post(url: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(url, json=body, timeout=10, **kwargs)


def status_of(response: requests.Response, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    status = response.json()
    assert (status["kind"], status["apiVersion"], status["status"]) == ("Status", "v1", "Failure")
    assert (status["code"], status["reason"]) == (code, reason)
    return status


# --- names and metadata ------------------------------------------------------------------------


def test_invalid_name_is_422_with_causes(server: Kapisup, ns: str) -> None:
    status = status_of(post(cms(server, ns), {"metadata": {"name": "Bad_Name"}}), 422, "Invalid")
    assert status["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: '
                                         'Invalid value: "Bad_Name": a lowercase RFC 1123')
    assert status["details"]["name"] == "Bad_Name"
    assert status["details"]["kind"] == "ConfigMap"
    cause = status["details"]["causes"][0]
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", "metadata.name")

    missing = status_of(post(cms(server, ns), {"metadata": {}}), 422, "Invalid")
    assert missing["details"]["causes"][0]["reason"] == "FieldValueRequired"
    assert missing["details"]["causes"][0]["field"] == "metadata.name"
    # services use DNS-1035 labels: no leading digit
    svc = post(f"{server.url}/api/v1/namespaces/{ns}/services",
               {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}})
    assert status_of(svc, 422, "Invalid")["details"]["causes"][0]["field"] == "metadata.name"


def test_generate_name_and_server_set_metadata(server: Kapisup, ns: str) -> None:
    made = post(cms(server, ns), {"metadata": {"generateName": "gen-", "uid": "mine",
                                               "resourceVersion": "7"}})
    assert made.status_code == 201, made.text
    meta = made.json()["metadata"]
    assert re.fullmatch(r"gen-[a-z0-9]{5}", meta["name"])
    assert meta["generateName"] == "gen-"
    assert UUID.match(meta["uid"])
    assert TIME.match(meta["creationTimestamp"])
    assert int(meta["resourceVersion"]) > 0 and meta["resourceVersion"] != "7"
    assert "generation" not in meta  # configmaps have no spec
    got = requests.get(f"{cms(server, ns)}/{meta['name']}", timeout=10).json()
    assert got["metadata"]["uid"] == meta["uid"]
    assert got["metadata"]["resourceVersion"] == meta["resourceVersion"]

    other = post(cms(server, ns), {"metadata": {"generateName": "gen-"}}).json()
    assert other["metadata"]["name"] != meta["name"]


def test_labels_and_annotations_validation(server: Kapisup, ns: str) -> None:
    bad_key = post(cms(server, ns), {"metadata": {"name": "a", "labels": {"bad key!": "v"}}})
    assert status_of(bad_key, 422, "Invalid")["details"]["causes"][0]["field"] == \
        "metadata.labels"
    long_value = post(cms(server, ns), {"metadata": {"name": "a", "labels": {"k": "v" * 64}}})
    assert "must be no more than 63 characters" in status_of(long_value, 422, "Invalid")["message"]
    bad_annotation = post(cms(server, ns), {"metadata": {"name": "a",
                                                         "annotations": {"/x": "v"}}})
    assert status_of(bad_annotation, 422, "Invalid")["details"]["causes"][0]["field"] == \
        "metadata.annotations"
    huge = post(cms(server, ns), {"metadata": {"name": "a",
                                               "annotations": {"big": "x" * 262145}}})
    assert "Too long" in status_of(huge, 422, "Invalid")["message"]
    good = post(cms(server, ns), {"metadata": {"name": "a", "labels": {"app.k8s.io/x": "y_1"},
                                               "annotations": {"note": "any text: ok"}}})
    assert good.status_code == 201, good.text
    # an update is held to the same rules, each broken one reported once
    obj = good.json()
    obj["metadata"]["labels"] = {"bad key!": "v"}
    updated = requests.put(f"{cms(server, ns)}/a", json=obj, timeout=10)
    assert [c["field"] for c in status_of(updated, 422, "Invalid")["details"]["causes"]] == [
        "metadata.labels"]


def test_owner_references_are_stored(server: Kapisup, ns: str) -> None:
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent",
             "uid": str(uuid.uuid4()), "controller": True}
    made = post(cms(server, ns), {"metadata": {"name": "child", "ownerReferences": [owner]}})
    assert made.status_code == 201, made.text
    got = requests.get(f"{cms(server, ns)}/child", timeout=10).json()
    assert got["metadata"]["ownerReferences"] == [owner]


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.sem.example.com"},
    "spec": {
        "group": "sem.example.com", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}}}],
    },
}


@pytest.fixture(scope="module")
def gadgets(server: Kapisup) -> str:
    made = post(f"{server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert made.status_code == 201, made.text
    url = f"{server.url}/apis/sem.example.com/v1/namespaces/default/gadgets"
    # both workers serve it: poll with fresh connections until several in a row answer
    wait_for(lambda: all(requests.get(url, timeout=10).status_code == 200 for _ in range(6)),
             what="gadgets served")
    return url


def test_generation_follows_spec_changes_only(gadgets: str) -> None:
    made = post(gadgets, {"apiVersion": "sem.example.com/v1", "kind": "Gadget",
                          "metadata": {"name": "g1"}, "spec": {"size": 1}})
    assert made.status_code == 201, made.text
    assert made.json()["metadata"]["generation"] == 1

    def patch(body: str, sub: str = "") -> dict[str, Any]:
        response = requests.patch(f"{gadgets}/g1{sub}", data=body, headers=MERGE, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    assert patch('{"spec":{"size":2}}')["metadata"]["generation"] == 2
    labelled = patch('{"metadata":{"labels":{"a":"b"}}}')
    assert labelled["metadata"]["generation"] == 2
    assert labelled["metadata"]["labels"] == {"a": "b"}
    status = patch('{"status":{"phase":"Ready"}}', "/status")
    assert status["metadata"]["generation"] == 2 and status["status"] == {"phase": "Ready"}
    # status is ignored by the main resource
    ignored = patch('{"status":{"phase":"Other"},"spec":{"size":3}}')
    assert ignored["status"] == {"phase": "Ready"}
    assert ignored["metadata"]["generation"] == 3


def test_finalizers_keep_the_object_until_cleared(server: Kapisup, ns: str) -> None:
    url = f"{cms(server, ns)}/held"
    made = post(cms(server, ns), {"metadata": {"name": "held",
                                               "finalizers": ["example.com/hold"]}})
    assert made.status_code == 201, made.text
    deleted = requests.delete(url, timeout=10)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["kind"] == "ConfigMap" and TIME.match(body["metadata"]["deletionTimestamp"])
    still = requests.get(url, timeout=10)
    assert still.status_code == 200
    assert still.json()["metadata"]["deletionTimestamp"] == body["metadata"]["deletionTimestamp"]
    # a second delete changes nothing
    again = requests.delete(url, timeout=10).json()
    assert again["metadata"]["resourceVersion"] == still.json()["metadata"]["resourceVersion"]
    # new finalizers may not be added once deleting
    refused = requests.patch(url, data='{"metadata":{"finalizers":["a/b","example.com/hold"]}}',
                             headers=MERGE, timeout=10)
    assert refused.status_code == 422

    rv = still.json()["metadata"]["resourceVersion"]
    cleared = requests.patch(url, data='{"metadata":{"finalizers":null}}', headers=MERGE,
                             timeout=10)
    assert cleared.status_code == 200, cleared.text
    assert wait_status(url, 404).status_code == 404
    events = requests.get(f"{cms(server, ns)}?watch=true&resourceVersion={rv}&timeoutSeconds=1",
                          timeout=10).text.splitlines()
    assert '"DELETED"' in events[-1] and '"held"' in events[-1]


def test_dry_run_stores_nothing(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    dry = post(f"{url}?dryRun=All", {"metadata": {"name": "dry"}, "data": {"a": "1"}})
    assert dry.status_code == 201, dry.text
    assert dry.json()["metadata"]["uid"] and dry.json()["data"] == {"a": "1"}
    assert requests.get(f"{url}/dry", timeout=10).status_code == 404

    assert post(url, {"metadata": {"name": "real"}, "data": {"a": "1"}}).status_code == 201
    before = requests.get(f"{url}/real", timeout=10).json()
    patched = requests.patch(f"{url}/real?dryRun=All", data='{"data":{"a":"2"}}', headers=MERGE,
                             timeout=10)
    assert patched.status_code == 200 and patched.json()["data"] == {"a": "2"}
    before["data"]["a"] = "3"
    put = requests.put(f"{url}/real?dryRun=All", json=before, timeout=10)
    assert put.status_code == 200 and put.json()["data"] == {"a": "3"}
    assert requests.delete(f"{url}/real?dryRun=All", timeout=10).status_code == 200
    after = requests.get(f"{url}/real", timeout=10).json()
    assert after["data"] == {"a": "1"}
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    wrong = post(f"{url}?dryRun=Some", {"metadata": {"name": "x"}})
    status_of(wrong, 400, "BadRequest")


def test_field_validation_modes(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    body = {"metadata": {"name": "v", "bogus": 1}, "data": {"a": "1"}, "extra": True}
    strict = status_of(post(f"{url}?fieldValidation=Strict", body), 400, "BadRequest")
    assert strict["message"] == ('strict decoding error: unknown field "extra", '
                                 'unknown field "metadata.bogus"') or \
        strict["message"] == ('strict decoding error: unknown field "metadata.bogus", '
                              'unknown field "extra"')
    warn = post(f"{url}?fieldValidation=Warn", body)
    assert warn.status_code == 201
    warning = warn.headers["Warning"]
    assert '299 - "unknown field \\"extra\\""' in warning
    assert "extra" not in warn.json()
    body["metadata"]["name"] = "i"
    ignore = post(f"{url}?fieldValidation=Ignore", body)
    assert ignore.status_code == 201 and "Warning" not in ignore.headers
    assert "extra" not in requests.get(f"{url}/i", timeout=10).json()
    bad = post(f"{url}?fieldValidation=Loud", body)
    assert "fieldValidation" in status_of(bad, 400, "BadRequest")["message"]


def test_type_meta_must_match_the_url(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    wrong_version = post(url, {"apiVersion": "apps/v1", "kind": "ConfigMap",
                               "metadata": {"name": "t"}})
    assert "apps/v1" in status_of(wrong_version, 400, "BadRequest")["message"]
    wrong_kind = post(url, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t"}})
    assert "Secret" in status_of(wrong_kind, 400, "BadRequest")["message"]
    wrong_ns = post(url, {"metadata": {"name": "t", "namespace": "elsewhere"}})
    status_of(wrong_ns, 400, "BadRequest")
    assert requests.get(f"{url}/t", timeout=10).status_code == 404


# --- bodies and media types --------------------------------------------------------------------


def test_request_bodies_and_media_types(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    as_yaml = requests.post(url, data=b"metadata:\n  name: y\ndata:\n  a: '1'\n",
                            headers={"Content-Type": "application/yaml"}, timeout=10)
    assert as_yaml.status_code == 201 and as_yaml.json()["data"] == {"a": "1"}
    # no Content-Type at all (the Python client): JSON
    bare = requests.Request("POST", url, data=b'{"metadata":{"name":"bare"}}').prepare()
    bare.headers.pop("Content-Type", None)
    with requests.Session() as session:
        assert session.send(bare, timeout=10).status_code == 201
    charset = requests.post(url, data=b'{"metadata":{"name":"cs"}}', timeout=10,
                            headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status_code == 201

    malformed = requests.post(url, data=b'{"metadata":', headers=JSON, timeout=10)
    status_of(malformed, 400, "BadRequest")
    not_object = requests.post(url, data=b"[1,2]", headers=JSON, timeout=10)
    status_of(not_object, 400, "BadRequest")
    unknown = requests.post(url, data=b"a,b", headers={"Content-Type": "text/csv"}, timeout=10)
    assert "text/csv" in status_of(unknown, 415, "UnsupportedMediaType")["message"]
    big = b'{"metadata":{"name":"big"},"data":{"a":"' + b"x" * (3 * 1024 * 1024) + b'"}}'
    too_large = requests.post(url, data=big, headers=JSON, timeout=30)
    status_of(too_large, 413, "RequestEntityTooLarge")
    assert requests.get(f"{url}/big", timeout=10).status_code == 404

    for patch_type in ("text/plain", "application/json"):
        patch = requests.patch(f"{url}/y", data=b'{"data":{}}', timeout=10,
                               headers={"Content-Type": patch_type})
        status_of(patch, 415, "UnsupportedMediaType")
    as_yaml_out = requests.get(f"{url}/y", headers={"Accept": "application/yaml"}, timeout=10)
    assert as_yaml_out.headers["Content-Type"] == "application/yaml"
    assert "name: y" in as_yaml_out.text
    refused = requests.get(f"{url}/y", headers={"Accept": "text/html"}, timeout=10)
    status_of(refused, 406, "NotAcceptable")


def test_protobuf_bodies_from_kubectl(server: Kapisup) -> None:
    """Bodies kubectl 1.32 really sent (tests/fixtures/protobuf), stored as its JSON says."""
    cases = [("namespace", "/api/v1/namespaces", "/api/v1/namespaces/demo"),
             ("configmap", "/api/v1/namespaces/demo/configmaps",
              "/api/v1/namespaces/demo/configmaps/cm1"),
             ("secret", "/api/v1/namespaces/default/secrets",
              "/api/v1/namespaces/default/secrets/s1"),
             ("service", "/api/v1/namespaces/default/services",
              "/api/v1/namespaces/default/services/svc1")]
    for fixture, collection, path in cases:
        body = (FIXTURES / f"{fixture}.bin").read_bytes()
        assert body.startswith(b"k8s\x00")
        made = requests.post(f"{server.url}{collection}?fieldManager=kubectl-create"
                             "&fieldValidation=Strict", data=body, headers=PROTOBUF, timeout=10)
        assert made.status_code == 201, (fixture, made.text)
        assert made.headers["Content-Type"] == "application/json"
        stored = requests.get(server.url + path, timeout=10).json()
        expected = json.loads((FIXTURES / f"{fixture}.json").read_text())
        assert stored["metadata"]["name"] == expected["metadata"]["name"]
        assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["kubectl-create"]
        if fixture == "configmap":
            assert stored["data"] == expected["data"]
        if fixture == "secret":
            assert stored["data"] == expected["data"]
            assert stored["type"] == "Opaque"  # defaulted: kubectl sent none
        if fixture == "service":
            assert stored["spec"]["ports"][0]["port"] == expected["spec"]["ports"][0]["port"]
            assert stored["spec"]["selector"] == expected["spec"]["selector"]
            assert stored["spec"]["clusterIP"]
    broken = requests.post(f"{server.url}/api/v1/namespaces", data=b"k8s\x00\x0a\xff",
                           headers=PROTOBUF, timeout=10)
    status_of(broken, 400, "BadRequest")


# --- list semantics ----------------------------------------------------------------------------


def test_list_resource_version_semantics(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    first = post(url, {"metadata": {"name": "one"}}).json()
    at_first = first["metadata"]["resourceVersion"]
    post(url, {"metadata": {"name": "two"}})
    assert requests.delete(f"{url}/one", timeout=10).status_code == 200

    latest = requests.get(url, timeout=10).json()
    assert [i["metadata"]["name"] for i in latest["items"]] == ["two"]
    assert int(latest["metadata"]["resourceVersion"]) > int(at_first)
    assert latest["kind"] == "ConfigMapList" and "apiVersion" not in latest["items"][0]
    any_version = requests.get(f"{url}?resourceVersion=0", timeout=10).json()
    assert [i["metadata"]["name"] for i in any_version["items"]] == ["two"]
    exact = requests.get(f"{url}?resourceVersion={at_first}&resourceVersionMatch=Exact",
                         timeout=10).json()
    assert [i["metadata"]["name"] for i in exact["items"]] == ["one"]
    assert exact["metadata"]["resourceVersion"] == at_first
    not_older = requests.get(f"{url}?resourceVersion={at_first}"
                             "&resourceVersionMatch=NotOlderThan", timeout=10).json()
    assert [i["metadata"]["name"] for i in not_older["items"]] == ["two"]

    too_large = requests.get(f"{url}?resourceVersion=999999999", timeout=10)
    status = status_of(too_large, 504, "Timeout")
    assert status["message"].startswith("Too large resource version")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    status_of(requests.get(f"{url}?resourceVersion=abc", timeout=10), 400, "BadRequest")


def test_pagination_is_consistent_at_one_revision(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    for i in range(6):
        post(url, {"metadata": {"name": f"p{i}"}, "data": {"v": "old"}})
    page1 = requests.get(f"{url}?limit=2", timeout=10).json()
    revision = page1["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in page1["items"]] == ["p0", "p1"]
    assert page1["metadata"]["remainingItemCount"] == 4
    # writes between pages: none of them may show
    post(url, {"metadata": {"name": "p3a"}})
    post(url, {"metadata": {"name": "p9"}})
    assert requests.delete(f"{url}/p4", timeout=10).status_code == 200
    assert requests.patch(f"{url}/p5", data='{"data":{"v":"new"}}', headers=MERGE,
                          timeout=10).status_code == 200
    seen = page1["items"]
    token = page1["metadata"]["continue"]
    for _ in range(5):
        page = requests.get(url, params={"limit": 2, "continue": token}, timeout=10).json()
        assert page["metadata"]["resourceVersion"] == revision
        seen += page["items"]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert [i["metadata"]["name"] for i in seen] == [f"p{i}" for i in range(6)]
    assert seen[-1]["data"] == {"v": "old"}
    bad = requests.get(url, params={"limit": 2, "continue": "not-a-token"}, timeout=10)
    status_of(bad, 400, "BadRequest")


def test_continue_token_from_compacted_revision_is_410(tmp_path: Any) -> None:
    with running(tmp_path, "--storage-history", "1s", workers=1, secure=False) as short:
        url = cms(short, "default")
        for i in range(3):
            post(url, {"metadata": {"name": f"c{i}"}})
        token = requests.get(f"{url}?limit=1", timeout=10).json()["metadata"]["continue"]
        counter = iter(range(1000))

        def expired() -> list[requests.Response]:
            post(url, {"metadata": {"name": f"later-{next(counter)}"}})
            answer = requests.get(url, params={"limit": 1, "continue": token}, timeout=10)
            return [answer] if answer.status_code != 200 else []  # a Response is falsy on 4xx

        gone = wait_for(expired, timeout=30, what="the continue token to expire")[0]
        status = status_of(gone, 410, "Expired")
        assert status["message"].startswith("The provided continue parameter is too old")


# --- namespaces and secrets --------------------------------------------------------------------


def test_namespace_lifecycle(server: Kapisup) -> None:
    listed = requests.get(f"{server.url}/api/v1/namespaces", timeout=10).json()
    names = {i["metadata"]["name"] for i in listed["items"]}
    assert {"default", "kube-system", "kube-public"} <= names
    default = requests.get(f"{server.url}/api/v1/namespaces/default", timeout=10).json()
    assert default["status"]["phase"] == "Active"
    assert default["spec"]["finalizers"] == ["kubernetes"]

    missing = post(cms(server, "no-such-ns"), {"metadata": {"name": "x"}})
    status = status_of(missing, 404, "NotFound")
    assert status["message"] == 'namespaces "no-such-ns" not found'

    name = "term-" + uuid.uuid4().hex[:6]
    assert post(f"{server.url}/api/v1/namespaces", {"metadata": {"name": name}}).ok
    assert post(cms(server, name), {"metadata": {"name": "plain"}}).ok
    assert post(cms(server, name), {"metadata": {"name": "held",
                                                 "finalizers": ["example.com/x"]}}).ok
    deleting = requests.delete(f"{server.url}/api/v1/namespaces/{name}", timeout=10)
    assert deleting.status_code == 200
    assert deleting.json()["status"]["phase"] == "Terminating"
    # the namespace controller empties it; the held object stays, and so does the namespace
    wait_status(f"{cms(server, name)}/plain", 404)
    assert requests.get(f"{cms(server, name)}/held", timeout=10).json()["metadata"][
        "deletionTimestamp"]
    refused = post(cms(server, name), {"metadata": {"name": "new"}})
    status = status_of(refused, 403, "Forbidden")
    assert status["message"] == (f"unable to create new content in namespace {name} because "
                                 "it is being terminated")
    assert status["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    ns_now = requests.get(f"{server.url}/api/v1/namespaces/{name}", timeout=10).json()
    assert ns_now["status"]["phase"] == "Terminating"

    cleared = requests.patch(f"{cms(server, name)}/held", data='{"metadata":{"finalizers":[]}}',
                             headers=MERGE, timeout=10)
    assert cleared.status_code == 200
    assert wait_status(f"{server.url}/api/v1/namespaces/{name}", 404).status_code == 404


def test_namespaces_cannot_be_deleted_as_a_collection(server: Kapisup) -> None:
    refused = requests.delete(f"{server.url}/api/v1/namespaces", timeout=10)
    status = status_of(refused, 405, "MethodNotAllowed")
    assert status["message"] == "the server does not allow this method on the requested resource"
    assert requests.get(f"{server.url}/api/v1/namespaces/default", timeout=10).status_code == 200


def test_no_delete_of_every_namespace_objects_at_once(server: Kapisup, ns: str) -> None:
    assert post(cms(server, ns), {"metadata": {"name": "survivor"}}).status_code == 201
    refused = requests.delete(f"{server.url}/api/v1/configmaps", timeout=10)
    status_of(refused, 405, "MethodNotAllowed")
    status_of(requests.post(f"{server.url}/api/v1/configmaps", timeout=10, json={
        "metadata": {"name": "x", "namespace": ns}}), 405, "MethodNotAllowed")
    assert requests.get(f"{cms(server, ns)}/survivor", timeout=10).status_code == 200
    # within one namespace, deletecollection works
    emptied = requests.delete(cms(server, ns), timeout=10)
    assert emptied.status_code == 200
    assert [i["metadata"]["name"] for i in emptied.json()["items"]] == ["survivor"]
    assert requests.get(cms(server, ns), timeout=10).json()["items"] == []


def test_secret_string_data_and_base64(server: Kapisup, ns: str) -> None:
    url = f"{server.url}/api/v1/namespaces/{ns}/secrets"
    made = post(url, {"metadata": {"name": "s"}, "data": {"a": base64.b64encode(b"1").decode()},
                      "stringData": {"b": "two", "a": "over"}})
    assert made.status_code == 201, made.text
    secret = requests.get(f"{url}/s", timeout=10).json()
    assert secret["data"] == {"a": base64.b64encode(b"over").decode(),
                              "b": base64.b64encode(b"two").decode()}
    assert "stringData" not in secret
    assert secret["type"] == "Opaque"
    invalid = post(url, {"metadata": {"name": "bad"}, "data": {"k": "!!not base64"}})
    assert invalid.status_code in (400, 422), invalid.text
    assert invalid.json()["kind"] == "Status"
    assert requests.get(f"{url}/bad", timeout=10).status_code == 404


def test_well_known_secret_types_need_their_keys(server: Kapisup, ns: str) -> None:
    url = f"{server.url}/api/v1/namespaces/{ns}/secrets"
    tls = post(url, {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
                     "stringData": {"tls.crt": "c"}})
    causes = status_of(tls, 422, "Invalid")["details"]["causes"]
    assert [c["field"] for c in causes] == ["data[tls.key]"]
    bad_json = post(url, {"metadata": {"name": "pull"}, "type": "kubernetes.io/dockerconfigjson",
                          "stringData": {".dockerconfigjson": "{not json"}})
    assert status_of(bad_json, 422, "Invalid")["details"]["causes"][0]["field"] == \
        "data[.dockerconfigjson]"
    basic = post(url, {"metadata": {"name": "basic"}, "type": "kubernetes.io/basic-auth",
                       "stringData": {"username": "u"}})
    assert basic.status_code == 201, basic.text


# --- Status objects ----------------------------------------------------------------------------


def test_status_shapes(server: Kapisup, ns: str) -> None:
    url = cms(server, ns)
    missing = status_of(requests.get(f"{url}/nope", timeout=10), 404, "NotFound")
    assert missing["message"] == 'configmaps "nope" not found'
    assert missing["details"] == {"name": "nope", "kind": "configmaps"}
    lease = requests.get(f"{server.url}/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/x",
                         timeout=10)
    assert status_of(lease, 404, "NotFound")["details"] == {
        "name": "x", "group": "coordination.k8s.io", "kind": "leases"}
    assert status_of(requests.get(f"{server.url}/api/v1/nothings", timeout=10),
                     404, "NotFound")["message"] == \
        "the server could not find the requested resource"

    made = post(url, {"metadata": {"name": "dup"}}).json()
    exists = status_of(post(url, {"metadata": {"name": "dup"}}), 409, "AlreadyExists")
    assert exists["message"] == 'configmaps "dup" already exists'
    assert exists["details"] == {"name": "dup", "kind": "configmaps"}
    made["data"] = {"x": "1"}
    assert requests.put(f"{url}/dup", json=made, timeout=10).status_code == 200
    made["data"] = {"x": "2"}
    stale = status_of(requests.put(f"{url}/dup", json=made, timeout=10), 409, "Conflict")
    assert stale["message"] == ('Operation cannot be fulfilled on configmaps "dup": the object '
                                "has been modified; please apply your changes to the latest "
                                "version and try again")
    stale_body = {"metadata": {"resourceVersion": made["metadata"]["resourceVersion"]},
                  "data": {"x": "3"}}
    stale_patch = requests.patch(f"{url}/dup", headers=MERGE, timeout=10,
                                 data=json.dumps(stale_body))
    status_of(stale_patch, 409, "Conflict")
    precondition = requests.delete(f"{url}/dup", json={"preconditions": {"uid": "other"}},
                                   timeout=10)
    status_of(precondition, 409, "Conflict")

    status_of(requests.post(f"{url}/dup", json={"metadata": {"name": "dup"}}, timeout=10),
              405, "MethodNotAllowed")
    status_of(requests.put(url, json={"metadata": {"name": "dup"}}, timeout=10),
              405, "MethodNotAllowed")
    status_of(requests.patch(url, data="{}", headers=MERGE, timeout=10), 405,
              "MethodNotAllowed")

    gone = requests.delete(f"{url}/dup", timeout=10)
    assert gone.status_code == 200
    assert gone.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Success",
                           "details": {"name": "dup", "kind": "configmaps",
                                       "uid": made["metadata"]["uid"]}}


def test_events_expire_after_the_event_ttl(tmp_path: Path) -> None:
    with running(tmp_path, "--event-ttl", "2s", workers=1, secure=False) as short:
        url = f"{short.url}/api/v1/namespaces/default/events"
        made = post(url, {"metadata": {"name": "e1"}, "reason": "Test", "message": "m",
                          "involvedObject": {"kind": "ConfigMap", "name": "x",
                                             "namespace": "default"}})
        assert made.status_code == 201, made.text
        kept = post(f"{short.url}/api/v1/namespaces/default/configmaps",
                    {"metadata": {"name": "not-an-event"}})
        assert kept.status_code == 201
        assert wait_status(f"{url}/e1", 404).status_code == 404
        assert requests.get(f"{short.url}/api/v1/namespaces/default/configmaps/not-an-event",
                            timeout=10).status_code == 200
