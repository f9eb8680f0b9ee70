"""Server-side apply and managedFields bookkeeping of other writes."""

import copy

import pytest
from patch_schemas import CONFIGMAP, DEPLOYMENT, POD, SCHEMAS, schema

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.patch import apply, record_update

T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"


def cm(data: dict, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", **meta}, "data": data}


def ssa(live: dict, applied: dict, manager: str = "kubectl", name: str = CONFIGMAP,
        force: bool = False, now: str = T1) -> dict:
    before, frozen = copy.deepcopy(live), copy.deepcopy(applied)
    result = apply(live, applied, manager, schema(name), SCHEMAS, force=force, now=now,
                   api_version="v1")
    assert live == before and applied == frozen, "inputs mutated"
    return result


def entries(obj: dict) -> dict:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def test_apply_creates_with_kube_managed_fields():
    result = ssa({}, cm({"a": "1"}, labels={"app": "web"}))
    assert result["data"] == {"a": "1"}
    entry = entries(result)[("kubectl", "Apply")]
    assert entry == {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                     "time": T1, "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:data": {"f:a": {}},
                                  "f:metadata": {"f:labels": {"f:app": {}}}}}


def test_apply_twice_removes_omitted_field_and_changes_value():
    first = ssa({}, cm({"a": "1", "b": "2"}, labels={"app": "web"}))
    second = ssa(first, cm({"a": "10"}), now=T2)
    assert second["data"] == {"a": "10"}
    assert "labels" not in second["metadata"]
    assert second["metadata"]["name"] == "c"
    assert entries(second)[("kubectl", "Apply")]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert entries(second)[("kubectl", "Apply")]["time"] == T2


def test_omitted_field_kept_when_another_manager_owns_it():
    first = ssa({}, cm({"a": "1", "b": "2"}))
    shared = ssa(first, cm({"b": "2"}), manager="other")
    second = ssa(shared, cm({"a": "1"}))
    assert second["data"] == {"a": "1", "b": "2"}


def test_conflict_with_client_side_apply_manager():
    created = cm({"a": "1"})
    live = record_update({}, created, "kubectl-client-side-apply", "Update", schema(CONFIGMAP),
                         SCHEMAS, now=T1, api_version="v1")
    assert entries(live)[("kubectl-client-side-apply", "Update")]["fieldsV1"] == {
        "f:data": {".": {}, "f:a": {}}}
    with pytest.raises(StatusError) as caught:
        ssa(live, cm({"a": "2"}))
    err = caught.value
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == ('Apply failed with 1 conflict: conflict with '
                           '"kubectl-client-side-apply" using v1: .data.a')
    assert err.details == {"causes": [{
        "reason": "FieldManagerConflict",
        "message": 'conflict with "kubectl-client-side-apply" using v1', "field": ".data.a"}]}
    forced = ssa(live, cm({"a": "2"}), force=True)
    assert forced["data"] == {"a": "2"}
    owners = entries(forced)
    assert owners[("kubectl", "Apply")]["fieldsV1"] == {"f:data": {"f:a": {}}}
    # it keeps only the data map itself (it created it), a member without children
    assert owners[("kubectl-client-side-apply", "Update")]["fieldsV1"] == {"f:data": {}}


def test_same_value_is_shared_not_a_conflict():
    live = ssa({}, cm({"a": "1"}), manager="one")
    both = ssa(live, cm({"a": "1"}), manager="two")
    assert set(entries(both)) == {("one", "Apply"), ("two", "Apply")}


def test_two_conflicts_message_lists_managers():
    live = ssa({}, cm({"a": "1"}), manager="one")
    live = ssa(live, cm({"b": "1"}), manager="two")
    with pytest.raises(StatusError) as caught:
        ssa(live, cm({"a": "x", "b": "y"}))
    assert caught.value.message == ('Apply failed with 2 conflicts: conflicts with "one":\n'
                                    '- .data.a\nconflicts with "two":\n- .data.b')


