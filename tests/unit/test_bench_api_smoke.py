"""Keep scripts/bench_api from rotting: its peer app, wrk parsing, and a tiny watch fan-out."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import requests

from tests.integration.server import running

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_api_fanout  # noqa: E402
import bench_api_peer  # noqa: E402
import bench_api_wrk  # noqa: E402

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:1/api/v1/namespaces/bench-create/configmaps
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    43.62ms   12.87ms 203.12ms   86.13%
  Latency Distribution
     50%   43.62ms
     75%   53.54ms
     90%   83.84ms
     99%    1.16s
  2580 requests in 2.01s, 1.17MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   1285.62
Transfer/sec:      0.58MB
BENCH created=2576 other=4
"""


def test_wrk_report_is_read_with_units_errors_and_lua_counts() -> None:
    result = bench_api_wrk.parse(WRK_OUTPUT)
    assert result["rps"] == 1285.62
    assert result["requests"] == 2580
    assert result["p50"] == 43.62
    assert result["p99"] == 1160.0
    assert result["errors"] == 3 + 4
    assert (result["created"], result["other"]) == (2576, 4)


def test_canned_peer_answers_the_captured_bytes(tmp_path, monkeypatch) -> None:
    (tmp_path / "get.json").write_bytes(b'{"kind":"ConfigMap"}')
    (tmp_path / "create.json").write_bytes(b'{"kind":"ConfigMap","created":true}')
    manifest = {"GET /api/v1/x": {"status": 200, "body": str(tmp_path / "get.json")},
                "POST /api/v1/y": {"status": 201, "body": str(tmp_path / "create.json")}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("BENCH_PEER_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setattr(bench_api_peer, "_canned", None)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    def request(method: str, path: str, body: bytes = b"") -> bytes:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
                   "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        return b"".join(bench_api_peer.canned(environ, start_response))

    assert request("GET", "/api/v1/x") == b'{"kind":"ConfigMap"}'
    assert request("POST", "/api/v1/y", b'{"a":1}') == b'{"kind":"ConfigMap","created":true}'
    assert request("GET", "/elsewhere") == b"{}"
    assert statuses == ["200 OK", "201 Created", "404 Not Found"]


def test_watch_clients_see_one_write_through_kapisup(tmp_path) -> None:
    with running(tmp_path, workers=2, secure=False) as server:
        namespaces = server.url + "/api/v1/namespaces"
        assert requests.post(namespaces, json={"metadata": {"name": "smoke"}},
                             timeout=10).status_code == 201
        configmaps = namespaces + "/smoke/configmaps"
        rv = requests.get(configmaps, timeout=10).json()["metadata"]["resourceVersion"]

        def write(name: str) -> None:
            answer = requests.post(configmaps, json={"metadata": {"name": name}}, timeout=10)
            assert answer.status_code == 201

        result = bench_api_fanout.run(
            server.insecure_port, f"/api/v1/namespaces/smoke/configmaps?watch=true&"
            f"resourceVersion={rv}", watchers=12, clients=2, write=write, writes=1,
            run_id="smoke", deliver_timeout=10, setup_timeout=20)
    assert result["opened"] == 12
    assert result["warmup_received"] == 12
    assert result["received"] == result["expected"] == 12
    assert result["bad_status"] == 0
    assert result["statuses"] == ["HTTP/1.1 200 OK"]
    assert {"p50_ms", "p99_ms", "max_ms"} <= set(result)
