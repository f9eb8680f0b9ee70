"""Hostile and broken clients never crash a worker and never get a 500 for their mistake."""

from __future__ import annotations

import random
import time

from tests.integration.server import exchange, running

CASES = [
    b"\x00\x01\x02garbage\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\n\r\n",
    b"GET /healthz\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /version HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    b"GET /api/v1/namespaces/%zz/pods HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /apis/x/y/watch HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/proxy HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
]


def test_broken_requests_get_4xx_and_workers_survive(tmp_path):
    rng = random.Random(20261126)
    with running(tmp_path, "--read-header-timeout", "2s", workers=2) as server:
        workers = sorted(server.workers())
        answers = [exchange(server.insecure_port, case, half_close=True, timeout=5)
                   for case in CASES]
        deadline = time.monotonic() + 60
        for _ in range(200):  # random bytes and mangled real requests, bounded
            if time.monotonic() > deadline:
                break
            base = bytearray(rng.choice([*CASES, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"]))
            for _ in range(rng.randint(1, 8)):
                base[rng.randrange(len(base))] = rng.randrange(256)
            answers.append(exchange(server.insecure_port, bytes(base), half_close=True, timeout=5))
        for answer in answers:
            if answer.startswith(b"HTTP/1.1 "):
                code = int(answer[9:12])
                assert code < 500 or code == 501, answer[:200]
        assert sorted(server.workers()) == workers
        assert server.get("/healthz").text == "ok"
        assert not [e for e in server.events() if e.get("event") == "worker died; respawning"]
