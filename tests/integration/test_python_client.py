"""The official `kubernetes` Python client, unmodified, against a real master with two workers.

What a Python user does: typed CoreV1/CoordinationV1/ApiextensionsV1 calls, custom objects,
watches, the dynamic client. Writes for the cross-worker watch go through fresh connections
until both workers have served one, so the stream must carry events another process committed.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

from tests.integration.server import Kapisup, running, wait_for

CRD_GROUP = "stable.example.com"


def api_client(server: Kapisup) -> client.ApiClient:
    config = client.Configuration()
    config.host = server.url
    return client.ApiClient(config)


@pytest.fixture(scope="module")
def api(server: Kapisup) -> Iterator[client.ApiClient]:
    with api_client(server) as made:
        yield made


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> str:
    name = "py-" + uuid.uuid4().hex[:8]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def meta(name: str, **labels: str) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, labels=labels or None)


def api_error(call: Any, *args: Any, **kwargs: Any) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value


def test_version(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert (info.major, info.minor) == ("1", "32")
    assert info.git_version.startswith("v1.32.")


def test_namespaces_and_configmaps_crud(core: client.CoreV1Api) -> None:
    name = "crud-" + uuid.uuid4().hex[:6]
    created = core.create_namespace(client.V1Namespace(metadata=meta(name)))
    assert created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == name
    assert name in {n.metadata.name for n in core.list_namespace().items}

    cm = core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=meta("settings", app="web"), data={"a": "1"}))
    assert cm.metadata.uid and cm.metadata.resource_version
    assert isinstance(cm.metadata.creation_timestamp, datetime.datetime)
    read = core.read_namespaced_config_map("settings", name)
    assert read.data == {"a": "1"} and read.metadata.uid == cm.metadata.uid

    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("settings", name, read)
    assert replaced.data == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resource_version) > int(cm.metadata.resource_version)

    everywhere = core.list_config_map_for_all_namespaces(field_selector="metadata.name=settings")
    assert {(c.metadata.namespace, c.metadata.name) for c in everywhere.items} >= \
        {(name, "settings")}

    gone = core.delete_namespaced_config_map("settings", name)
    assert gone["status"] == "Success" and gone["details"]["name"] == "settings"
    missing = api_error(core.read_namespaced_config_map, "settings", name)
    assert missing.status == 404 and '"NotFound"' in missing.body

    deleting = core.delete_namespace(name)
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["status"]["phase"] == "Terminating"


def test_already_exists_and_stale_replace(core: client.CoreV1Api, namespace: str) -> None:
    body = client.V1ConfigMap(metadata=meta("once"), data={"v": "1"})
    first = core.create_namespaced_config_map(namespace, body)
    again = api_error(core.create_namespaced_config_map, namespace, body)
    assert again.status == 409 and '"AlreadyExists"' in again.body

    first.data["v"] = "2"
    core.replace_namespaced_config_map("once", namespace, first)
    first.data["v"] = "3"  # still carries the resourceVersion of the create
    stale = api_error(core.replace_namespaced_config_map, "once", namespace, first)
    assert stale.status == 409 and '"Conflict"' in stale.body
    assert "the object has been modified" in stale.body
    assert core.read_namespaced_config_map("once", namespace).data == {"v": "2"}


def test_secrets_pods_services(core: client.CoreV1Api, namespace: str) -> None:
    secret = core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=meta("creds"), string_data={"user": "admin"}, type="Opaque"))
    assert secret.data == {"user": "YWRtaW4="}
    assert secret.string_data is None

    pod = core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=meta("web", app="web"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")])))
    assert pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Always"
    pod.status.phase = "Running"
    running_pod = core.replace_namespaced_pod_status("web", namespace, pod)
    assert running_pod.status.phase == "Running"
    listed = core.list_namespaced_pod(namespace, label_selector="app=web")
    assert [p.metadata.name for p in listed.items] == ["web"]

    svc = core.create_namespaced_service(namespace, client.V1Service(
        metadata=meta("web"),
        spec=client.V1ServiceSpec(selector={"app": "web"},
                                  ports=[client.V1ServicePort(port=80)])))
    assert svc.spec.cluster_ip
    assert svc.spec.ports[0].protocol == "TCP" and svc.spec.ports[0].target_port == 80

    core.delete_namespaced_pod("web", namespace)
    core.delete_namespaced_service("web", namespace)
    core.delete_namespaced_secret("creds", namespace)
    assert core.list_namespaced_pod(namespace).items == []
    assert core.list_namespaced_secret(namespace).items == []


def test_pagination_and_label_selectors(core: client.CoreV1Api, namespace: str) -> None:
    for i in range(7):
        tier = "front" if i % 2 else "back"
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=meta(f"page-{i}", tier=tier, index=str(i))))
    names: list[str] = []
    token = None
    pages = 0
    for _ in range(10):
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        pages += 1
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(names)
    assert pages == 3
    assert names == [f"page-{i}" for i in range(7)]

    front = core.list_namespaced_config_map(namespace, label_selector="tier=front")
    assert sorted(c.metadata.name for c in front.items) == ["page-1", "page-3", "page-5"]
    chosen = core.list_namespaced_config_map(
        namespace, label_selector="index in (0,1,2),tier!=front")
    assert sorted(c.metadata.name for c in chosen.items) == ["page-0", "page-2"]
    missing = core.list_namespaced_config_map(namespace, label_selector="!tier")
    assert missing.items == []


def test_patch_types(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=meta("two"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="a", image="a:1"),
                                          client.V1Container(name="b", image="b:1")])))
    # a dict is sent as a strategic merge patch: containers merge by name
    patched = core.patch_namespaced_pod(
        "two", namespace, {"spec": {"containers": [{"name": "b", "image": "b:2"}]}})
    assert [(c.name, c.image) for c in patched.spec.containers] == [("a", "a:1"), ("b", "b:2")]

    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=meta("cfg"), data={"keep": "1", "drop": "2"}))
    # a list is sent as a JSON patch
    jp = core.patch_namespaced_config_map("cfg", namespace, [
        {"op": "remove", "path": "/data/drop"},
        {"op": "add", "path": "/data/new", "value": "3"}])
    assert jp.data == {"keep": "1", "new": "3"}
    failed = api_error(core.patch_namespaced_config_map, "cfg", namespace,
                       [{"op": "test", "path": "/data/keep", "value": "nope"}])
    assert failed.status == 422 and '"Invalid"' in failed.body

    applied = core.patch_namespaced_config_map(
        "applied", namespace,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
         "data": {"owned": "yes"}},
        field_manager="py-apply", _content_type="application/apply-patch+yaml")
    assert applied.data == {"owned": "yes"}
    managers = {m.manager: m.operation for m in applied.metadata.managed_fields}
    assert managers["py-apply"] == "Apply"

    # a second apply by the same manager that drops a key removes it
    reapplied = core.patch_namespaced_config_map(
        "applied", namespace,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
         "data": {"other": "1"}},
        field_manager="py-apply", _content_type="application/apply-patch+yaml")
    assert reapplied.data == {"other": "1"}

    # another manager taking a field it does not own conflicts unless forced
    conflict = api_error(
        core.patch_namespaced_config_map, "applied", namespace,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"},
         "data": {"other": "2"}},
        field_manager="someone-else", _content_type="application/apply-patch+yaml")
    assert conflict.status == 409


def test_delete_collection_and_delete_options(core: client.CoreV1Api, namespace: str) -> None:
    for name in ("x1", "x2", "y1"):
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=meta(name, group=name[0])))
    core.delete_collection_namespaced_config_map(namespace, label_selector="group=x")
    left = core.list_namespaced_config_map(namespace)
    assert [c.metadata.name for c in left.items] == ["y1"]
    uid = left.items[0].metadata.uid
    wrong = api_error(core.delete_namespaced_config_map, "y1", namespace,
                      body=client.V1DeleteOptions(
                          preconditions=client.V1Preconditions(uid="not-" + uid)))
    assert wrong.status == 409
    core.delete_namespaced_config_map("y1", namespace, body=client.V1DeleteOptions(
        preconditions=client.V1Preconditions(uid=uid)))
    assert core.list_namespaced_config_map(namespace).items == []


def write_pids(server: Kapisup, mark: int, path_prefix: str) -> set[int]:
    return {e["pid"] for e in server.events("request", mark)
            if str(e.get("path", "")).startswith(path_prefix) and e.get("verb") != "watch"}


def test_watch_sees_writes_through_another_worker(server: Kapisup, core: client.CoreV1Api,
                                                   namespace: str) -> None:
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    events: list[tuple[str, str, int]] = []
    bookmarks: list[str] = []
    failure: list[BaseException] = []
    sentinel = "zz-last"

    def follow() -> None:
        stream = watch.Watch()
        try:
            for event in stream.stream(core.list_namespaced_config_map, namespace,
                                       resource_version=start, timeout_seconds=30,
                                       allow_watch_bookmarks=True):
                raw = event["raw_object"]
                if event["type"] == "BOOKMARK":
                    bookmarks.append(raw["metadata"]["resourceVersion"])
                    continue
                name = raw["metadata"]["name"]
                events.append((event["type"], name, int(raw["metadata"]["resourceVersion"])))
                if event["type"] == "DELETED" and name == sentinel:
                    stream.stop()
        except BaseException as exc:
            failure.append(exc)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()

    base = f"{server.url}/api/v1/namespaces/{namespace}/configmaps"
    mark = server.mark()
    written: list[str] = []
    for i in range(60):  # fresh connection per request: the kernel spreads them over workers
        name = f"w-{i:02d}"
        assert requests.post(base, json={"metadata": {"name": name}, "data": {"n": "0"}},
                             timeout=10).status_code == 201
        assert requests.patch(f"{base}/{name}", data='{"data":{"n":"1"}}', timeout=10,
                              headers={"Content-Type": "application/merge-patch+json"}
                              ).status_code == 200
        assert requests.delete(f"{base}/{name}", timeout=10).status_code == 200
        written.append(name)
        if i >= 2 and len(write_pids(server, mark, base.removeprefix(server.url))) >= 2:
            break
    wait_for(lambda: len(write_pids(server, mark, base.removeprefix(server.url))) == 2,
             what="access lines of both workers")
    assert requests.post(base, json={"metadata": {"name": sentinel}}, timeout=10).ok
    assert requests.delete(f"{base}/{sentinel}", timeout=10).ok

    follower.join(timeout=40)
    assert not follower.is_alive()
    assert not failure, failure
    for name in written:
        assert [t for t, n, _ in events if n == name] == ["ADDED", "MODIFIED", "DELETED"], name
    versions = [rv for _, _, rv in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions[0] > int(start)


def test_watch_from_compacted_revision_is_410(tmp_path: Any) -> None:
    with running(tmp_path, "--storage-history", "1s", workers=2, secure=False) as short, \
            api_client(short) as api:
        core = client.CoreV1Api(api)
        first = core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=meta("old")))
        old_rv = first.metadata.resource_version
        watch_url = (f"{short.url}/api/v1/namespaces/default/configmaps"
                     f"?watch=true&timeoutSeconds=1&resourceVersion={old_rv}")
        writes = iter(range(1000))

        def compacted() -> bool:
            # keep the history moving so the first write falls behind the horizon
            core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=meta(f"new-{next(writes)}")))
            return '"code":410' in requests.get(watch_url, timeout=10).text

        wait_for(compacted, timeout=30, what="history compaction past the first write")
        stream = watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      resource_version=old_rv, timeout_seconds=2)
        gone = api_error(list, stream)
        assert gone.status == 410


def test_leases_leader_election(api: client.ApiClient, namespace: str) -> None:
    leases = client.CoordinationV1Api(api)
    now = datetime.datetime.now(datetime.UTC)
    lease = leases.create_namespaced_lease(namespace, client.V1Lease(
        metadata=meta("controller"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15,
                                acquire_time=now, renew_time=now, lease_transitions=0)))
    assert lease.spec.holder_identity == "a"
    assert lease.spec.renew_time is not None

    seen_by_b = leases.read_namespaced_lease("controller", namespace)
    # a renews
    lease.spec.renew_time = now + datetime.timedelta(seconds=5)
    renewed = leases.replace_namespaced_lease("controller", namespace, lease)
    assert renewed.spec.renew_time > seen_by_b.spec.renew_time
    # b tries to take over from what it read before the renewal: conflict, a stays leader
    seen_by_b.spec.holder_identity = "b"
    seen_by_b.spec.lease_transitions = 1
    taken = api_error(leases.replace_namespaced_lease, "controller", namespace, seen_by_b)
    assert taken.status == 409
    assert leases.read_namespaced_lease("controller", namespace).spec.holder_identity == "a"

    # a lease may be created by PUT, as kube's lease strategy allows
    put = leases.replace_namespaced_lease("by-put", namespace, client.V1Lease(
        metadata=meta("by-put"), spec=client.V1LeaseSpec(holder_identity="c")))
    assert put.metadata.uid and put.spec.holder_identity == "c"


def crd_body(plural: str) -> client.V1CustomResourceDefinition:
    schema = client.V1JSONSchemaProps(type="object", properties={
        "spec": client.V1JSONSchemaProps(type="object", properties={
            "size": client.V1JSONSchemaProps(type="integer", minimum=1),
            "color": client.V1JSONSchemaProps(type="string")}),
        "status": client.V1JSONSchemaProps(type="object", properties={
            "ready": client.V1JSONSchemaProps(type="boolean")})})
    return client.V1CustomResourceDefinition(
        metadata=meta(f"{plural}.{CRD_GROUP}"),
        spec=client.V1CustomResourceDefinitionSpec(
            group=CRD_GROUP, scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(
                plural=plural, singular=plural[:-1], kind=plural[:-1].capitalize(),
                short_names=[plural[:2]]),
            versions=[client.V1CustomResourceDefinitionVersion(
                name="v1", served=True, storage=True,
                schema=client.V1CustomResourceValidation(open_apiv3_schema=schema),
                subresources=client.V1CustomResourceSubresources(status={}))]))


def test_crd_and_custom_objects(server: Kapisup, api: client.ApiClient, namespace: str) -> None:
    extensions = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    crd = extensions.create_custom_resource_definition(crd_body("widgets"))
    assert crd.metadata.name == f"widgets.{CRD_GROUP}"

    def established() -> bool:
        got = extensions.read_custom_resource_definition(f"widgets.{CRD_GROUP}")
        return any(c.type == "Established" and c.status == "True"
                   for c in (got.status.conditions or []) if got.status)

    wait_for(established, what="CRD Established")
    args = (CRD_GROUP, "v1", namespace, "widgets")
    # every worker serves the new resource (fresh connections land on either)
    url = f"{server.url}/apis/{CRD_GROUP}/v1/namespaces/{namespace}/widgets"
    wait_for(lambda: all(requests.get(url, timeout=10).status_code == 200 for _ in range(8)),
             what="widgets served by every worker")

    start = custom.list_namespaced_custom_object(*args)["metadata"]["resourceVersion"]
    made = custom.create_namespaced_custom_object(*args, {
        "apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1"},
        "spec": {"size": 3, "color": "red"}})
    assert made["metadata"]["generation"] == 1
    invalid = api_error(custom.create_namespaced_custom_object, *args, {
        "apiVersion": f"{CRD_GROUP}/v1", "kind": "Widget", "metadata": {"name": "w2"},
        "spec": {"size": 0}})
    assert invalid.status == 422 and "spec.size" in invalid.body

    got = custom.get_namespaced_custom_object(*args, "w1")
    assert got["spec"] == {"size": 3, "color": "red"}
    patched = custom.patch_namespaced_custom_object(*args, "w1", {"spec": {"size": 4}})
    assert patched["spec"] == {"size": 4, "color": "red"}
    assert patched["metadata"]["generation"] == 2
    status = custom.patch_namespaced_custom_object_status(
        *args, "w1", {"status": {"ready": True}})
    assert status["status"] == {"ready": True}
    assert status["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(*args)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    custom.delete_namespaced_custom_object(*args, "w1")

    types = []
    for event in watch.Watch().stream(custom.list_namespaced_custom_object, *args,
                                      resource_version=start, timeout_seconds=10):
        types.append(event["type"])
        assert event["object"]["metadata"]["name"] == "w1"
        if event["type"] == "DELETED":
            break
    assert types == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]


def test_dynamic_client(api: client.ApiClient, core: client.CoreV1Api, namespace: str,
                        tmp_path: Any) -> None:
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=meta("dyn", app="d"), data={"k": "v"}))
    dyn = dynamic.DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert configmaps.namespaced
    one = configmaps.get(name="dyn", namespace=namespace)
    assert one.data.k == "v"
    listed = configmaps.get(namespace=namespace, label_selector="app=d")
    assert [i.metadata.name for i in listed.items] == ["dyn"]
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert leases.get(namespace=namespace).items == []
