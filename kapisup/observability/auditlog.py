"""The audit log file: JSON lines appended by every worker process at once.

Each line is one write() to a descriptor opened with O_APPEND, so the kernel places every line
whole at the end of the file even when several processes write; no lock, no buffering that a
crash could lose.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


class AuditLogWriter:
    """Appends audit events to `path`; `reopen()` after rotation (SIGUSR1)."""

    def __init__(self, path: str, mode: int = 0o600):
        self.path = path
        self._mode = mode
        self._fd = os.open(path, _FLAGS, mode)

    def write(self, event: Mapping[str, Any]) -> None:
        """Append one event as one line; raises OSError (the caller logs, never fails on it)."""
        data = (json.dumps(event, separators=(",", ":"), default=str) + "\n").encode()
        written = os.write(self._fd, data)
        while written < len(data):  # only on a full disk or a signal; finish the line anyway
            data = data[written:]
            written = os.write(self._fd, data)

    def reopen(self) -> None:
        """Point the descriptor at a fresh file at `path` (the old one was renamed away).

        dup2 swaps the file under the same descriptor number in one step, so a write racing
        with a signal handler never sees a closed or reused descriptor.
        """
        fresh = os.open(self.path, _FLAGS, self._mode)
        try:
            os.dup2(fresh, self._fd, inheritable=False)
        finally:
            os.close(fresh)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
