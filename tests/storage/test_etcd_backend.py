"""What only the etcd backend does: kube's key layout, kube's compactor, TLS, and staying up
through member restarts and losses (real etcd members from tests/etcd_cluster.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import gevent
import pytest

from kapisup.storage import (
    ADDED,
    MODIFIED,
    CompactedError,
    UnavailableError,
    WatchClosed,
)
from kapisup.storage.etcd import EtcdStorage
from tests.etcd_cluster import EtcdCluster

WAIT = 10.0


def _cm(name: str, namespace: str = "demo", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
            "data": dict(data)}


def _rv(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd-backend"), members=1)
    yield cluster
    cluster.close()


@pytest.fixture
def storages() -> Iterator[list[EtcdStorage]]:
    made: list[EtcdStorage] = []
    yield made
    for storage in made:
        storage.close()


def _open(made: list[EtcdStorage], cluster: EtcdCluster, **options) -> EtcdStorage:
    options.setdefault("compact_interval", None)
    storage = EtcdStorage(cluster.client_urls, ca_file=cluster.ca_file,
                          cert_file=cluster.cert_file, key_file=cluster.key_file, **options)
    made.append(storage)
    return storage


def test_keys_are_kubes_layout_under_the_default_prefix(single, storages):
    storage = _open(storages, single)
    namespace = f"layout-{uuid.uuid4().hex[:8]}"
    created = storage.create(f"/registry/configmaps/{namespace}/a", _cm("a", namespace, x="1"))
    storage.create(f"/registry/namespaces/{namespace}",
                   {"kind": "Namespace", "metadata": {"name": namespace}})
    keys = single.etcdctl("get", "--prefix", "/registry", "--keys-only").split()
    assert f"/registry/configmaps/{namespace}/a" in keys
    assert f"/registry/namespaces/{namespace}" in keys
    value = single.etcdctl("get", f"/registry/configmaps/{namespace}/a", "--print-value-only")
    stored = json.loads(value)
    assert stored["data"] == {"x": "1"}
    assert "resourceVersion" not in stored["metadata"]
    # the resourceVersion is etcd's mod_revision of the key
    listed = json.loads(single.etcdctl("get", f"/registry/configmaps/{namespace}/a",
                                       "-w", "json"))
    assert listed["kvs"][0]["mod_revision"] == _rv(created)


def test_a_create_sent_again_after_an_unknown_outcome_is_recognised_as_its_own(
        single, storages):
    """A member may apply a create and die before answering; the client then sends it to
    another member, whose compare fails. Byte-identical content (fresh uid included) is the
    same create and succeeds at its revision; anything else at the key is still 409's error."""
    from kapisup.storage import KeyExistsError

    storage = _open(storages, single)
    key = f"/registry/configmaps/retry-{uuid.uuid4().hex[:8]}/a"
    first = storage.create(key, _cm("a", x="1"))
    again = storage.create(key, _cm("a", x="1"))
    assert again == first
    with pytest.raises(KeyExistsError):
        storage.create(key, {**_cm("a", x="1"), "metadata": {"name": "a", "uid": "other"}})
    with pytest.raises(KeyExistsError):
        storage.create(key, _cm("a", x="2"))


def test_another_prefix_replaces_the_registry_head(single, storages):
    prefix = f"/tenant-{uuid.uuid4().hex[:8]}"
    storage = _open(storages, single, prefix=prefix + "/")
    storage.create("/registry/configmaps/demo/a", _cm("a"))
    keys = single.etcdctl("get", "--prefix", prefix, "--keys-only").split()
    assert keys == [f"{prefix}/configmaps/demo/a"]
    assert [o["metadata"]["name"] for o in storage.list("/registry/configmaps/").items] == ["a"]


def test_the_compactor_compacts_once_per_round_among_instances_and_old_revisions_are_gone(
        tmp_path, storages):
    with EtcdCluster(tmp_path, members=1) as cluster:
        first, second = _open(storages, cluster), _open(storages, cluster)
        prefix = "/registry/configmaps/demo/"
        old = first.create(prefix + "a", _cm("a", v="1"))
        # round 1: both instances try; one wins the compare-and-swap, nothing compacts yet
        state_first = first.compact_step(0, 0)
        state_second = second.compact_step(0, 0)
        assert state_first[0] == 1 and state_second[0] == 1
        seen = state_first[1]
        first.guaranteed_update(prefix + "a", lambda o: {**o, "data": {"v": "2"}})
        # round 2: the first instance compacts to what it saw in round 1
        state_first = first.compact_step(*state_first)
        assert state_first[0] == 2
        with pytest.raises(CompactedError) as caught:
            first.list(prefix, revision=_rv(old) - 1)
        assert caught.value.compacted == seen - 1
        with pytest.raises(CompactedError):
            second.watch(prefix, seen - 1)
        assert first.list(prefix, revision=seen).items[0]["data"] == {"v": "1"}
        # the second instance lost the race for this round: it adopts the key's version
        assert second.compact_step(*state_second)[0] == 2


