"""Start a real kapisup master (and its forked workers) for a test, and read its JSON logs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

WAIT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    """Poll until predicate() is truthy; bounded in time, never asserts a timing."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except FileNotFoundError:
        return []


def process_holding(pids: list[int], server_port: int, client_port: int) -> int | None:
    """Which of `pids` holds the server side of the loopback TCP connection from
    `client_port` to `server_port` (the worker that accepted it), from /proc."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == server_port and \
                    int(remote.rsplit(":", 1)[1], 16) == client_port:
                inode = fields[9]
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return pid
            except OSError:
                continue
    return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


class Kapisup:
    """One kapisup master started with `python -m kapisup` on free loopback ports."""

    def __init__(self, tmp_path: Any, *args: str, workers: int = 2,
                 env: dict[str, str] | None = None, secure: bool = True,
                 insecure_port: int | None = None):
        self.tmp_path = tmp_path
        self.insecure_port = insecure_port or free_port()
        self.secure_port = free_port() if secure else 0
        self.data_dir = str(tmp_path / "data")
        self.argv = [
            sys.executable, "-m", "kapisup",
            "--insecure-port", str(self.insecure_port),
            "--secure-port", str(self.secure_port),
            "--bind-address", "127.0.0.1",
            "--data-dir", self.data_dir,
            "--metrics-dir", str(tmp_path / "metrics"),
            "--workers", str(workers),
            "--graceful-timeout", "10s",
            *args,
        ]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # ---- process ---------------------------------------------------------------------------

    def start(self, wait_ready: bool = True) -> Kapisup:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=str(self.tmp_path))
        threading.Thread(target=self._read, daemon=True).start()
        if wait_ready:
            self.wait_log(lambda e: e.get("event") == "ready", what="ready line")
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.raw.append(text)
                with contextlib.suppress(ValueError):
                    entry = json.loads(text)
                    if isinstance(entry, dict):
                        self.lines.append(entry)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def workers(self) -> list[int]:
        return children_of(self.pid)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float = WAIT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """TERM, wait, then KILL master and any worker left; used by fixtures."""
        if self.proc is None:
            return
        workers = self.workers()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in workers:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    # ---- logs ------------------------------------------------------------------------------

    def events(self, name: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        """Log entries (named `name`) since the mark `after`."""
        with self._lock:
            return [e for e in self.lines[after:] if name is None or e.get("event") == name]

    def access(self, path: str, after: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.events("request", after) if e.get("path") == path]

    def wait_log(self, predicate: Callable[[dict[str, Any]], bool], what: str = "log line",
                 timeout: float = WAIT, after: int = 0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            if self.proc is not None and self.proc.poll() is not None:
                with self._lock:
                    matches = [e for e in self.lines[after:] if predicate(e)]
                if matches:
                    return matches[0]
                raise AssertionError(f"kapisup exited ({self.proc.returncode}) before {what}:\n"
                                     + "\n".join(self.raw[-30:]))
            with self._lock:
                for entry in self.lines[after:]:
                    if predicate(entry):
                        return entry
            return None

        return wait_for(found, timeout, what)

    def mark(self) -> int:
        with self._lock:
            return len(self.lines)

    # ---- http ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.insecure_port}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, **kwargs)


def run_to_exit(tmp_path: Any, *args: str, **kwargs: Any) -> tuple[int, list[str]]:
    """Start a master expected to stop by itself; (exit code, output lines)."""
    server = Kapisup(tmp_path, *args, **kwargs)
    server.start(wait_ready=False)
    try:
        return server.wait_exit(), server.raw
    finally:
        server.stop()


@contextlib.contextmanager
def running(tmp_path: Any, *args: str, **kwargs: Any) -> Iterator[Kapisup]:
    server = Kapisup(tmp_path, *args, **kwargs)
    try:
        yield server.start()
    finally:
        server.stop()


def exchange(port: int, data: bytes, half_close: bool = False, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes or resets it."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (431) and close before it read everything
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def one_shot_get(port: int, path: str, timeout: float = 10.0) -> int:
    """A GET on a fresh connection (Connection: close); returns the status code."""
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    data = exchange(port, request, timeout=timeout)
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
