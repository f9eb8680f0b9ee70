"""A separate worker process for the cross-process and crash tests: patches gevent first, as a
kapisup worker does, then opens the SQLite storage on the file it is given.

    storage_child.py write PATH PREFIX COUNT    create COUNT objects, update the first, delete
                                                the last; print each result as a JSON line
    storage_child.py watch PATH PREFIX COUNT    print "ready", then the first COUNT events
    storage_child.py load PATH WRITER SECONDS   create objects from 20 greenlets until killed
                                                (or SECONDS pass); print "KEY REV" per ack
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kapisup.storage.sqlite import SQLiteStorage  # noqa: E402


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _object(name: str) -> dict:
    return {"kind": "ConfigMap", "metadata": {"name": name, "uid": f"uid-{name}"},
            "data": {"payload": "p" * 200}}


def write(storage: SQLiteStorage, prefix: str, count: int) -> None:
    for i in range(count):
        _say(json.dumps(storage.create(f"{prefix}cm{i}", _object(f"cm{i}"))))

    def change(obj: dict) -> dict:
        obj["data"]["changed"] = "yes"
        return obj

    _say(json.dumps(storage.guaranteed_update(f"{prefix}cm0", change)))
    _say(json.dumps(storage.delete(f"{prefix}cm{count - 1}")))


def watch(storage: SQLiteStorage, prefix: str, count: int) -> None:
    watcher = storage.watch(prefix, 0)
    _say("ready")
    for _ in range(count):
        event = watcher.next(timeout=10)
        if event is None:
            _say("timeout")
            return
        _say(json.dumps({"type": event.type, "key": event.key, "object": event.object,
                         "revision": event.revision}))


def load(storage: SQLiteStorage, writer: str, seconds: float) -> None:
    stop_at = time.monotonic() + seconds

    def run(greenlet: int) -> None:
        sequence = 0
        while time.monotonic() < stop_at:
            key = f"/registry/crash/{writer}-{greenlet}-{sequence}"
            created = storage.create(key, _object(f"{writer}-{greenlet}-{sequence}"))
            _say(f"{key} {created['metadata']['resourceVersion']}")
            sequence += 1

    _say("ready")
    gevent.joinall([gevent.spawn(run, i) for i in range(20)])


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    storage = SQLiteStorage(path, poll_interval=0.005, compact_interval=None)
    try:
        if mode == "write":
            write(storage, sys.argv[3], int(sys.argv[4]))
        elif mode == "watch":
            watch(storage, sys.argv[3], int(sys.argv[4]))
        elif mode == "load":
            load(storage, sys.argv[3], float(sys.argv[4]))
        else:
            raise SystemExit(f"unknown mode {mode}")
    finally:
        storage.close()


if __name__ == "__main__":
    main()
