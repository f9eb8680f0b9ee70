#!/usr/bin/env python3
"""Measure SQLiteStorage create throughput as kapisup uses it: several worker processes on one
file, each with many greenlets writing about 1 KB objects. Prints one JSON document.

    .venv/bin/python scripts/bench_storage.py [--processes 2] [--greenlets 50] [--seconds 5]

The parent never imports gevent (like kapisup's master): it prepares the file, starts the
workers as subprocesses, and sums what they report. Every run is bounded by --seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def worker(args: argparse.Namespace) -> None:
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from kapisup.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(args.path, synchronous=args.synchronous, max_batch=args.max_batch,
                            compact_interval=None)
    payload = "x" * max(0, args.size - 150)
    latencies: list[float] = []
    stall = [0.0]
    stop_at = args.start_at + args.seconds

    def ticker() -> None:
        last = time.perf_counter()
        while time.time() < stop_at:
            gevent.sleep(0.005)
            now = time.perf_counter()
            stall[0] = max(stall[0], now - last - 0.005)
            last = now

    def writer(index: int) -> None:
        sequence = 0
        while True:
            begin = time.perf_counter()
            if time.time() >= stop_at:
                return
            name = f"w{args.worker_id}-g{index}-{sequence}"
            storage.create(f"/registry/configmaps/bench/{name}", {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "bench", "uid": f"uid-{name}"},
                "data": {"payload": payload}})
            latencies.append(time.perf_counter() - begin)
            sequence += 1

    gevent.sleep(max(0.0, args.start_at - time.time()))
    cpu_before = time.process_time()
    tick = gevent.spawn(ticker)
    gevent.joinall([gevent.spawn(writer, i) for i in range(args.greenlets)])
    tick.join()
    cpu = time.process_time() - cpu_before
    storage.close()
    latencies.sort()
    print(json.dumps({
        "worker": args.worker_id, "creates": len(latencies), "cpu_s": round(cpu, 3),
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(_percentile(latencies, 1.0) * 1000, 2),
        "max_hub_stall_ms": round(stall[0] * 1000, 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--greenlets", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=1024, help="approximate object size")
    parser.add_argument("--synchronous", default="NORMAL")
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--path", help="database file (default: a fresh temporary one)")
    parser.add_argument("--worker-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_id is not None:
        worker(args)
        return

    from kapisup.storage.sqlite_schema import prepare

    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        path = args.path or os.path.join(tmp, "store.db")
        prepare(path)
        start_at = time.time() + 1.0
        children = [subprocess.Popen(
            [sys.executable, __file__, "--worker-id", str(i), "--start-at", str(start_at),
             "--path", path, "--greenlets", str(args.greenlets), "--seconds", str(args.seconds),
             "--size", str(args.size), "--synchronous", args.synchronous,
             "--max-batch", str(args.max_batch)], stdout=subprocess.PIPE, text=True)
            for i in range(args.processes)]
        reports = []
        for child in children:
            out, _ = child.communicate(timeout=args.seconds + 60)
            if child.returncode != 0:
                raise SystemExit(f"worker exited with {child.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        total = sum(r["creates"] for r in reports)
        print(json.dumps({
            "processes": args.processes, "greenlets_per_process": args.greenlets,
            "seconds": args.seconds, "object_bytes": args.size,
            "synchronous": args.synchronous.upper(), "max_batch": args.max_batch,
            "creates": total, "creates_per_s": round(total / args.seconds),
            "workers": reports}, indent=2))


if __name__ == "__main__":
    main()
