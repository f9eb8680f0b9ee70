"""Helpers for the API tests over HTTP: a raw chunked watch reader and small request shortcuts.

The watch reader works on a plain socket so a test can tell a clean end of stream (the
zero-length chunk) from a dropped connection, which `requests` hides.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import requests

from tests.integration.server import wait_for

JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}


class StreamBroken(AssertionError):
    """The server closed the watch without the terminating zero-length chunk."""


class RawWatch:
    """One watch request on its own connection; events are read one at a time."""

    def __init__(self, port: int, path: str, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
                          "Connection: close\r\n\r\n".encode())
        self.buffer = b""
        self.pending = b""
        self.ended = False
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ", 2)[1])
        self.headers = {k.strip().lower(): v.strip()
                        for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        self.body = b""
        if self.headers.get("transfer-encoding") != "chunked":
            length = int(self.headers.get("content-length", "0"))
            self.body = self._exactly(length)
            self.ended = True

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise StreamBroken("connection closed inside the chunked body")
        self.buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next event, or None once the server ended the stream cleanly."""
        self.sock.settimeout(timeout)
        while b"\n" not in self.pending:
            if self.ended:
                if self.pending.strip():
                    raise StreamBroken(f"partial event at the end: {self.pending[:200]!r}")
                return None
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._until(b"\r\n")  # no trailers: the final CRLF
                self.ended = True
                continue
            self.pending += self._exactly(size)
            if self._exactly(2) != b"\r\n":
                raise StreamBroken("chunk not followed by CRLF")
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)

    def drain(self, limit: int = 10_000, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every event until the clean end of the stream (bounded in count)."""
        events = []
        for _ in range(limit):
            event = self.next(timeout)
            if event is None:
                return events
            events.append(event)
        raise AssertionError("watch did not end")

    def until(self, predicate: Any, limit: int = 1000, timeout: float = 10.0
              ) -> list[dict[str, Any]]:
        """Events up to and including the first one the predicate accepts."""
        events = []
        for _ in range(limit):
            event = self.next(timeout)
            assert event is not None, f"stream ended before the awaited event: {events}"
            events.append(event)
            if predicate(event):
                return events
        raise AssertionError("awaited event never came")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def wait_status(url: str, code: int, timeout: float = 20.0) -> requests.Response:
    """GET until the answer has the given code; fails the test if it never does (bounded)."""
    def answered() -> list[requests.Response]:
        response = requests.get(url, timeout=10)  # a 4xx Response is falsy: wrap it
        return [response] if response.status_code == code else []

    return wait_for(answered, timeout, what=f"{url} to answer {code}")[0]