def test_a_watch_survives_an_etcd_restart(tmp_path, storages):
    with EtcdCluster(tmp_path, members=1) as cluster:
        storage = _open(storages, cluster)
        prefix = "/registry/configmaps/demo/"
        watcher = storage.watch(prefix, 0)
        before = storage.create(prefix + "before", _cm("before"))
        event = watcher.next(timeout=WAIT)
        assert event is not None and event.object == before
        cluster.kill(0)
        with pytest.raises(UnavailableError):
            storage.get(prefix + "before")
        assert watcher.next(timeout=0.2) is None
        cluster.start(0)
        after = storage.create(prefix + "after", _cm("after"))
        event = watcher.next(timeout=WAIT)
        assert event is not None and event.object == after and event.type == ADDED
        watcher.stop()


def test_watchers_end_cleanly_when_etcd_stays_away(tmp_path, storages):
    with EtcdCluster(tmp_path, members=1) as cluster:
        storage = _open(storages, cluster, request_timeout=1.0, watch_outage_limit=0.5)
        watcher = storage.watch("/registry/configmaps/", 0)
        created = storage.create("/registry/configmaps/demo/a", _cm("a"))
        assert watcher.next(timeout=WAIT) is not None
        cluster.stop(0)
        with pytest.raises(WatchClosed):
            for _ in range(100):  # bounded: each wait is at most a second
                assert watcher.next(timeout=1.0) is None
        assert watcher.revision >= _rv(created)  # where a client resumes from
        cluster.start(0)
        # once etcd is back, new watches work again from the revision the client had
        again = storage.watch("/registry/configmaps/", watcher.revision)
        updated = storage.guaranteed_update("/registry/configmaps/demo/a",
                                            lambda o: {**o, "data": {"n": "1"}})
        event = again.next(timeout=WAIT)
        assert event is not None and event.type == MODIFIED and event.object == updated
        again.stop()


def test_a_dead_cluster_fails_requests_promptly(tmp_path, storages):
    with EtcdCluster(tmp_path, members=1) as cluster:
        storage = _open(storages, cluster, request_timeout=2.0)
        storage.create("/registry/configmaps/demo/a", _cm("a"))
        cluster.kill(0)
        with gevent.Timeout(10):  # bounded, not a timing assertion: a hang fails the test
            for call in (lambda: storage.get("/registry/configmaps/demo/a"),
                         lambda: storage.create("/registry/configmaps/demo/b", _cm("b")),
                         storage.current_revision):
                with pytest.raises(UnavailableError):
                    call()


def test_reads_writes_and_the_watch_fail_over_when_a_member_dies(tmp_path, storages):
    with EtcdCluster(tmp_path, members=3) as cluster:
        storage = _open(storages, cluster)
        prefix = "/registry/configmaps/demo/"
        watcher = storage.watch(prefix, 0)
        first = storage.create(prefix + "a", _cm("a", n="0"))
        assert watcher.next(timeout=WAIT).object == first
        # the member this client talks to is the first endpoint; kill it and then the leader
        cluster.kill(0)
        written = []
        for i in range(1, 21):
            written.append(storage.guaranteed_update(
                prefix + "a", lambda o, i=i: {**o, "data": {"n": str(i)}}))
        leader = cluster.leader()
        cluster.kill(leader)
        cluster.start(0)
        for i in range(21, 31):
            written.append(storage.guaranteed_update(
                prefix + "a", lambda o, i=i: {**o, "data": {"n": str(i)}}))
        assert storage.get(prefix + "a")["data"] == {"n": "30"}
        events = []
        for _ in written:
            event = watcher.next(timeout=WAIT)
            assert event is not None, f"{len(events)} of {len(written)} events arrived"
            events.append(event)
        assert [e.object for e in events] == written
        assert [e.revision for e in events] == sorted(e.revision for e in events)
        watcher.stop()


def test_tls_with_client_certificates(tmp_path, storages):
    with EtcdCluster(tmp_path, members=1, tls=True) as cluster:
        assert all(url.startswith("https://") for url in cluster.client_urls)
        storage = _open(storages, cluster)
        watcher = storage.watch("/registry/configmaps/", 0)
        created = storage.create("/registry/configmaps/demo/a", _cm("a"))
        assert storage.get("/registry/configmaps/demo/a") == created
        assert watcher.next(timeout=WAIT).object == created
        watcher.stop()
        # without a client certificate etcd refuses the handshake: unavailable, not a hang
        anonymous = EtcdStorage(cluster.client_urls, ca_file=cluster.ca_file,
                                compact_interval=None, request_timeout=2.0)
        storages.append(anonymous)
        with pytest.raises(UnavailableError):
            anonymous.get("/registry/configmaps/demo/a")
