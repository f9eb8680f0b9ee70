"""The audit log file: JSON lines appended by every worker process at once, rotated by size.

Each line is one write() to a descriptor opened with O_APPEND, so the kernel places every line
whole at the end of the file even when several processes write; no buffering that a crash
could lose.

Rotation (`max_bytes` > 0) is shared by processes that know nothing of each other, so it goes
through an flock on `<path>.lock`: a write holds it shared, the rotation exclusive. Under the
shared lock a writer first checks that `path` is still the file its descriptor points at (and
reopens if another process rotated it), so no line lands in a backup after the rename and none
in a pruned, unlinked file. The writer whose write crossed the size takes the lock exclusively,
checks again that the file is still the one that grew (else another process rotated first, and
it only reopens), renames it to `<name>-<UTC time>.<ext>` as kube's lumberjack names backups,
opens a fresh file and prunes old backups by count and age.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_BACKUP_TIME = "%Y-%m-%dT%H-%M-%S"


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # only on a full disk or a signal; finish the line anyway
        data = data[written:]
        written = os.write(fd, data)


class AuditLogWriter:
    """Appends audit events to `path`; `reopen()` after an external rotation (SIGUSR1).

    `max_bytes` 0 leaves rotation to someone else (logrotate + SIGUSR1); otherwise the file is
    rotated once it reaches that size, keeping at most `max_backups` backups (0 = all) no
    older than `max_age_days` (0 = any age).
    """

    def __init__(self, path: str, mode: int = 0o600, max_bytes: int = 0, max_backups: int = 0,
                 max_age_days: int = 0):
        self.path = path
        self._mode = mode
        self.max_bytes = max_bytes
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self._fd = os.open(path, _FLAGS, mode)
        self._ident = self._identity(os.fstat(self._fd))
        self._lock_fd = -1
        if max_bytes > 0:
            self._lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
        directory, name = os.path.split(os.path.abspath(path))
        stem, ext = os.path.splitext(name)
        self._directory, self._stem, self._ext = directory, stem, ext
        self._backup_re = re.compile(
            rf"{re.escape(stem)}-(\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d)\.(\d{{3}}){re.escape(ext)}")

    @staticmethod
    def _identity(st: os.stat_result) -> tuple[int, int]:
        return st.st_dev, st.st_ino

    def write(self, event: Mapping[str, Any]) -> None:
        """Append one event as one line; raises OSError (the caller logs, never fails on it)."""
        data = (json.dumps(event, separators=(",", ":"), default=str) + "\n").encode()
        if self.max_bytes <= 0:
            _write_all(self._fd, data)
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
        try:
            if self._stale():
                self._reopen()
            _write_all(self._fd, data)
            size = os.lseek(self._fd, 0, os.SEEK_CUR)  # after an O_APPEND write: the file's end
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        if size >= self.max_bytes:
            self.rotate()

    def _stale(self) -> bool:
        """Is `path` no longer the file our descriptor writes to (rotated, moved, deleted)?"""
        try:
            return self._identity(os.stat(self.path)) != self._ident
        except FileNotFoundError:
            return True

    def rotate(self) -> bool:
        """Rotate if the file is still the one that is too big; True if this call renamed it."""
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            if self._stale():  # another process rotated first
                self._reopen()
                return False
            if os.fstat(self._fd).st_size < self.max_bytes:
                return False
            os.rename(self.path, self._backup_path())
            self._reopen()
            self._prune()
            return True
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _backup_path(self) -> str:
        """`audit-2026-11-27T01-24-54.123.log`, named after every backup there is.

        Names give the backups' order (pruning keeps the newest), so when rotations come
        faster than the clock's millisecond, the new name is the newest one plus a millisecond:
        reusing a free older name (one pruned a moment ago) would sort the newest lines as the
        oldest, and the next prune would delete them.
        """
        now_ms = int(time.time() * 1000)
        backups = self.backups()
        if backups:
            newest = backups[0][0]
            newest_ms = int(newest.timestamp() * 1000 + 0.5)
            now_ms = max(now_ms, newest_ms + 1)
        stamp = time.strftime(_BACKUP_TIME, time.gmtime(now_ms // 1000))
        name = f"{self._stem}-{stamp}.{now_ms % 1000:03d}{self._ext}"
        return os.path.join(self._directory, name)

    def backups(self) -> list[tuple[datetime, str]]:
        """This log's backups, newest first, told by the time in their names."""
        found = []
        for name in os.listdir(self._directory):
            match = self._backup_re.fullmatch(name)
            if match:
                when = datetime.strptime(match[1], _BACKUP_TIME).replace(
                    tzinfo=UTC, microsecond=int(match[2]) * 1000)
                found.append((when, os.path.join(self._directory, name)))
        found.sort(reverse=True)
        return found

    def _prune(self) -> None:
        if self.max_backups <= 0 and self.max_age_days <= 0:
            return
        backups = self.backups()
        doomed = backups[self.max_backups:] if self.max_backups > 0 else []
        if self.max_age_days > 0:
            cutoff = datetime.now(UTC) - timedelta(days=self.max_age_days)
            doomed += [b for b in backups if b[0] < cutoff and b not in doomed]
        for _, path in doomed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def reopen(self) -> None:
        """Point the descriptor at a fresh file at `path` (the old one was renamed away)."""
        self._reopen()

    def _reopen(self) -> None:
        # dup2 swaps the file under the same descriptor number in one step, so a write racing
        # with a signal handler never sees a closed or reused descriptor.
        fresh = os.open(self.path, _FLAGS, self._mode)
        try:
            os.dup2(fresh, self._fd, inheritable=False)
            self._ident = self._identity(os.fstat(self._fd))
        finally:
            os.close(fresh)

    def close(self) -> None:
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name)
            setattr(self, name, -1)
            if fd >= 0:
                os.close(fd)