def test_apply_merges_containers_by_key_and_records_keys():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx",
                                    "ports": [{"containerPort": 80}]}]}}
    live = ssa({}, pod, name=POD)
    fields = entries(live)[("kubectl", "Apply")]["fieldsV1"]
    container = fields["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert container["."] == {} and container["f:image"] == {}
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    sidecar = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "s", "image": "busybox"}]}}
    merged = ssa(live, sidecar, manager="injector", name=POD)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["c", "s"]
    with pytest.raises(StatusError) as caught:
        ssa(merged, {**sidecar, "spec": {"containers": [{"name": "c", "image": "other"}]}},
            manager="injector", name=POD)
    assert caught.value.message.endswith('.spec.containers[name="c"].image')
    dropped = ssa(merged, {**pod, "spec": {"containers": []}}, name=POD)
    assert [c["name"] for c in dropped["spec"]["containers"]] == ["s"]


def test_apply_bad_requests():
    with pytest.raises(StatusError) as caught:
        ssa({}, {**cm({}), "apiVersion": "v2"})
    assert caught.value.code == 400 and "expected: v1" in caught.value.message
    with pytest.raises(StatusError) as caught:
        ssa({}, cm({}, managedFields=[]))
    assert caught.value.message == "metadata.managedFields must be nil"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"image": "x"}]}}
    with pytest.raises(StatusError) as caught:
        ssa({}, pod, name=POD)
    assert caught.value.code == 400


def test_apply_on_object_without_managed_fields_records_before_first_apply():
    live = cm({"a": "1", "b": "2"})
    result = ssa(live, cm({"a": "1"}))
    owners = entries(result)
    assert owners[("before-first-apply", "Update")]["fieldsV1"]["f:data"]["f:b"] == {}
    with pytest.raises(StatusError):
        ssa(live, cm({"b": "changed"}))


def test_record_update_moves_ownership():
    created = record_update({}, cm({"a": "1", "b": "2"}), "creator", "Update",
                            schema(CONFIGMAP), SCHEMAS, now=T1, api_version="v1")
    edited_obj = copy.deepcopy(created)
    edited_obj["data"]["a"] = "changed"
    del edited_obj["data"]["b"]
    edited_obj["metadata"]["labels"] = {"x": "y"}
    edited = record_update(created, edited_obj, "editor", "Update", schema(CONFIGMAP), SCHEMAS,
                           now=T2, api_version="v1")
    owners = entries(edited)
    assert owners[("editor", "Update")]["fieldsV1"] == {
        "f:data": {"f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    assert owners[("creator", "Update")]["fieldsV1"] == {"f:data": {}}
    assert [e["manager"] for e in edited["metadata"]["managedFields"]] == ["creator", "editor"]


def test_record_update_without_changes_keeps_entries_and_time():
    created = record_update({}, cm({"a": "1"}), "creator", "Update", schema(CONFIGMAP), SCHEMAS,
                            now=T1, api_version="v1")
    again = record_update(created, copy.deepcopy(created), "other", "Update", schema(CONFIGMAP),
                          SCHEMAS, now=T3, api_version="v1")
    assert again["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_record_update_caps_update_managers():
    obj = record_update({}, cm({}), "m0", "Update", schema(CONFIGMAP), SCHEMAS, now=T1,
                        api_version="v1")
    for i in range(12):
        changed = copy.deepcopy(obj)
        changed["data"][f"k{i}"] = "v"
        obj = record_update(obj, changed, f"m{i}", "Update", schema(CONFIGMAP), SCHEMAS,
                            now=f"2026-01-01T00:01:{i:02d}Z", api_version="v1")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert "ancient-changes" in managers


def test_deployment_create_marks_added_maps():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "strategy": {"rollingUpdate": {"maxSurge": 1}}}}
    existing = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"strategy": {}}}
    result = record_update(existing, dep, "kubectl-create", "Update", schema(DEPLOYMENT),
                           SCHEMAS, now=T1, api_version="apps/v1")
    fields = result["metadata"]["managedFields"][0]["fieldsV1"]
    assert fields == {"f:spec": {
        "f:replicas": {}, "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}}}}
