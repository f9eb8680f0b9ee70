"""kill -9 of writer processes in the middle of a write load never loses an acknowledged write
and never leaves a half-applied one."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kapisup.storage.sqlite import SQLiteStorage

CHILD = Path(__file__).with_name("storage_child.py")
ACKED_BEFORE_KILL = 200  # acknowledged writes each writer makes before it may be killed
ROUNDS = 3
WRITERS = 2


def _start_writer(path: str, name: str) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, str(CHILD), "load", path, name, "20"],
                             stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"ready"
    return child


def _acknowledged(output: bytes) -> dict[str, int]:
    """Complete `KEY REV` lines only: a line cut by the kill was never acknowledged."""
    acked = {}
    for line in output.split(b"\n")[:-1]:
        key, revision = line.decode().split()
        acked[key] = int(revision)
    return acked


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    path = str(tmp_path / "store.db")
    rng = random.Random(7)
    acked: dict[str, int] = {}
    for round_ in range(ROUNDS):
        writers = [_start_writer(path, f"r{round_}w{i}") for i in range(WRITERS)]
        # kill once every writer has acknowledged some writes (progress, not a clock), at a
        # random moment after that so the kill lands in the middle of a write
        early = [b"".join(writer.stdout.readline() for _ in range(ACKED_BEFORE_KILL))
                 for writer in writers]
        time.sleep(rng.uniform(0.0, 0.3))
        for writer in writers:
            os.kill(writer.pid, signal.SIGKILL)
        for writer, head in zip(writers, early, strict=True):
            out = writer.stdout.read()  # the buffered reader's rest, then EOF: the writer died
            assert writer.wait(timeout=30) == -signal.SIGKILL
            acked.update(_acknowledged(head + out))
    assert len(acked) >= ACKED_BEFORE_KILL * WRITERS * ROUNDS, len(acked)

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # every live object points at its own, newest change: nothing half-applied
        assert conn.execute(
            "SELECT COUNT(*) FROM objects o LEFT JOIN events e ON e.rev = o.rev "
            "WHERE e.key IS NOT o.key OR o.rev != (SELECT MAX(rev) FROM events x "
            "WHERE x.key = o.key)").fetchone()[0] == 0
    finally:
        conn.close()

    storage = SQLiteStorage(path, compact_interval=None)
    try:
        stored = {obj["metadata"]["name"]: int(obj["metadata"]["resourceVersion"])
                  for obj in storage.list("/registry/crash/").items}
    finally:
        storage.close()
    lost = {key: rev for key, rev in acked.items()
            if stored.get(key.rsplit("/", 1)[1]) != rev}
    assert lost == {}
