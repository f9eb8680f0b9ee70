"""The two kinds of pipe between master and workers.

* A stop pipe per worker, master → worker: one byte commands. When the master dies, even by
  SIGKILL, the kernel closes its write end and the worker reads EOF: workers never outlive it.
* One notify pipe, workers → master: short lines ("<pid> ready", "<pid> booterror <why>"),
  each under PIPE_BUF so writes from several workers never interleave.
All ends are close-on-exec so nothing a worker execs holds them.
"""

from __future__ import annotations

import contextlib
import os

GRACEFUL = b"G"  # stop accepting, drain, exit
QUICK = b"Q"  # close connections now, exit
REOPEN = b"R"  # reopen log files

_NOTIFY_MAX = 512


class StopPipe:
    """Master holds `write_fd`; the worker it was made for holds `read_fd`."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(self.write_fd, False)

    def send(self, command: bytes) -> bool:
        """Best effort: a full or closed pipe means the worker is gone or already stopping."""
        try:
            return os.write(self.write_fd, command) == len(command)
        except OSError:
            return False

    def close_read_end(self) -> None:
        _close(self.read_fd)
        self.read_fd = -1

    def close_write_end(self) -> None:
        _close(self.write_fd)
        self.write_fd = -1


class NotifyPipe:
    """Master reads, every worker writes."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(self.read_fd, False)
        self._partial = b""

    def tell(self, message: str) -> None:
        line = f"{os.getpid()} {message}".replace("\n", " ")[: _NOTIFY_MAX - 1] + "\n"
        with contextlib.suppress(OSError):
            os.write(self.write_fd, line.encode("utf-8", "replace"))

    def read_messages(self) -> list[tuple[int, str, str]]:
        """(pid, verb, rest) for every complete line waiting."""
        chunks = [self._partial]
        while True:
            try:
                data = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        buffer = b"".join(chunks)
        *lines, self._partial = buffer.split(b"\n")
        messages = []
        for raw in lines:
            pid_text, _, rest = raw.decode("utf-8", "replace").partition(" ")
            verb, _, detail = rest.partition(" ")
            if pid_text.isdigit():
                messages.append((int(pid_text), verb, detail))
        return messages


def _close(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
