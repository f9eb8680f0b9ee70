"""SQLite backend specifics: several worker processes on one file, the master's gevent-free
preparation, and time-based history compaction."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import gevent
import pytest

from kapisup.storage import ADDED, DELETED, MODIFIED, CompactedError
from kapisup.storage.sqlite import SQLiteStorage

CHILD = Path(__file__).with_name("storage_child.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(tmp_path) -> str:
    return str(tmp_path / "shared" / "store.db")


def _open(path: str, **options) -> SQLiteStorage:
    return SQLiteStorage(path, poll_interval=0.005, compact_interval=None, **options)


def test_writes_of_another_process_are_read_listed_and_watched(path):
    storage = _open(path)
    try:
        watcher = storage.watch("/registry/configmaps/x/", 0)
        done = subprocess.run([sys.executable, str(CHILD), "write", path,
                               "/registry/configmaps/x/", "3"],
                              capture_output=True, text=True, timeout=30, check=True)
        results = [json.loads(line) for line in done.stdout.splitlines()]
        created, updated, deleted = results[:3], results[3], results[4]
        assert storage.get("/registry/configmaps/x/cm0") == updated
        assert storage.list("/registry/configmaps/x/").items == [updated, created[1]]
        events = [watcher.next(timeout=5) for _ in range(5)]
        assert [(e.type, e.object) for e in events if e is not None] == [
            (ADDED, created[0]), (ADDED, created[1]), (ADDED, created[2]),
            (MODIFIED, updated), (DELETED, deleted)]
        assert watcher.revision == int(deleted["metadata"]["resourceVersion"])
    finally:
        storage.close()


def test_another_process_watches_our_writes(path):
    storage = _open(path)
    child = subprocess.Popen([sys.executable, str(CHILD), "watch", path,
                              "/registry/configmaps/y/", "2"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        storage.create("/registry/configmaps/other/skip", {"metadata": {"name": "skip"}})
        first = storage.create("/registry/configmaps/y/a", {"metadata": {"name": "a"}})
        gone = storage.delete("/registry/configmaps/y/a")
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        storage.close()
    events = [json.loads(line) for line in out.splitlines()]
    assert events == [
        {"type": ADDED, "key": "/registry/configmaps/y/a", "object": first,
         "revision": int(first["metadata"]["resourceVersion"])},
        {"type": DELETED, "key": "/registry/configmaps/y/a", "object": gone,
         "revision": int(gone["metadata"]["resourceVersion"])}]


def test_a_watcher_sees_local_and_foreign_writes_interleaved_in_revision_order(path):
    """Local writes go to watchers at once, foreign ones through the poller: neither may
    overtake the other, duplicate or skip a revision."""
    storage = _open(path)
    child = subprocess.Popen([sys.executable, str(CHILD), "write", path,
                              "/registry/configmaps/z/", "50"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        start = int(json.loads(child.stdout.readline())["metadata"]["resourceVersion"])
        watcher = storage.watch("/registry/configmaps/", start)
        for i in range(50):  # while the child is still writing
            storage.create(f"/registry/configmaps/local/cm{i}", {"metadata": {"name": str(i)}})
            gevent.sleep(0.001)
        child.communicate(timeout=30)
        assert child.returncode == 0
        events = [watcher.next(timeout=5) for _ in range(101)]
        assert None not in events
        assert [e.revision for e in events] == list(range(start + 1, start + 102))
        assert {"/local/" in e.key for e in events} == {True, False}
        assert watcher.next(timeout=0.05) is None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        storage.close()


def test_the_master_prepares_the_file_without_importing_gevent(path):
    script = ("import sys; from kapisup.storage.sqlite_schema import prepare; "
              f"prepare({path!r}); "
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gevent'))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"events", "objects", "meta"} <= tables
    finally:
        conn.close()


def test_expired_history_is_compacted_and_recent_history_kept(path):
    keep = _open(path, history_seconds=3600)
    forget = _open(path, history_seconds=0)
    try:
        keep.create("/registry/a/1", {"metadata": {"name": "1"}})
        keep.create("/registry/a/2", {"metadata": {"name": "2"}})
        keep.delete("/registry/a/2")
        keep.compact_expired()
        assert len(keep.list("/registry/a/", revision=1).items) == 1

        forget.compact_expired()
        newest = forget.current_revision()
        with pytest.raises(CompactedError):
            forget.list("/registry/a/", revision=newest - 1)
        assert [o["metadata"]["name"] for o in forget.list("/registry/a/", revision=newest).items
                ] == ["1"]
        conn = sqlite3.connect(path)
        try:  # only the live object's last change is left
            assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        finally:
            conn.close()
    finally:
        forget.close()
        keep.close()


def test_a_watcher_whose_history_is_compacted_during_replay_is_closed(path):
    from kapisup.storage import WatchClosed

    storage = _open(path)
    try:
        storage.create("/registry/a/seed", {"metadata": {"name": "seed"}})
        start = storage.current_revision()
        for i in range(600):
            storage.create(f"/registry/a/{i}", {"metadata": {"name": str(i)}})
        watcher = storage.watch("/registry/a/", start)
        first = watcher.next(timeout=5)
        assert first is not None and first.revision == start + 1
        storage.compact(storage.current_revision())
        with pytest.raises(WatchClosed):
            for _ in range(700):
                assert watcher.next(timeout=5) is not None
    finally:
        storage.close()
