"""kapisup under a real supervisord, run from the shipped conf/supervisord.conf."""

from __future__ import annotations

import configparser
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.server import alive, children_of, free_port, one_shot_get, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Supervisord:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.port = free_port()
        self.secure_port = free_port()
        self.conf = tmp_path / "supervisord.conf"
        parser = configparser.RawConfigParser()
        parser.read(ROOT / "conf" / "supervisord.conf")
        # Only the supervisor's own files move to the test's directory; the program runs as
        # shipped, with its ports and data directory given through KAPISUP_* variables.
        parser.set("supervisord", "pidfile", str(tmp_path / "supervisord.pid"))
        parser.set("unix_http_server", "file", str(tmp_path / "supervisor.sock"))
        parser.set("supervisorctl", "serverurl", f"unix://{tmp_path / 'supervisor.sock'}")
        parser.set("program:kapisup", "command",
                   parser.get("program:kapisup", "command").replace("%(here)s",
                                                                     str(ROOT / "conf")))
        parser.set("program:kapisup", "directory", str(tmp_path))
        parser.set("program:kapisup", "stdout_logfile", str(tmp_path / "kapisup.log"))
        with open(self.conf, "w") as handle:
            parser.write(handle)
        self.env = {
            **os.environ,
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            "KAPISUP_INSECURE_PORT": str(self.port),
            "KAPISUP_SECURE_PORT": str(self.secure_port),
            "KAPISUP_BIND_ADDRESS": "127.0.0.1",
            "KAPISUP_DATA_DIR": str(tmp_path / "data"),
            "KAPISUP_WORKERS": "2",
            "KAPISUP_GRACEFUL_TIMEOUT": "5s",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.master_pid() > 0, what="kapisup RUNNING")
        try:
            wait_for(self.healthy, what="healthz")
        except AssertionError as err:
            log = (self.tmp / "kapisup.log").read_text()[-3000:]
            raise AssertionError(
                f"no healthz on port {self.port}: {self.ctl('status')}\n{log}") from err


    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), *args],
            env=self.env, capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def master_pid(self) -> int:
        out = self.ctl("pid", "kapisup").strip()
        return int(out) if out.isdigit() and self.ctl("status", "kapisup").split()[1:2] == [
            "RUNNING"] else 0

    def healthy(self) -> bool:
        try:
            return one_shot_get(self.port, "/healthz", timeout=2) == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def supervisord(tmp_path):
    sup = Supervisord(tmp_path)
    try:
        sup.start()
        yield sup
    finally:
        pids = []
        with contextlib.suppress(Exception):
            master = sup.master_pid()
            pids = [master, *children_of(master)] if master else []
        sup.stop()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_start_restart_and_stop_leave_nothing_behind(supervisord):
    master = supervisord.master_pid()
    workers = children_of(master)
    assert len(workers) == 2

    assert "started" in supervisord.ctl("restart", "kapisup")
    wait_for(supervisord.healthy, what="healthz after restart")
    new_master = supervisord.master_pid()
    assert new_master != master
    assert not any(alive(pid) for pid in [master, *workers])
    new_workers = children_of(new_master)
    assert len(new_workers) == 2

    assert "stopped" in supervisord.ctl("stop", "kapisup")
    assert not any(alive(pid) for pid in [new_master, *new_workers])
    for port in (supervisord.port, supervisord.secure_port):
        with socket.socket() as sock:  # no listener is left: a new master can bind (as
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # kapisup binds)
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_signal_hup_reloads_workers(supervisord):
    master = supervisord.master_pid()
    workers = set(children_of(master))
    supervisord.ctl("signal", "HUP", "kapisup")
    wait_for(lambda: len(children_of(master)) == 2 and not workers & set(children_of(master)),
             what="a new generation of workers")
    assert supervisord.master_pid() == master
    assert supervisord.healthy()
