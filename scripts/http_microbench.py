"""Compare kapisup's HTTPServer with gunicorn's gevent worker and gevent.pywsgi, 1 process each.

Usage: python scripts/http_microbench.py [--rounds 2] [--duration 5] [--connections 64]

Each row starts its own server on 127.0.0.1 with a bare "ok" WSGI app, warms it up for 2 s,
then runs ``wrk -t1 -cN -dDs``; rounds are interleaved (every server once, then again) to
spread noise. Results are printed, never written: they belong to this machine and this moment.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
"""

KAPISUP = """
import socket, sys
sys.path.insert(0, {root!r})
import gevent
from bench_app import app
from kapisup.http.server import HTTPServer

class Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", {port}))
listener.listen(1024)
server = HTTPServer(listener, app, logger=Quiet())
server.start()
gevent.wait([server._accept_greenlet])
"""

PYWSGI = """
from gevent import monkey; monkey.patch_all()
import socket
from gevent.pywsgi import WSGIServer
from bench_app import app
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
listener.bind(("127.0.0.1", {port}))
listener.listen(1024)
WSGIServer(listener, app, log=None).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def start(kind: str, port: int, workdir: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{workdir}{os.pathsep}{ROOT}")
    if kind == "kapisup":
        cmd = [sys.executable, "-c", KAPISUP.format(root=str(ROOT), port=port)]
    elif kind == "pywsgi+nodelay":
        cmd = [sys.executable, "-c", PYWSGI.format(port=port)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-k",
            "gevent",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench_app:app",
        ]
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wrk(port: int, connections: int, duration: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        print(f"    wrk reported: {errors.group(0)}")
    return float(match.group(1)) if match else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", choices=["kapisup", "gunicorn-gevent", "pywsgi+nodelay"])
    args = ap.parse_args()
    kinds = [args.only] if args.only else ["kapisup", "gunicorn-gevent", "pywsgi+nodelay"]
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"kapisup-bench-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench_app.py").write_text(APP)
    results: dict[str, list[float]] = {k: [] for k in kinds}
    for rnd in range(args.rounds):
        for kind in kinds:
            port = free_port()
            proc = start(kind, port, workdir)
            try:
                wait_listening(port)
                wrk(port, args.connections, 2)  # warm-up
                rate = wrk(port, args.connections, args.duration)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
            results[kind].append(rate)
            print(f"round {rnd + 1} {kind:16s} {rate:10,.0f} req/s", flush=True)
    print()
    for kind, rates in results.items():
        mean = sum(rates) / len(rates)
        print(f"{kind:16s} mean {mean:10,.0f} req/s  ({', '.join(f'{r:,.0f}' for r in rates)})")
    base = results.get("gunicorn-gevent")
    if base and "kapisup" in results:
        ratio = sum(results["kapisup"]) / max(1.0, sum(base))
        print(f"kapisup / gunicorn-gevent = {ratio:.2f}x")
    if "pywsgi+nodelay" in results and "kapisup" in results:
        ratio = sum(results["kapisup"]) / max(1.0, sum(results["pywsgi+nodelay"]))
        print(f"kapisup / pywsgi+nodelay  = {ratio:.2f}x")


if __name__ == "__main__":
    main()
