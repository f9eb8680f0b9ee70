"""Peer WSGI apps for `scripts/bench_api`, served by `gunicorn -k gevent -w 2`.

They do the least a server must do for each scenario, so the ratio against them shows what
kapisup's API machinery costs on top of plain HTTP serving:

- `canned`: answers each `METHOD /path?query` listed in the JSON manifest named by
  `BENCH_PEER_MANIFEST` with the status and the exact body bytes captured from kapisup (GET one
  object, LIST, and the 201 of a create); a request body is read in full and dropped.
- `fanout`: a GET opens a chunked stream that stays open; a POST's body is wrapped as a watch
  event line and written to every open stream of every worker. Workers know one another through
  UNIX datagram sockets in the directory `BENCH_PEER_FANOUT_DIR` (one per worker process): the
  worker that takes the POST sends the line to each socket there, itself included, and each
  worker's reader greenlet hands it to its own streams.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

StartResponse = Callable[..., Any]

_REASONS = {200: "200 OK", 201: "201 Created", 404: "404 Not Found"}


def _read_body(environ: dict[str, Any]) -> bytes:
    """Drain the request body as any real server must before answering."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _request_key(environ: dict[str, Any]) -> str:
    query = environ.get("QUERY_STRING", "")
    path = environ.get("PATH_INFO", "")
    return f"{environ['REQUEST_METHOD']} {path}?{query}" if query else \
        f"{environ['REQUEST_METHOD']} {path}"


def load_manifest(path: str) -> dict[str, tuple[str, bytes]]:
    """{"GET /api/...": {"status": 200, "body": "<file>"}} → {key: (status line, body bytes)}."""
    entries = json.loads(Path(path).read_text())
    return {key: (_REASONS[entry["status"]], Path(entry["body"]).read_bytes())
            for key, entry in entries.items()}


_canned: dict[str, tuple[str, bytes]] | None = None


def canned(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer a request from the manifest; loaded once per worker on first use."""
    global _canned
    if _canned is None:
        _canned = load_manifest(os.environ["BENCH_PEER_MANIFEST"])
    _read_body(environ)
    status, body = _canned.get(_request_key(environ), ("404 Not Found", b"{}"))
    start_response(status, [("Content-Type", "application/json"),
                            ("Cache-Control", "no-cache, private"),
                            ("Content-Length", str(len(body)))])
    return [body]


class FanoutHub:
    """This worker's open streams, and its datagram socket that other workers send lines to."""

    def __init__(self, directory: str):
        import gevent
        from gevent import socket as gsocket

        self.directory = directory
        self.streams: set[Any] = set()
        self.address = os.path.join(directory, f"{os.getpid()}.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.address)
        self.inbox = gsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.inbox.bind(self.address)
        self.outbox = gsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        gevent.spawn(self._receive)

    def _receive(self) -> None:
        while True:
            line = self.inbox.recv(65536)
            for queue in tuple(self.streams):
                queue.put(line)

    def publish(self, line: bytes) -> int:
        """Send the line to every worker's inbox (this one's too); returns how many took it."""
        sent = 0
        for name in os.listdir(self.directory):
            if not name.endswith(".sock"):
                continue
            with contextlib.suppress(OSError):  # a worker that went away left its file
                self.outbox.sendto(line, os.path.join(self.directory, name))
                sent += 1
        return sent

    def stream(self) -> Iterator[bytes]:
        from gevent.queue import Queue

        queue: Queue = Queue()
        self.streams.add(queue)
        return self._drain(queue)

    def _drain(self, queue: Any) -> Iterator[bytes]:
        try:
            while True:
                yield queue.get()
        finally:
            self.streams.discard(queue)


_hub: FanoutHub | None = None


def fanout(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """GET: a stream of event lines; POST: broadcast {"type":"ADDED","object":<body>}."""
    global _hub
    if _hub is None:
        _hub = FanoutHub(os.environ["BENCH_PEER_FANOUT_DIR"])
    if environ["REQUEST_METHOD"] == "POST":
        line = b'{"type":"ADDED","object":' + _read_body(environ).strip() + b"}\n"
        workers = _hub.publish(line)
        body = json.dumps({"workers": workers}).encode()
        start_response("201 Created", [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Cache-Control", "no-cache, private")])
    return _hub.stream()
