#!/usr/bin/env python
"""Which etcd client should kapisup's workers use? Measure, under gevent, the JSON-gateway
client kapisup ships (kapisup/storage/etcd_client.py, raw http.client) against a gRPC client
made cooperative (`grpc.experimental.gevent.init_gevent()` + etcd-sdk-python, module pyetcd).

For each client and 1 or 8 greenlets: put (unconditional, 1 KB), cas (txn mod_revision == the
known one -> put, kube's GuaranteedUpdate), get (one key) and list (a 100-key prefix of 1 KB
values): ops/s and the client process's CPU per op (user + system, all threads, so gRPC's own
threads count). etcd is a fresh single member started by tests/etcd_cluster.py on the same
machine, so figures are ceilings for this box. Needs the `bench` extra:
`pip install -e '.[bench]'`. Bounded: every cell runs --seconds (default 2).

    .venv/bin/python scripts/bench_etcd_client.py [--seconds 2] [--json out.json]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kapisup.storage.etcd_client import (  # noqa: E402
    EtcdClient,
    b64,
    header_revision,
    prefix_end,
)
from tests.etcd_cluster import EtcdCluster  # noqa: E402

VALUE = b"x" * 1024
LIST_KEYS = 100
OPS = ("put", "cas", "get", "list")


class Gateway:
    name = "gateway (http.client, kapisup)"

    def __init__(self, url: str):
        self.client = EtcdClient([url])

    def put(self, key: bytes) -> int:
        return header_revision(self.client.put(key, VALUE))

    def cas(self, key: bytes, revision: int) -> int:
        k = b64(key)
        answer = self.client.txn(
            [{"key": k, "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}],
            [{"request_put": {"key": k, "value": b64(VALUE)}}], [])
        assert answer.get("succeeded"), "lost a race on a private key"
        return header_revision(answer)

    def get(self, key: bytes) -> None:
        assert self.client.range(key).get("kvs")

    def list(self, prefix: bytes) -> None:
        assert len(self.client.range(prefix, prefix_end(prefix)).get("kvs", ())) == LIST_KEYS


class GRPC:
    name = "gRPC (pyetcd + init_gevent)"

    def __init__(self, url: str):
        import grpc.experimental.gevent as grpc_gevent
        import pyetcd
        from pyetcd import etcdrpc

        grpc_gevent.init_gevent()
        host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
        self.client = pyetcd.client(host, int(port))
        self.rpc = etcdrpc

    def put(self, key: bytes) -> int:
        return int(self.client.put(key, VALUE).header.revision)

    def cas(self, key: bytes, revision: int) -> int:
        c = self.client
        request = self.rpc.TxnRequest(
            compare=[(c.transactions.mod(key) == revision).build_message()],
            success=c._ops_to_requests([c.transactions.put(key, VALUE)]), failure=[])
        answer = c.kvstub.Txn(request, c.timeout)
        assert answer.succeeded, "lost a race on a private key"
        return int(answer.header.revision)  # the header pyetcd's transaction() drops

    def get(self, key: bytes) -> None:
        assert self.client.get(key)[0] is not None

    def list(self, prefix: bytes) -> None:
        assert len(list(self.client.get_prefix(prefix))) == LIST_KEYS


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_cell(client: Any, op: str, greenlets: int, seconds: float, run_id: str
             ) -> dict[str, Any]:
    list_prefix = f"/bench/{run_id}/list/".encode()
    done = [0]
    stop_at = [0.0]

    def worker(index: int) -> None:
        key = f"/bench/{run_id}/{op}-key/{index}".encode()
        revision = client.put(key)
        step: Callable[[], Any]
        if op == "put":
            def step() -> None:
                client.put(key)
        elif op == "cas":
            def step() -> None:
                nonlocal revision
                revision = client.cas(key, revision)
        elif op == "get":
            def step() -> None:
                client.get(key)
        else:
            def step() -> None:
                client.list(list_prefix)
        while time.monotonic() < stop_at[0]:
            step()
            done[0] += 1

    if op == "list":
        for i in range(LIST_KEYS):
            client.put(list_prefix + f"{i:03d}".encode())
    for index in range(greenlets):  # warm the connections / channel
        client.put(f"/bench/{run_id}/{op}-key/{index}".encode())
    cpu_before, wall_before = cpu(), time.monotonic()
    stop_at[0] = wall_before + seconds
    gevent.joinall([gevent.spawn(worker, i) for i in range(greenlets)], raise_error=True)
    wall = time.monotonic() - wall_before
    used = cpu() - cpu_before
    return {"client": client.name, "op": op, "greenlets": greenlets, "ops": done[0],
            "ops_per_s": round(done[0] / wall), "cpu_ms_per_op": round(1000 * used / done[0], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, EtcdCluster(tmp, members=1) as cluster:
        url = cluster.client_urls[0]
        for make in (Gateway, GRPC):
            client = make(url)
            for greenlets in (1, 8):
                for op in OPS:
                    row = run_cell(client, op, greenlets, args.seconds,
                                   f"{make.__name__}-{greenlets}")
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print("| client | greenlets | " + " | ".join(f"{op} ops/s (CPU ms/op)" for op in OPS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in OPS) + " |")
    for make in (Gateway, GRPC):
        for greenlets in (1, 8):
            cells = {r["op"]: r for r in rows
                     if r["client"] == make.name and r["greenlets"] == greenlets}
            print(f"| {make.name} | {greenlets} | " + " | ".join(
                f"{cells[op]['ops_per_s']:,} ({cells[op]['cpu_ms_per_op']})" for op in OPS) + " |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
