"""Run a real kubectl binary against a test kapisup: plain HTTP, a private cache, bounded time.

Each `Kubectl` owns one `--cache-dir`, so discovery cached by one test module never leaks into
another (or into the user's ~/.kube). Every run is bounded by a timeout, and background runs
(`get -w`, `wait`) are handed back as `Background` objects that the caller must stop.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.server import Kapisup

RUN_TIMEOUT = 30.0

# Where the Debian `kubernetes-client` (1.20) binary may be: installed normally (impossible next
# to gcloud's kubectl package, which owns /usr/bin/kubectl), or unpacked with `dpkg-deb -x`.
DEBIAN_KUBECTL_ENV = "KAPISUP_KUBECTL_1_20"
DEBIAN_KUBECTL_PATHS = ("/opt/kubernetes-client-1.20/usr/bin/kubectl",)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubectl"


@dataclass
class Result:
    """One finished kubectl run."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> Result:
        """Fail the test with kubectl's own words when it did not exit 0."""
        if self.rc != 0:
            raise AssertionError(f"{' '.join(self.argv)} exited {self.rc}\n"
                                 f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")
        return self


class Background:
    """A kubectl left running (a watch, a wait); its output goes to files read at any time."""

    def __init__(self, argv: list[str], env: dict[str, str], workdir: Path):
        self.argv = argv
        handle, name = tempfile.mkstemp(prefix="kubectl-out-", dir=workdir)
        os.close(handle)
        self.stdout_path = Path(name)
        self.stderr_path = self.stdout_path.with_suffix(".err")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout: float = RUN_TIMEOUT) -> Result:
        rc = self.proc.wait(timeout=timeout)
        return Result(self.argv, rc, self.stdout, self.stderr)

    def stop(self) -> Result:
        """End the run (if still going) and return what it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return Result(self.argv, self.proc.returncode, self.stdout, self.stderr)


class Kubectl:
    """One kubectl binary pointed at one server, with its own discovery cache."""

    def __init__(self, server_url: str, workdir: Path, binary: str = "kubectl"):
        self.binary = binary
        self.server_url = server_url
        self.workdir = workdir
        self.cache_dir = workdir / "kubectl-cache"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # An empty kubeconfig: nothing from the user's environment may change what is tested.
        self.kubeconfig = workdir / "kubeconfig"
        self.kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
        self.env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(workdir)}

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--server", self.server_url, "--cache-dir", str(self.cache_dir),
                *args]

    def run(self, *args: str, stdin: str | None = None,
            timeout: float = RUN_TIMEOUT) -> Result:
        argv = self.argv(*args)
        completed = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                   timeout=timeout, env=self.env, check=False)
        return Result(argv, completed.returncode, completed.stdout, completed.stderr)

    def ok(self, *args: str, stdin: str | None = None, timeout: float = RUN_TIMEOUT) -> str:
        """Run, require exit 0, return stdout."""
        return self.run(*args, stdin=stdin, timeout=timeout).check().stdout

    def start(self, *args: str) -> Background:
        return Background(self.argv(*args), self.env, self.workdir)

    @contextlib.contextmanager
    def background(self, *args: str) -> Iterator[Background]:
        """A kubectl run that is always stopped when the block ends, however it ends."""
        run = self.start(*args)
        try:
            yield run
        finally:
            run.stop()


def versioned_kubectl(minor: int) -> str | None:
    """The plain `kubectl.1.<minor>` build that lies beside the gcloud dispatcher, if any."""
    dispatcher = shutil.which("kubectl")
    if dispatcher is None:
        return None
    candidate = Path(os.path.realpath(dispatcher)).parent / f"kubectl.1.{minor}"
    return str(candidate) if os.access(candidate, os.X_OK) else None


def debian_kubectl() -> str | None:
    """Debian's kubernetes-client 1.20 binary, wherever it was put; None when absent."""
    configured = os.environ.get(DEBIAN_KUBECTL_ENV)
    candidates = [configured] if configured else []
    candidates += DEBIAN_KUBECTL_PATHS
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    return None


def wait_output(run: Background, needle: str, timeout: float = RUN_TIMEOUT) -> str:
    """Poll a background run's stdout until `needle` shows up (bounded), and return it all."""
    deadline = time.monotonic() + timeout
    while True:
        finished = run.proc.poll() is not None
        text = run.stdout
        if needle in text:
            return text
        if finished or time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never printed by {' '.join(run.argv)}\n"
                                 f"stdout:\n{text}\nstderr:\n{run.stderr}")
        time.sleep(0.05)


# ---- scenario plumbing: fixtures on disk, namespaces, reading back over the API ---------------


def fixture(name: str) -> str:
    """Path of a manifest under tests/fixtures/kubectl."""
    return str(FIXTURES / name)


def api_get(server: Kapisup, path: str) -> dict[str, Any] | None:
    """The stored object at `path`, or None on 404."""
    response = requests.get(server.url + path, timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def api_post(server: Kapisup, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(server.url + path, json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def make_namespace(server: Kapisup, name: str) -> str:
    api_post(server, "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def make_configmap(server: Kapisup, namespace: str, name: str,
                   labels: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"metadata": {"name": name, "labels": labels or {}}, "data": {"k": name}}
    return api_post(server, f"/api/v1/namespaces/{namespace}/configmaps", body)


def namespace_for(request: pytest.FixtureRequest) -> str:
    """A DNS-1123 label unique to the test (parametrized ids included)."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))
    return name.strip("-")[:50].strip("-")


def table(text: str) -> tuple[list[str], list[list[str]]]:
    """kubectl's human table as (header cells, rows of cells); columns split on 2+ spaces."""
    lines = [line for line in text.splitlines() if line.strip()]
    split = [re.split(r"\s{2,}", line.strip()) for line in lines]
    return split[0], split[1:]
