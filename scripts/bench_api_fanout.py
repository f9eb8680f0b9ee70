"""Watch fan-out scenario for `scripts/bench_api`: open N watches, write, time each delivery.

The watches are held by a few child processes running `bench_api_watch.py`. One warm-up write
must reach every watcher first (proof that each watch is registered on the server); then each
measured write is timed from just before its POST is sent to the moment each watcher's process
reads the event (time.monotonic() is one clock for every process on Linux).
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WATCH_CLIENT = Path(__file__).resolve().with_name("bench_api_watch.py")


class WatchClient:
    """One child process holding `count` watch streams; JSON lines both ways."""

    def __init__(self, port: int, path: str, count: int):
        self.count = count
        self.proc = subprocess.Popen(
            [sys.executable, str(WATCH_CLIENT), "--port", str(port), "--path", path,
             "--count", str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(line))
        self.lines.put({"event": "exited"})

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        message = self.lines.get(timeout=timeout)
        if message.get("event") != event:
            raise RuntimeError(f"watch client sent {message} while {event} was expected")
        return message

    def ask(self, command: str, answer: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.expect(answer, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def run(port: int, path: str, watchers: int, clients: int, write: Callable[[str], None],
        writes: int, run_id: str, deliver_timeout: float = 20.0,
        setup_timeout: float = 120.0) -> dict[str, Any]:
    """Open the watches, do one warm-up and `writes` measured writes; latency stats in ms.

    `write(name)` must make the server emit an event whose object is named `name`.
    """
    shares = [watchers // clients + (1 if i < watchers % clients else 0) for i in range(clients)]
    procs = [WatchClient(port, path, share) for share in shares if share]
    started = time.monotonic()
    try:
        ready = [proc.expect("ready", setup_timeout) for proc in procs]
        opened = sum(r["opened"] for r in ready)
        sent_at: dict[str, float] = {}

        def delivered(name: str) -> int:
            answers = [proc.ask("counts", "counts", 30) for proc in procs]
            return sum(a["counts"].get(name, 0) for a in answers)

        def write_and_wait(name: str, timeout: float) -> None:
            sent_at[name] = time.monotonic()
            write(name)
            deadline = time.monotonic() + timeout
            while delivered(name) < opened and time.monotonic() < deadline:
                time.sleep(0.2)

        warmup = f"mark-{run_id}-warmup"
        write_and_wait(warmup, setup_timeout)
        setup_seconds = time.monotonic() - started
        names = [f"mark-{run_id}-{i}" for i in range(writes)]
        for name in names:
            time.sleep(0.5)
            write_and_wait(name, deliver_timeout)
        reports = [proc.ask("report", "report", 60) for proc in procs]
    finally:
        for proc in procs:
            proc.stop()
    return summarize(names, sent_at, reports, watchers, opened, setup_seconds,
                     warmup_received=sum(len(r["arrivals"].get(warmup, [])) for r in reports))


def summarize(names: list[str], sent_at: dict[str, float], reports: list[dict[str, Any]],
              watchers: int, opened: int, setup_seconds: float,
              warmup_received: int) -> dict[str, Any]:
    per_write = []
    pooled: list[float] = []
    for name in names:
        latencies = [(t - sent_at[name]) * 1000 for r in reports
                     for t in r["arrivals"].get(name, [])]
        pooled += latencies
        per_write.append({"received": len(latencies), "p50_ms": percentile(latencies, 50),
                          "p99_ms": percentile(latencies, 99),
                          "max_ms": max(latencies, default=float("nan"))})
    return {
        "watchers": watchers, "opened": opened, "warmup_received": warmup_received,
        "setup_seconds": round(setup_seconds, 2), "writes": per_write,
        "received": sum(w["received"] for w in per_write), "expected": watchers * len(names),
        "p50_ms": percentile(pooled, 50), "p99_ms": percentile(pooled, 99),
        "max_ms": max(pooled, default=float("nan")),
        "closed_early": sum(r["closed"] for r in reports),
        "bad_status": sum(r["bad_status"] for r in reports),
        "statuses": sorted({s for r in reports for s in r["statuses"]}),
    }
