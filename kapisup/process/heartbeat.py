"""Worker heartbeats in anonymous shared memory, one slot per live worker.

A slot is a double holding CLOCK_MONOTONIC (system-wide on Linux) of the worker's last beat.
Unlike gunicorn's tmp-file mtime it costs no syscall and cannot stall on a slow filesystem.
"""

from __future__ import annotations

import mmap
import struct
import time

_SLOT = struct.Struct("d")


class HeartbeatBoard:
    """Created by the master before any fork; children inherit the same shared pages."""

    def __init__(self, slots: int = 1024):
        self.slots = slots
        self._map = mmap.mmap(-1, slots * _SLOT.size, flags=mmap.MAP_SHARED)

    def beat(self, slot: int, now: float | None = None) -> None:
        _SLOT.pack_into(self._map, slot * _SLOT.size, time.monotonic() if now is None else now)

    def last_beat(self, slot: int) -> float:
        return _SLOT.unpack_from(self._map, slot * _SLOT.size)[0]

    def age(self, slot: int) -> float:
        return time.monotonic() - self.last_beat(slot)
