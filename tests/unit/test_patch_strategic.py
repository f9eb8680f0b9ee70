"""Strategic merge patch: kubectl patch and client-side kubectl apply cases."""

import copy
import json

import pytest
from patch_schemas import CONFIGMAP, DEPLOYMENT, POD, SCHEMAS, schema

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.patch import strategic_merge_patch

POD_OBJ = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
    "spec": {
        "containers": [
            {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}],
             "ports": [{"containerPort": 80}], "args": ["x", "y"]},
            {"name": "side", "image": "busybox"},
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
        "nodeSelector": {"disk": "ssd"},
        "affinity": {"a": "1", "b": "2"},
    },
}


def smp(patch: dict, obj: dict = POD_OBJ, name: str = POD) -> dict:
    before = copy.deepcopy(obj)
    frozen_patch = copy.deepcopy(patch)
    result = strategic_merge_patch(obj, patch, schema(name), SCHEMAS)
    assert obj == before and patch == frozen_patch, "inputs mutated"
    return result


def containers(result: dict) -> dict:
    return {c["name"]: c for c in result["spec"]["containers"]}


def test_merge_one_container_image_by_name():
    result = smp({"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}})
    by_name = containers(result)
    assert [c["name"] for c in result["spec"]["containers"]] == ["web", "side"]
    assert by_name["web"]["image"] == "nginx:2"
    assert by_name["web"]["env"] == [{"name": "A", "value": "1"}]
    assert by_name["side"]["image"] == "busybox"


def test_delete_container_with_patch_directive():
    result = smp({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["web"]


def test_new_container_appended_nested_lists_merge():
    result = smp({"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}], "args": ["z"]},
        {"name": "new", "image": "redis", "tty": None},
    ]}})
    by_name = containers(result)
    assert by_name["web"]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert by_name["web"]["args"] == ["z"], "lists without merge strategy are replaced"
    assert by_name["new"] == {"name": "new", "image": "redis"}
    assert [c["name"] for c in result["spec"]["containers"]] == ["web", "side", "new"]


def test_replace_whole_list_and_map():
    result = smp({"spec": {
        "containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}],
        "nodeSelector": {"$patch": "replace", "zone": "a"},
    }})
    assert result["spec"]["containers"] == [{"name": "only", "image": "x"}]
    assert result["spec"]["nodeSelector"] == {"zone": "a"}


def test_map_delete_directive_and_null():
    result = smp({"metadata": {"labels": {"$patch": "delete"}},
                  "spec": {"nodeSelector": None}})
    assert result["metadata"]["labels"] == {}
    assert "nodeSelector" not in result["spec"]


def test_replace_strategy_on_map_field():
    result = smp({"spec": {"affinity": {"a": "9"}}})
    assert result["spec"]["affinity"] == {"a": "9"}


def test_primitive_list_merge_and_delete():
    added = smp({"metadata": {"finalizers": ["c", "a"]}})
    # kube: patch items in patch order, server-only items slotted by their live order
    assert added["metadata"]["finalizers"] == ["c", "a", "b"]
    removed = smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert removed["metadata"]["finalizers"] == ["b"]


def test_set_element_order():
    result = smp({"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:3"}],
    }})
    assert [c["name"] for c in result["spec"]["containers"]] == ["side", "web"]
    assert containers(result)["web"]["image"] == "nginx:3"


def test_retain_keys_clears_other_union_members():
    deployment = {"spec": {"strategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxSurge": 1}}}}
    result = smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
                 deployment, DEPLOYMENT)
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(StatusError) as caught:
        smp({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
            deployment, DEPLOYMENT)
    assert (caught.value.code, caught.value.message) == (400,
                                                         "invalid patch format of retainKeys")


def test_volume_retain_keys_switches_source():
    result = smp({"spec": {"volumes": [
        {"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}})
    assert result["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}}]


def test_errors():
    cases = [
        ({"spec": {"containers": [{"image": "no-name"}]}}, 400),
        ({"spec": {"containers": [{"$patch": "delete"}]}}, 400),
        ({"metadata": {"labels": {"$patch": "bogus"}}}, 400),
        ({"metadata": {"$deleteFromPrimitiveList": ["a"]}}, 400),
    ]
    for patch, code in cases:
        with pytest.raises(StatusError) as caught:
            smp(patch)
        assert caught.value.code == code, patch
    with pytest.raises(StatusError) as caught:
        smp({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": []}})
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    with pytest.raises(StatusError) as caught:
        strategic_merge_patch(POD_OBJ, [1], schema(POD), SCHEMAS)
    assert caught.value.code == 400


def test_no_schema_lists_replace_maps_merge():
    obj = {"spec": {"items": [{"name": "a"}], "m": {"x": 1}}}
    result = strategic_merge_patch(obj, {"spec": {"items": [{"name": "b"}], "m": {"y": 2}}},
                                   None, SCHEMAS)
    assert result["spec"] == {"items": [{"name": "b"}], "m": {"x": 1, "y": 2}}


def test_kubectl_client_side_apply_twice():
    """kubectl apply sends a 3-way SMP with nulls for removed keys and the new annotation."""
    first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
             "data": {"a": "1", "b": "2"}}
    annotation = "kubectl.kubernetes.io/last-applied-configuration"
    live = copy.deepcopy(first)
    live["metadata"]["annotations"] = {annotation: json.dumps(first)}
    live["data"]["server"] = "kept"  # someone else's key, not in last-applied
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
              "data": {"a": "10"}}
    patch = {"data": {"a": "10", "b": None},
             "metadata": {"annotations": {annotation: json.dumps(second)}}}
    result = strategic_merge_patch(live, patch, schema(CONFIGMAP), SCHEMAS)
    assert result["data"] == {"a": "10", "server": "kept"}
    assert json.loads(result["metadata"]["annotations"][annotation]) == second
