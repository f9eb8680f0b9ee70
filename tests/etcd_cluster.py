"""Real etcd members for tests: Debian's `etcd` on free loopback ports, stopped by PID.

    cluster = EtcdCluster(tmp_path, members=3)   # started and healthy
    cluster.client_urls                          # ["http://127.0.0.1:NNNN", ...]
    cluster.kill(cluster.leader()); cluster.start(i); cluster.close()

Members run with short raft timers (heartbeat 10 ms, election 100 ms) so a restart or a leader
loss settles in a fraction of a second, and without fsync (test data need not survive power
loss). Each member logs to `<dir>/member-<i>/etcd.log`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"
START_TIMEOUT = 30.0


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _post_json(url: str, body: dict[str, Any], context: ssl.SSLContext | None = None,
               timeout: float = 1.0) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read())


class EtcdCluster:
    """`members` etcd processes forming one cluster; started (and healthy) on construction."""

    def __init__(self, tmp_path: Path | str, members: int = 1, *, name: str = "etcd",
                 extra_args: tuple[str, ...] = (), tls: bool = False):
        self.dir = Path(tmp_path) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.size = members
        self.extra_args = extra_args
        # with tls: clients must use https and present a certificate of our CA
        self.ca_file = self.cert_file = self.key_file = ""
        self._server_cert = ("", "")
        if tls:
            self._make_certificates()
        ports = free_ports(2 * members)
        self.client_ports = ports[:members]
        self.peer_ports = ports[members:]
        self.token = f"{name}-{os.getpid()}-{time.monotonic_ns()}"
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * members
        self._started_once = [False] * members
        try:
            for index in range(members):
                self.start(index, wait=False)
            self.wait_healthy()
        except BaseException:
            self.close()
            raise

    # --- addresses ---------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.ca_file else "http"

    @property
    def client_urls(self) -> list[str]:
        return [f"{self.scheme}://127.0.0.1:{port}" for port in self.client_ports]

    def _make_certificates(self) -> None:
        from cryptography.x509.oid import ExtendedKeyUsageOID

        from tests.unit.test_x509 import issue, make_ca

        ca = make_ca("etcd-test-ca")
        self.ca_file = ca.write(self.dir / "ca")[0]
        # etcd's own gateway presents the server certificate to etcd's gRPC: clientAuth too
        server = issue(ca, "etcd", usages=[ExtendedKeyUsageOID.SERVER_AUTH,
                                           ExtendedKeyUsageOID.CLIENT_AUTH],
                       dns=("localhost",), ips=("127.0.0.1",))
        self._server_cert = server.write(self.dir / "server")
        self.cert_file, self.key_file = issue(ca, "kapisup").write(self.dir / "client")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.ca_file:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    @property
    def endpoints(self) -> str:
        """The `--etcd-servers` / `etcdctl --endpoints` value."""
        return ",".join(self.client_urls)

    def _member(self, index: int) -> str:
        return f"m{index}"

    def _initial_cluster(self) -> str:
        return ",".join(f"{self._member(i)}=http://127.0.0.1:{port}"
                        for i, port in enumerate(self.peer_ports))

    # --- processes ---------------------------------------------------------------------------

    def start(self, index: int, *, wait: bool = True) -> None:
        """Start member `index` (again, with the same data directory, after a kill or stop)."""
        proc = self.procs[index]
        if proc is not None and proc.poll() is None:
            return
        member_dir = self.dir / f"member-{index}"
        member_dir.mkdir(exist_ok=True)
        client = f"{self.scheme}://127.0.0.1:{self.client_ports[index]}"
        peer = f"http://127.0.0.1:{self.peer_ports[index]}"
        argv = [
            ETCD, "--name", self._member(index),
            "--data-dir", str(member_dir / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", self._initial_cluster(),
            "--initial-cluster-token", self.token,
            "--initial-cluster-state", "new",
            "--logger=zap", f"--log-outputs={member_dir / 'etcd.log'}",
            "--heartbeat-interval", "10", "--election-timeout", "100",
            "--unsafe-no-fsync",
            *self.extra_args,
        ]
        if self.ca_file:
            argv += ["--cert-file", self._server_cert[0], "--key-file", self._server_cert[1],
                     "--client-cert-auth", "--trusted-ca-file", self.ca_file]
        self.procs[index] = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
        self._started_once[index] = True
        if wait:
            self.wait_healthy([index])

    def kill(self, index: int) -> None:
        """SIGKILL member `index` (a crash) and reap it."""
        self._signal(index, signal.SIGKILL)

    def stop(self, index: int) -> None:
        """SIGTERM member `index` (a clean stop); SIGKILL if it lingers."""
        self._signal(index, signal.SIGTERM)

    def _signal(self, index: int, signum: int) -> None:
        proc = self.procs[index]
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signum)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def running(self, index: int) -> bool:
        proc = self.procs[index]
        return proc is not None and proc.poll() is None

    def close(self) -> None:
        for index in range(self.size):
            self.stop(index)

    def __enter__(self) -> EtcdCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- state -------------------------------------------------------------------------------

    def healthy(self, index: int) -> bool:
        try:
            with urllib.request.urlopen(self.client_urls[index] + "/health", timeout=1.0,
                                        context=self.ssl_context()) as response:
                return json.loads(response.read()).get("health") == "true"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def wait_healthy(self, indexes: list[int] | None = None,
                     timeout: float = START_TIMEOUT) -> None:
        """Bounded wait until the running members (or `indexes`) report a leader."""
        wanted = list(range(self.size)) if indexes is None else indexes
        deadline = time.monotonic() + timeout
        while True:
            for index in wanted:
                proc = self.procs[index]
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"etcd member {index} exited ({proc.returncode}); see "
                                       f"{self.dir / f'member-{index}' / 'etcd.log'}")
            if all(self.healthy(i) for i in wanted if self.running(i)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"etcd members {wanted} not healthy after {timeout}s")
            time.sleep(0.05)

    def status(self, index: int) -> dict[str, Any]:
        return _post_json(self.client_urls[index] + "/v3/maintenance/status", {},
                          self.ssl_context())

    def leader(self, timeout: float = START_TIMEOUT) -> int:
        """Index of the current leader, asked of the running members (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self.size):
                if not self.running(index):
                    continue
                try:
                    status = self.status(index)
                except (OSError, ValueError):
                    continue
                leader_id = status.get("leader")
                if leader_id and leader_id != "0" and \
                        leader_id == status.get("header", {}).get("member_id"):
                    return index
            if time.monotonic() > deadline:
                raise TimeoutError("no etcd leader")
            time.sleep(0.05)

    def etcdctl(self, *args: str, index: int | None = None) -> str:
        """Run etcdctl (API v3) against the cluster (or one member); its stdout."""
        endpoints = self.endpoints if index is None else self.client_urls[index]
        tls = ["--cacert", self.ca_file, "--cert", self.cert_file, "--key", self.key_file] \
            if self.ca_file else []
        done = subprocess.run([ETCDCTL, "--endpoints", endpoints, *tls, *args],
                              capture_output=True,
                              env={**os.environ, "ETCDCTL_API": "3"}, timeout=30, check=True)
        return done.stdout.decode()


@pytest.fixture(scope="session")
def etcd_single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    """One single-member etcd shared by a whole test session (import this fixture into a
    conftest to use it); tests keep apart by using their own key prefix."""
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd-session"), members=1)
    try:
        yield cluster
    finally:
        cluster.close()
