"""Discovery (aggregated and legacy), OpenAPI v3, and Table output, as kubectl reads them."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.integration.server import Kapisup, wait_for

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
KUBECTL_DISCOVERY = (f"{AGGREGATED},application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                     "as=APIGroupDiscoveryList,application/json")
TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
         "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"}


def get(server: Kapisup, path: str, accept: str = "application/json") -> requests.Response:
    response = requests.get(server.url + path, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200, (path, response.text)
    return response


def resources_of(discovery: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    for item in discovery["items"]:
        if item["metadata"].get("name", "") == group:
            return {r["resource"]: r for r in item["versions"][0]["resources"]}
    raise AssertionError(f"group {group!r} not in discovery")


def test_aggregated_discovery(server: Kapisup) -> None:
    core = get(server, "/api", KUBECTL_DISCOVERY)
    assert core.headers["Content-Type"] == AGGREGATED
    body = core.json()
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList",
                                                  "apidiscovery.k8s.io/v2")
    assert body["items"][0]["versions"][0]["version"] == "v1"
    assert body["items"][0]["versions"][0]["freshness"] == "Current"
    core_resources = resources_of(body, "")
    configmaps = core_resources["configmaps"]
    assert configmaps["scope"] == "Namespaced"
    assert configmaps["singularResource"] == "configmap"
    assert configmaps["shortNames"] == ["cm"]
    assert configmaps["responseKind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert set(configmaps["verbs"]) == {"create", "delete", "deletecollection", "get", "list",
                                        "patch", "update", "watch"}
    namespaces = core_resources["namespaces"]
    assert namespaces["scope"] == "Cluster" and namespaces["shortNames"] == ["ns"]
    assert "deletecollection" not in namespaces["verbs"]
    assert {s["subresource"] for s in namespaces["subresources"]} >= {"status", "finalize"}
    assert "all" in core_resources["pods"].get("categories", [])
    assert {"secrets", "pods", "services", "serviceaccounts", "events", "endpoints",
            "nodes"} <= set(core_resources)

    groups = get(server, "/apis", KUBECTL_DISCOVERY)
    assert groups.headers["Content-Type"] == AGGREGATED
    leases = resources_of(groups.json(), "coordination.k8s.io")["leases"]
    assert leases["responseKind"]["group"] == "coordination.k8s.io"
    crds = resources_of(groups.json(), "apiextensions.k8s.io")["customresourcedefinitions"]
    assert crds["scope"] == "Cluster" and "crd" in crds["shortNames"]

    # without the aggregated type in Accept: legacy documents labelled application/json
    legacy = get(server, "/api")
    assert legacy.headers["Content-Type"] == "application/json"
    assert legacy.json()["kind"] == "APIVersions" and legacy.json()["versions"] == ["v1"]


def test_legacy_discovery(server: Kapisup) -> None:
    resources = get(server, "/api/v1").json()
    assert (resources["kind"], resources["groupVersion"]) == ("APIResourceList", "v1")
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["configmaps"]["namespaced"] is True
    assert by_name["configmaps"]["kind"] == "ConfigMap"
    assert by_name["configmaps"]["singularName"] == "configmap"
    assert by_name["namespaces"]["namespaced"] is False
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    groups = get(server, "/apis").json()
    assert groups["kind"] == "APIGroupList"
    names = {g["name"]: g for g in groups["groups"]}
    assert names["coordination.k8s.io"]["preferredVersion"]["groupVersion"] == \
        "coordination.k8s.io/v1"
    group = get(server, "/apis/coordination.k8s.io").json()
    assert group["kind"] == "APIGroup" and group["name"] == "coordination.k8s.io"
    leases = get(server, "/apis/coordination.k8s.io/v1").json()
    assert [r["name"] for r in leases["resources"]] == ["leases"]
    missing = requests.get(server.url + "/apis/nope.example.com/v1", timeout=10)
    assert missing.status_code == 404


def openapi_document(server: Kapisup, group_version: str) -> dict[str, Any]:
    index = get(server, "/openapi/v3").json()
    url = index["paths"][group_version]["serverRelativeURL"]
    assert "?hash=" in url
    return get(server, url).json()


def test_openapi_v3(server: Kapisup) -> None:
    index = get(server, "/openapi/v3").json()
    assert {"api/v1", "apis/coordination.k8s.io/v1",
            "apis/apiextensions.k8s.io/v1"} <= set(index["paths"])
    doc = openapi_document(server, "api/v1")
    assert doc["openapi"].startswith("3.")
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1",
                                                        "kind": "ConfigMap"}
    assert any(p["name"] == "fieldValidation" and p["in"] == "query"
               for p in patch["parameters"])
    assert set(patch["requestBody"]["content"]) == PATCH_TYPES
    schema = doc["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "ConfigMap",
                                                          "version": "v1"}]
    assert schema["properties"]["data"]["additionalProperties"] == {"type": "string"}
    meta_ref = json.dumps(schema["properties"]["metadata"])
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in meta_ref
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    # private extensions stay private
    assert "x-kapisup" not in json.dumps(doc)
    # the hash changes only with the content: asking with a stale hash still answers
    assert requests.get(server.url + "/openapi/v3/api/v1?hash=stale", timeout=10).ok
    assert requests.get(server.url + "/openapi/v3/apis/nope/v1", timeout=10).status_code == 404
    # v2 is protobuf only (kubectl up to 1.28 reads it); JSON would break kubectl's parser
    v2 = requests.get(server.url + "/openapi/v2", timeout=10)
    assert v2.status_code == 200
    assert v2.headers["Content-Type"].startswith("application/com.github.proto-openapi.spec.v2")
    assert requests.get(server.url + "/openapi/v2", timeout=10,
                        headers={"Accept": "application/json"}).status_code == 406


def test_crd_appears_in_discovery_and_openapi(server: Kapisup) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "things.disc.example.com"},
           "spec": {"group": "disc.example.com", "scope": "Cluster",
                    "names": {"plural": "things", "singular": "thing", "kind": "Thing",
                              "shortNames": ["th"], "categories": ["all"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "description": "A thing.",
                                      "properties": {"spec": {"type": "object", "properties": {
                                          "color": {"type": "string"}}}}}}}]}}
    made = requests.post(server.url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                         json=crd, timeout=10)
    assert made.status_code == 201, made.text

    def listed() -> bool:  # every worker: fresh connections several times in a row
        for _ in range(6):
            answer = requests.get(server.url + "/apis", headers={"Accept": AGGREGATED},
                                  timeout=10).json()
            groups = {i["metadata"].get("name") for i in answer["items"]}
            if "disc.example.com" not in groups:
                return False
        return True

    wait_for(listed, what="the CRD's group in discovery")
    things = resources_of(get(server, "/apis", AGGREGATED).json(), "disc.example.com")["things"]
    assert things["scope"] == "Cluster" and things["shortNames"] == ["th"]
    assert things["responseKind"]["kind"] == "Thing"
    doc = openapi_document(server, "apis/disc.example.com/v1")
    schema = doc["components"]["schemas"]["com.example.disc.v1.Thing"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "disc.example.com", "kind": "Thing", "version": "v1"}]
    assert schema["properties"]["spec"]["properties"]["color"]["type"] == "string"
    assert "/apis/disc.example.com/v1/things/{name}" in doc["paths"]


def table(server: Kapisup, path: str) -> dict[str, Any]:
    answer = get(server, path, TABLE)
    body = answer.json()
    assert (body["kind"], body["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    return body


def columns(body: dict[str, Any]) -> list[str]:
    return [c["name"] for c in body["columnDefinitions"] if c["priority"] == 0]


def test_table_output(server: Kapisup) -> None:
    base = server.url + "/api/v1/namespaces/default"
    assert requests.post(f"{base}/configmaps", json={"metadata": {"name": "t", "labels": {
        "app": "x"}}, "data": {"a": "1", "b": "2"}}, timeout=10).status_code == 201
    assert requests.post(f"{base}/pods", timeout=10, json={
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    ).status_code == 201

    cm_table = table(server, "/api/v1/namespaces/default/configmaps")
    assert columns(cm_table) == ["Name", "Data", "Age"]
    assert cm_table["columnDefinitions"][0]["format"] == "name"
    row = next(r for r in cm_table["rows"] if r["cells"][0] == "t")
    assert row["cells"][1] == 2
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["labels"] == {"app": "x"}
    assert cm_table["metadata"]["resourceVersion"]
    full = table(server, "/api/v1/namespaces/default/configmaps?includeObject=Object")
    assert next(r for r in full["rows"] if r["cells"][0] == "t")["object"]["data"] == \
        {"a": "1", "b": "2"}

    ns_table = table(server, "/api/v1/namespaces")
    assert columns(ns_table) == ["Name", "Status", "Age"]
    assert ["default", "Active"] in [r["cells"][:2] for r in ns_table["rows"]]

    pod_table = table(server, "/api/v1/namespaces/default/pods/web")
    assert columns(pod_table) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert [c["name"] for c in pod_table["columnDefinitions"] if c["priority"] > 0][:2] == \
        ["IP", "Node"]
    assert pod_table["rows"][0]["cells"][:3] == ["web", "0/2", "Pending"]

    paged = table(server, "/api/v1/namespaces?limit=2")
    assert len(paged["rows"]) == 2 and paged["metadata"]["continue"]
