"""Watch semantics on the wire, a watch across a drain, and durability across kill -9.

Watches are read on raw sockets (api_wire.RawWatch), so each test can see that a stream ended
with the zero-length chunk and not a dropped connection.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import requests

from tests.integration.api_wire import MERGE, RawWatch, names
from tests.integration.server import Kapisup, alive, running, wait_for


def path(ns: str, query: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"?{query}" if query else "")


def create(server: Kapisup, ns: str, name: str, **labels: str) -> dict[str, Any]:
    made = requests.post(server.url + path(ns), timeout=10,
                         json={"metadata": {"name": name, "labels": labels}})
    assert made.status_code == 201, made.text
    return made.json()


def test_initial_events_for_empty_and_zero_resource_version(server: Kapisup, ns: str) -> None:
    create(server, ns, "a")
    create(server, ns, "b")
    for rv in ("", "&resourceVersion=0"):
        with RawWatch(server.insecure_port, path(ns, f"watch=true&timeoutSeconds=1{rv}")) as w:
            assert w.status == 200
            assert w.headers["content-type"] == "application/json"
            assert w.headers["transfer-encoding"] == "chunked"
            events = w.drain()
        assert names(events) == [("ADDED", "a"), ("ADDED", "b")]
        assert events[0]["object"]["kind"] == "ConfigMap"
        assert events[0]["object"]["apiVersion"] == "v1"


def test_watch_from_a_revision_sends_only_later_events(server: Kapisup, ns: str) -> None:
    create(server, ns, "before")
    start = requests.get(server.url + path(ns), timeout=10).json()["metadata"]["resourceVersion"]
    create(server, ns, "after")
    url = server.url + path(ns)
    assert requests.patch(f"{url}/before", data='{"data":{"k":"v"}}', headers=MERGE,
                          timeout=10).ok
    assert requests.delete(f"{url}/after", timeout=10).ok
    query = f"watch=true&resourceVersion={start}&timeoutSeconds=1&allowWatchBookmarks=true"
    with RawWatch(server.insecure_port, path(ns, query)) as w:
        events = w.drain()
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    changes = [e for e in events if e["type"] != "BOOKMARK"]
    assert names(changes) == [("ADDED", "after"), ("MODIFIED", "before"), ("DELETED", "after")]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in changes]
    assert versions == sorted(versions) and versions[0] > int(start)
    assert changes[1]["object"]["data"] == {"k": "v"}
    # a bookmark carries only kind, apiVersion and a resourceVersion no older than the events
    assert bookmarks, events
    mark = bookmarks[-1]["object"]
    assert (mark["kind"], mark["apiVersion"]) == ("ConfigMap", "v1")
    assert list(mark["metadata"]) == ["resourceVersion"]
    assert int(mark["metadata"]["resourceVersion"]) >= versions[-1]


def test_live_watch_with_label_selector(server: Kapisup, ns: str) -> None:
    create(server, ns, "match", tier="web")
    create(server, ns, "other", tier="db")
    url = server.url + path(ns)
    with RawWatch(server.insecure_port,
                  path(ns, "watch=true&labelSelector=tier%3Dweb&timeoutSeconds=20")) as w:
        assert names([w.next()]) == [("ADDED", "match")]
        # writes go through fresh connections, so either worker may commit them
        assert requests.patch(f"{url}/other", data='{"metadata":{"labels":{"tier":"web"}}}',
                              headers=MERGE, timeout=10).ok
        assert names([w.next()]) == [("ADDED", "other")]
        assert requests.patch(f"{url}/match", data='{"metadata":{"labels":{"tier":"db"}}}',
                              headers=MERGE, timeout=10).ok
        left = w.next()
        assert names([left]) == [("DELETED", "match")]
        assert left["object"]["metadata"]["labels"] == {"tier": "db"}
        assert requests.patch(f"{url}/other", data='{"data":{"x":"1"}}', headers=MERGE,
                              timeout=10).ok
        assert names([w.next()]) == [("MODIFIED", "other")]
        create(server, ns, "unrelated", tier="db")
        assert requests.delete(f"{url}/other", timeout=10).ok
        assert names([w.next()]) == [("DELETED", "other")]


def test_watch_of_one_object_by_name(server: Kapisup, ns: str) -> None:
    create(server, ns, "one")
    create(server, ns, "two")
    url = server.url + path(ns)
    query = "watch=true&fieldSelector=metadata.name%3Done&resourceVersion=0&timeoutSeconds=20"
    with RawWatch(server.insecure_port, path(ns, query)) as w:
        assert names([w.next()]) == [("ADDED", "one")]
        assert requests.delete(f"{url}/two", timeout=10).ok
        assert requests.delete(f"{url}/one", timeout=10).ok
        assert names([w.next()]) == [("DELETED", "one")]


def test_watch_errors(server: Kapisup, ns: str) -> None:
    with RawWatch(server.insecure_port, path(ns, "watch=true&labelSelector=a%20in")) as w:
        assert w.status == 400
    with RawWatch(server.insecure_port, path(ns, "watch=true&fieldSelector=data.a%3Db")) as w:
        assert w.status == 400
    with RawWatch(server.insecure_port, path(ns, "watch=true&resourceVersion=x")) as w:
        assert w.status == 400


def test_a_watch_ends_on_the_server_when_its_client_hangs_up(server: Kapisup, ns: str) -> None:
    """No write follows the hang-up: the server must notice the closed socket by itself (the
    request's access line is written only when the server has ended it)."""
    watched = path(ns, "watch=true")
    mark = server.mark()
    watches = [RawWatch(server.insecure_port, watched) for _ in range(5)]
    assert all(watch.status == 200 for watch in watches)
    for watch in watches:
        watch.sock.close()
    wait_for(lambda: len(server.access(watched, after=mark)) == 5,
             what="every abandoned watch ended by the server")


def test_watch_ends_cleanly_when_the_server_drains(tmp_path: Any) -> None:
    with running(tmp_path, workers=2, secure=False) as drained:
        watches = [RawWatch(drained.insecure_port, path("default", "watch=true"))
                   for _ in range(4)]
        try:
            assert all(w.status == 200 for w in watches)
            made = requests.post(drained.url + path("default"), timeout=10,
                                 json={"metadata": {"name": "seen"}})
            assert made.status_code == 201
            for w in watches:
                assert names([w.next()]) == [("ADDED", "seen")]
            drained.signal(signal.SIGTERM)
            for w in watches:
                assert w.drain(timeout=15) == []  # the zero-length chunk, nothing broken
            assert drained.wait_exit(timeout=20) == 0
        finally:
            for w in watches:
                w.close()


def test_acknowledged_writes_survive_kill_9(tmp_path: Any) -> None:
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    first = running(tmp_path, workers=2, secure=False)
    victim = first.__enter__()
    try:
        url = victim.url + path("default")

        def writer(prefix: str) -> None:
            for i in range(2000):
                if stop.is_set():
                    return
                try:
                    made = requests.post(url, json={"metadata": {"name": f"{prefix}-{i}"}},
                                         timeout=10)
                except requests.RequestException:
                    return  # killed mid-request: not acknowledged
                if made.status_code == 201:
                    with lock:
                        acknowledged.append(made.json()["metadata"]["name"])

        threads = [threading.Thread(target=writer, args=(f"w{t}",), daemon=True)
                   for t in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(acknowledged) >= 200, what="200 acknowledged writes")
        pids = [victim.pid, *victim.workers()]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        wait_for(lambda: not any(alive(p) for p in pids), what="every process gone")
    finally:
        first.__exit__(None, None, None)
    with lock:
        expected = set(acknowledged)
    assert len(expected) >= 200

    with running(tmp_path, workers=2, secure=False) as again:
        listed = requests.get(again.url + path("default"), timeout=30).json()
        stored = {i["metadata"]["name"] for i in listed["items"]}
        assert expected <= stored
        # the store still takes writes and its revisions continue past the old ones
        newest = max(int(i["metadata"]["resourceVersion"]) for i in listed["items"])
        made = requests.post(again.url + path("default"), json={"metadata": {"name": "after"}},
                             timeout=10).json()
        assert int(made["metadata"]["resourceVersion"]) > newest
