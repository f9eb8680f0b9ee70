"""Watch fan-out client for `scripts/bench_api`: many raw HTTP/1.1 watch streams in one process.

Run as a child process; it speaks JSON lines on stdin/stdout with its parent:

    python scripts/bench_api_watch.py --port P --path '/api/v1/...?watch=true&...' --count N

prints `{"event": "ready", ...}` once every connection is open and its request sent, then
answers each stdin line: `counts` → how many streams have seen each marker so far; `report` →
every arrival time (time.monotonic(), which is one clock for all processes on Linux) per marker,
then exits. A marker is the object name `mark-...` found in the stream, so it works on any
framing (chunked or not) and on both kapisup's watch events and the peer's lines.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from typing import Any

MARKER = re.compile(rb'"name":\s?"(mark-[^"]{1,64})"')
TAIL = 96  # bytes kept from the previous read so a marker split across reads is still found


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE toward `wanted` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Stream:
    """One watch connection; records when each marker first shows up in its bytes."""

    def __init__(self) -> None:
        self.sock: Any = None
        self.status = b""
        self.closed_early = False
        self.seen: set[bytes] = set()

    def open(self, host: str, port: int, request: bytes, timeout: float) -> bool:
        from gevent import socket

        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.settimeout(None)
            self.sock.sendall(request)
        except OSError:
            return False
        return True

    def follow(self, arrivals: dict[bytes, list[float]]) -> None:
        recv, monotonic, finditer = self.sock.recv, time.monotonic, MARKER.finditer
        head = b""
        tail = b""
        while True:
            try:
                data = recv(262144)
            except OSError:
                data = b""
            now = monotonic()
            if not data:
                self.closed_early = True
                return
            if not self.status:
                head += data
                if b"\r\n\r\n" not in head:
                    continue
                self.status = head.split(b"\r\n", 1)[0]
                data = head
            chunk = tail + data
            for match in finditer(chunk):
                marker = match.group(1)
                if marker not in self.seen:
                    self.seen.add(marker)
                    arrivals.setdefault(marker, []).append(now)
            tail = chunk[-TAIL:]


def run(host: str, port: int, path: str, count: int, parallel_connects: int,
        connect_timeout: float) -> None:
    import gevent
    from gevent.fileobject import FileObjectPosix
    from gevent.pool import Pool

    nofile = raise_nofile(count + 256)
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "Accept: application/json\r\nUser-Agent: bench-api-watch\r\n\r\n").encode()
    streams = [Stream() for _ in range(count)]
    arrivals: dict[bytes, list[float]] = {}
    started = time.monotonic()
    pool = Pool(parallel_connects)
    opened = [ok for ok in pool.imap_unordered(
        lambda s: s.open(host, port, request, connect_timeout), streams) if ok]
    followers = [gevent.spawn(s.follow, arrivals) for s in streams if s.sock is not None]
    emit({"event": "ready", "opened": len(opened), "failed": count - len(opened),
          "seconds": round(time.monotonic() - started, 3), "nofile": nofile})
    commands = FileObjectPosix(sys.stdin.fileno(), "rb")
    for line in commands:
        command = line.strip().decode()
        if command == "counts":
            emit({"event": "counts",
                  "counts": {m.decode(): len(t) for m, t in arrivals.items()},
                  "closed": sum(s.closed_early for s in streams)})
        elif command == "report":
            bad = sum(1 for s in streams if s.status and b" 200 " not in s.status + b" ")
            emit({"event": "report",
                  "arrivals": {m.decode(): t for m, t in arrivals.items()},
                  "closed": sum(s.closed_early for s in streams), "bad_status": bad,
                  "statuses": sorted({s.status.decode("latin-1") for s in streams if s.status})})
            break
    gevent.killall(followers, block=False)
    for stream in streams:
        if stream.sock is not None:
            stream.sock.close()


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--parallel-connects", type=int, default=200)
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    run(args.host, args.port, args.path, args.count, args.parallel_connects,
        args.connect_timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
