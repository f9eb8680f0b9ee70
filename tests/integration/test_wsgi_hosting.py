"""`kapisup.wsgi:application` hosted by another pre-fork server (gunicorn's gevent worker, the
benchmarks' peer): each worker builds the insecure chain and runs the post-start work, so the
API is live and ready there too, not only under kapisup's own workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from tests.integration.server import free_port, wait_for


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "KAPISUP_DATA_DIR": str(tmp_path / "data"),
           "KAPISUP_LOG_LEVEL": "warning"}
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "5", "kapisup.wsgi:application"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=5).status_code
    except requests.ConnectionError:
        return 0


def test_gunicorn_hosted_workers_bootstrap_and_serve_the_api(gunicorn):
    wait_for(lambda: _status(f"{gunicorn}/readyz") == 200, 60, "gunicorn-hosted kapisup ready")
    assert requests.get(f"{gunicorn}/healthz", timeout=5).text == "ok"
    names = {item["metadata"]["name"] for item in
             requests.get(f"{gunicorn}/api/v1/namespaces", timeout=10).json()["items"]}
    assert {"default", "kube-system", "kube-public"} <= names
    made = requests.post(f"{gunicorn}/api/v1/namespaces/default/configmaps", timeout=10,
                         json={"metadata": {"name": "hosted"}, "data": {"a": "b"}})
    assert made.status_code == 201, made.text
    got = requests.get(f"{gunicorn}/api/v1/namespaces/default/configmaps/hosted", timeout=10)
    assert got.json()["data"] == {"a": "b"}
