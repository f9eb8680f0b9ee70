"""The master and its forked workers, driven by signals, as an operator would."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
import warnings

import pytest
import requests

from tests.integration.server import (
    Kapisup,
    alive,
    one_shot_get,
    run_to_exit,
    running,
    wait_for,
)


def _titles(pids: list[int]) -> list[str]:
    titles = []
    for pid in pids:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            titles.append(handle.read().replace(b"\0", b" ").decode().strip())
    return titles


def test_workers_come_up_and_answer(tmp_path):
    with running(tmp_path, workers=2) as server:
        workers = server.workers()
        assert len(workers) == 2
        assert sorted(_titles(workers)) == ["kapisup: worker 1", "kapisup: worker 2"]
        assert _titles([server.pid])[0].startswith("kapisup: master")
        response = server.get("/healthz")
        assert response.status_code == 200 and response.text == "ok"
        paths = server.get("/").json()["paths"]
        for path in ("/healthz", "/livez", "/readyz", "/metrics", "/version"):
            assert path in paths
        assert paths == sorted(paths)
        version = server.get("/version").json()
        assert version["major"] == "1" and version["minor"] == "32"
        assert len(version) == 9 and all(isinstance(v, str) for v in version.values())


def test_requests_spread_over_workers(tmp_path):
    with running(tmp_path, workers=2) as server:
        mark = server.mark()
        codes: list[int] = []

        def client() -> None:
            for _ in range(25):
                codes.append(one_shot_get(server.insecure_port, "/healthz"))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert codes.count(200) == 200
        wait_for(lambda: len(server.access("/healthz", mark)) >= 200, what="access lines")
        served_by = {e["pid"] for e in server.access("/healthz", mark)}
        assert served_by <= set(server.workers())
        assert len(served_by) == 2


def test_term_drains_an_in_flight_request(tmp_path):
    with running(tmp_path, workers=1) as server:
        result: dict[str, object] = {}

        def slow() -> None:
            response = requests.get(server.url + "/debug/pprof/profile?seconds=3", timeout=30)
            result["code"] = response.status_code
            result["body"] = response.text
            result["connection"] = response.headers.get("Connection")

        thread = threading.Thread(target=slow)
        thread.start()
        wait_for(lambda: _in_flight_profile(server), what="profile in flight")
        server.signal(signal.SIGTERM)
        thread.join(timeout=30)
        assert result["code"] == 200
        assert "function calls" in str(result["body"])
        assert result["connection"] == "close"
        assert server.wait_exit() == 0


def _in_flight_profile(server: Kapisup) -> bool:
    # The scrape itself is one read-only request in flight; the profile makes it two.
    text = server.get("/metrics").text
    return _sample(text, "apiserver_current_inflight_requests", 'request_kind="readOnly"') >= 2


def test_sigkill_of_master_leaves_no_worker(tmp_path):
    server = Kapisup(tmp_path, workers=2).start()
    try:
        workers = server.workers()
        assert len(workers) == 2
        os.kill(server.pid, signal.SIGKILL)
        server.wait_exit()
        wait_for(lambda: not any(alive(pid) for pid in workers), what="workers to exit")
        # The ports are free again: a new master can bind them.
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", server.insecure_port))
    finally:
        server.stop()


def test_killed_worker_is_respawned(tmp_path):
    with running(tmp_path, workers=2) as server:
        before = server.workers()
        os.kill(before[0], signal.SIGKILL)
        wait_for(lambda: len(server.workers()) == 2 and before[0] not in server.workers(),
                 what="respawn")
        wait_for(lambda: server.get("/healthz").status_code == 200, what="healthz")
        metrics = server.get("/metrics").text
        assert 'kapisup_worker_restarts_total{reason="crash"} 1.0' in metrics
        assert "kapisup_workers 2.0" in metrics


def test_hup_reload_fails_no_request(tmp_path):
    with running(tmp_path, workers=2) as server:
        old = set(server.workers())
        codes: list[int] = []
        stop = threading.Event()

        def load() -> None:
            deadline = time.monotonic() + 60
            for _ in range(5000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                codes.append(one_shot_get(server.insecure_port, "/healthz"))

        thread = threading.Thread(target=load)
        thread.start()
        wait_for(lambda: len(codes) >= 20, what="load to start")
        mark = server.mark()
        server.signal(signal.SIGHUP)
        server.wait_log(lambda e: e.get("event") == "reload complete", after=mark)
        wait_for(lambda: not (old & set(server.workers())), what="old workers to exit")
        count = len(codes)
        wait_for(lambda: len(codes) >= count + 20, what="load after reload")
        stop.set()
        thread.join(timeout=60)
        assert codes and set(codes) == {200}
        assert len(server.workers()) == 2


def test_ttin_and_ttou_scale_workers(tmp_path):
    with running(tmp_path, workers=1) as server:
        server.signal(signal.SIGTTIN)
        wait_for(lambda: len(server.workers()) == 2, what="a second worker")
        server.signal(signal.SIGTTOU)
        wait_for(lambda: len(server.workers()) == 1, what="back to one worker")
        assert server.get("/healthz").status_code == 200


def test_blocked_worker_is_killed_and_replaced(tmp_path):
    with running(tmp_path, "--worker-timeout", "2s", workers=1) as server:
        (worker,) = server.workers()
        os.kill(worker, signal.SIGSTOP)  # its loop can no longer beat the heartbeat
        server.wait_log(lambda e: e.get("event") == "worker timeout: event loop blocked")
        wait_for(lambda: not alive(worker) and len(server.workers()) == 1, what="replacement")
        wait_for(lambda: server.get("/healthz").status_code == 200, what="healthz")
        assert 'kapisup_worker_restarts_total{reason="timeout"} 1.0' in server.get("/metrics").text


def test_tls_handshake_on_secure_port(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("t0ken,admin,1\n")
    with running(tmp_path, "--token-auth-file", str(tokens), workers=1) as server:
        context = ssl.create_default_context(cafile=os.path.join(server.data_dir, "pki",
                                                                  "ca.crt"))
        with socket.create_connection(("127.0.0.1", server.secure_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                        b"Authorization: Bearer t0ken\r\n\r\n")
            data = b""
            while chunk := tls.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200")
        assert data.endswith(b"ok")
        # TLS 1.1 is refused.
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises(ssl.SSLError), \
                socket.create_connection(("127.0.0.1", server.secure_port), timeout=10) as raw:
            old.wrap_socket(raw).close()


def test_metrics_count_requests_of_all_workers(tmp_path):
    with running(tmp_path, workers=2) as server:
        mark = server.mark()
        # Fresh connections until both workers have answered some (which worker accepts is
        # the kernel's choice), in rounds of 30, at most 600 requests.
        sent = 0
        while sent < 600:
            for _ in range(30):
                assert one_shot_get(server.insecure_port, "/livez") == 200
            sent += 30
            wait_for(lambda n=sent: len(server.access("/livez", mark)) >= n, what="access lines")
            if len({e["pid"] for e in server.access("/livez", mark)}) == 2:
                break
        pids = {e["pid"] for e in server.access("/livez", mark)}
        # Each worker publishes its counts once a second (and the one answering, at once).
        text = wait_for(lambda: (t := server.get("/metrics").text) and _sample(
            t, "apiserver_request_total", 'subresource="/livez"', 'code="200"') >= sent and t,
            what="both workers' counts")
        assert _sample(text, "apiserver_request_total", 'subresource="/livez"',
                       'code="200"') == sent
        assert len(pids) == 2  # so the sum above really came from both workers' files
        assert _sample(text, "apiserver_request_duration_seconds_count",
                       'subresource="/livez"') == sent
        check = os.popen(f"curl -s {server.url}/metrics | promtool check metrics 2>&1").read()
        assert "error" not in check.lower(), check


def _sample(text: str, name: str, *needles: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(n in line for n in needles):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_max_requests_recycles_workers(tmp_path):
    with running(tmp_path, "--max-requests", "10", "--max-requests-jitter", "3",
                 workers=1) as server:
        (first,) = server.workers()
        codes = [one_shot_get(server.insecure_port, "/healthz") for _ in range(40)]
        assert set(codes) == {200}
        server.wait_log(lambda e: e.get("event") == "worker recycled")
        assert first not in server.workers()
        wait_for(lambda: len(server.workers()) == 1, what="one worker")


def test_quick_stop_on_int(tmp_path):
    server = Kapisup(tmp_path, workers=2).start()
    try:
        workers = server.workers()
        server.signal(signal.SIGINT)
        assert server.wait_exit() == 0
        assert not any(alive(pid) for pid in workers)
    finally:
        server.stop()


def test_worker_stopped_directly_by_term_is_replaced(tmp_path):
    with running(tmp_path, workers=1) as server:
        (worker,) = server.workers()
        os.kill(worker, signal.SIGTERM)
        wait_for(lambda: server.workers() and worker not in server.workers(), what="respawn")
        wait_for(lambda: server.get("/healthz").status_code == 200, what="healthz")


def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, output = run_to_exit(tmp_path, workers=1, insecure_port=taken.getsockname()[1])
    assert code == 1
    assert any("failed to listen on 127.0.0.1:" in line for line in output)


def test_bad_certificate_stops_before_serving(tmp_path):
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    code, output = run_to_exit(tmp_path, "--tls-cert-file", str(bad),
                               "--tls-private-key-file", str(bad), workers=1)
    assert code == 1
    assert any("cannot load certificate" in line for line in output)


def test_invalid_option_exits_2_before_binding(tmp_path):
    code, output = run_to_exit(tmp_path, "--request-timeout", "soon", workers=1)
    assert code == 2
    assert output == ["kapisup: error: --request-timeout (flag): expected a duration "
                      "such as 60s or 1m30s, got 'soon'"]


def test_usr1_reopens_the_audit_log(tmp_path):
    audit = tmp_path / "audit.log"
    with running(tmp_path, "--audit-log-path", str(audit), workers=1) as server:
        assert server.get("/api").status_code == 200  # the default policy skips /healthz
        wait_for(lambda: audit.exists() and audit.read_text().count("\n") >= 1, what="audit")
        audit.rename(tmp_path / "audit.log.1")
        mark = server.mark()
        server.signal(signal.SIGUSR1)
        server.wait_log(lambda e: e.get("event") == "signal received", after=mark)
        wait_for(lambda: server.get("/healthz").status_code == 200 and audit.exists(),
                 what="a new audit file")
