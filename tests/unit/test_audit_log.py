"""The audit log writer's rotation, with several real processes appending and rotating at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from datetime import UTC, datetime, timedelta

from kapisup.observability.auditlog import AuditLogWriter

BACKUP = re.compile(r"audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log")


def log_files(directory) -> list[str]:
    """Backups oldest first, then the live file: the order lines were written in."""
    backups = sorted(name for name in os.listdir(directory) if BACKUP.fullmatch(name))
    return [os.path.join(directory, name) for name in backups] + [
        os.path.join(directory, "audit.log")]


def parsed(path) -> list[dict]:
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def _write_many(path: str, worker: int, count: int, max_bytes: int, max_backups: int) -> None:
    w = AuditLogWriter(path, max_bytes=max_bytes, max_backups=max_backups)
    for i in range(count):
        w.write({"worker": worker, "i": i, "pad": "x" * (200 + 37 * (i % 11))})
    w.close()


def run_writers(path: str, workers: int, count: int, max_bytes: int, max_backups: int = 0):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(path, n, count, max_bytes, max_backups))
             for n in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0


def test_processes_rotating_at_once_lose_and_tear_no_line(tmp_path):
    path = str(tmp_path / "audit.log")
    run_writers(path, workers=4, count=2000, max_bytes=32_000)
    files = log_files(tmp_path)
    assert len(files) > 50  # ~3.5 MB of lines through 32 kB files: many rotations
    events = [event for name in files for event in parsed(name)]  # every line parses
    assert len(events) == 8000
    for worker in range(4):
        # no line lost or doubled, and none went to a file after it had been rotated away
        assert [e["i"] for e in events if e["worker"] == worker] == list(range(2000))
    for name in files[:-1]:
        # only the writer that saw the file still too big under the lock rotated it
        assert os.path.getsize(name) >= 32_000
    # the writers really ran at once: most files hold lines of several of them
    mixed = [name for name in files if len({e["worker"] for e in parsed(name)}) > 1]
    assert len(mixed) > len(files) // 2
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(f) for f in files] + ["audit.log.lock"])


def test_backups_are_pruned_to_max_backups(tmp_path):
    path = str(tmp_path / "audit.log")
    run_writers(path, workers=3, count=300, max_bytes=10_000, max_backups=3)
    files = log_files(tmp_path)
    assert len(files) == 4  # three backups and the live file
    events = [event for name in files for event in parsed(name)]
    assert events
    for worker in range(3):  # what is kept is the newest lines, all of them, in order
        mine = [e["i"] for e in events if e["worker"] == worker]
        assert mine == list(range(mine[0], 300)) if mine else True


def test_backups_older_than_max_age_are_removed(tmp_path):
    path = tmp_path / "audit.log"
    old = tmp_path / "audit-2020-01-01T00-00-00.000.log"
    recent_time = datetime.now(UTC) - timedelta(hours=1)
    recent = tmp_path / f"audit-{recent_time:%Y-%m-%dT%H-%M-%S}.000.log"
    unrelated = tmp_path / "audit-notes.log"
    for extra in (old, recent, unrelated):
        extra.write_text("{}\n")
    w = AuditLogWriter(str(path), max_bytes=100, max_age_days=1)
    w.write({"pad": "x" * 200})  # crosses the size: rotates and prunes
    w.write({"n": 2})
    w.close()
    names = set(os.listdir(tmp_path))
    assert old.name not in names
    assert {recent.name, unrelated.name, "audit.log"} <= names
    assert len([n for n in names if BACKUP.fullmatch(n)]) == 2  # recent and the new one
    assert parsed(path) == [{"n": 2}]


def test_backup_names_follow_lumberjack_and_never_collide(tmp_path):
    path = tmp_path / "audit.log"
    w = AuditLogWriter(str(path), max_bytes=5)
    for n in range(5):  # every line rotates: several rotations within the same millisecond
        w.write({"n": n})
    w.close()
    backups = [n for n in os.listdir(tmp_path) if BACKUP.fullmatch(n)]
    assert len(backups) == 5
    assert sorted(e["n"] for b in backups for e in parsed(tmp_path / b)) == list(range(5))


def test_a_new_backup_is_named_after_every_existing_one(tmp_path):
    """Names give the order pruning trusts: a rotation faster than the clock's millisecond,
    or after a backup named ahead of the clock, must still sort newest; reusing a free older
    name (one just pruned) made the newest lines look oldest, and the next prune dropped them."""
    ahead = tmp_path / "audit-2099-01-01T00-00-00.998.log"
    ahead.write_text('{"n":-1}\n')
    path = tmp_path / "audit.log"
    w = AuditLogWriter(str(path), max_bytes=5, max_backups=2)
    for n in range(3):
        w.write({"n": n})
    w.close()
    names = [os.path.basename(f) for f in log_files(tmp_path)]
    # each line rotated at once: .999 (n=0), 01.000 (n=1), 01.001 (n=2); the two newest kept
    assert names == ["audit-2099-01-01T00-00-01.000.log", "audit-2099-01-01T00-00-01.001.log",
                     "audit.log"]
    assert [e["n"] for f in log_files(tmp_path) for e in parsed(f)] == [1, 2]


def test_reopen_and_external_removal_with_rotation_on(tmp_path):
    path = tmp_path / "audit.log"
    w = AuditLogWriter(str(path), max_bytes=1 << 20)
    w.write({"n": 1})
    os.rename(path, tmp_path / "moved.log")
    w.write({"n": 2})  # the path is gone: the writer notices and starts a new file
    w.reopen()  # SIGUSR1 still works
    w.write({"n": 3})
    w.close()
    assert parsed(tmp_path / "moved.log") == [{"n": 1}]
    assert parsed(path) == [{"n": 2}, {"n": 3}]


def test_no_rotation_without_max_size(tmp_path):
    path = tmp_path / "audit.log"
    w = AuditLogWriter(str(path))
    for n in range(100):
        w.write({"n": n, "pad": "x" * 100})
    w.close()
    assert sorted(os.listdir(tmp_path)) == ["audit.log"]  # no lock file either
    assert len(parsed(path)) == 100
