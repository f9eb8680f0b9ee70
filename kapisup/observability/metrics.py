"""Prometheus metrics shared by all workers through prometheus_client's multiprocess mode.

Files are keyed by worker slot, not pid: a slot is unique among live workers and reused by its
replacement, so respawns and --max-requests recycling do not grow the directory (and counters
keep counting from where the slot left them, so sums never go backwards). The master owns the
directory: it wipes it before the first fork and deletes a dead slot's live-gauge files.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kapisup.endpoints.body import ClosingBody

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
SUPERVISOR_STATS = "supervisor.json"

# kube-apiserver's apiserver_request_duration_seconds buckets.
DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0,
                    4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)


# ---- master side: no prometheus_client import here ----------------------------------------

def prepare_dir(path: str) -> str:
    """Create (or wipe) the multiprocess directory and export it before any worker exists."""
    if not path:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        path = tempfile.mkdtemp(prefix="kapisup-metrics-", dir=base)
    else:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            full = os.path.join(path, name)
            if os.path.isdir(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.unlink(full)
    os.environ[ENV_DIR] = path
    return path


def slot_identifier(worker_id: int) -> str:
    return f"w{worker_id}"


def mark_worker_dead(path: str, worker_id: int) -> None:
    """What prometheus_client's mark_process_dead does, for our slot identifiers."""
    for name in glob.glob(os.path.join(path, f"gauge_live*_{slot_identifier(worker_id)}.db")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def write_supervisor_stats(path: str, workers: int, restarts: dict[str, int]) -> None:
    """Atomically publish the master's counters for any worker's /metrics to read."""
    target = os.path.join(path, SUPERVISOR_STATS)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"workers": workers, "restarts": restarts}, handle)
    os.replace(tmp, target)


# ---- worker side --------------------------------------------------------------------------

class RequestMetrics:
    """The apiserver_* metrics of this worker, created after the fork."""

    def __init__(self, worker_id: int):
        from prometheus_client import values

        identifier = slot_identifier(worker_id)
        if os.environ.get(ENV_DIR):
            values.ValueClass = values.MultiProcessValue(lambda: identifier)
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        registry = CollectorRegistry(auto_describe=False)  # never scraped: files are
        labels = ("verb", "group", "version", "resource", "subresource", "scope", "component",
                  "code")
        self.requests = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            labels, registry=registry)
        self.duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, resource, "
            "subresource, scope and component.",
            labels[:-1], buckets=DURATION_BUCKETS, registry=registry)
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.",
            ("request_kind",), multiprocess_mode="livesum", registry=registry)
        self._children: dict[tuple[str, ...], tuple[Any, Any]] = {}
        self._pending: dict[tuple[str, ...], list[Any]] = {}
        self._inflight_children = {kind: self.inflight.labels(kind)
                                   for kind in ("readOnly", "mutating")}
        self._inflight_now = dict.fromkeys(self._inflight_children, 0)
        self._inflight_high = dict.fromkeys(self._inflight_children, 0)

    def set_inflight(self, kind: str, current: int) -> None:
        """Called on every acquire and release: only plain ints here, no shared memory."""
        self._inflight_now[kind] = current
        if current > self._inflight_high[kind]:
            self._inflight_high[kind] = current

    def publish_inflight(self) -> None:
        """Publish the high-water mark since the last call (kube's gauge is the maximum in
        the last second), then start the next window from the current value."""
        for kind, child in self._inflight_children.items():
            child.set(self._inflight_high[kind])
            self._inflight_high[kind] = self._inflight_now[kind]

    def observe(self, labels: tuple[str, ...], code: str, seconds: float) -> None:
        """Count in plain Python; `flush` moves the sums into the shared files."""
        key = (*labels, code)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = [0, 0.0, [0] * (len(DURATION_BUCKETS) + 1)]
        pending[0] += 1
        pending[1] += seconds
        pending[2][bisect_left(DURATION_BUCKETS, seconds)] += 1

    def flush(self) -> None:
        """Publish what `observe` counted since the last flush (each worker does it every
        second and before it answers /metrics). One mmap write per series, not per request."""
        pending, self._pending = self._pending, {}
        for key, (count, total, buckets) in pending.items():
            children = self._children.get(key)
            if children is None:
                children = (self.requests.labels(*key), self.duration.labels(*key[:-1]))
                self._children[key] = children
            requests, histogram = children
            requests.inc(count)
            # Histogram.observe takes one value at a time; add the batch to its series directly.
            histogram._sum.inc(total)
            for index, hits in enumerate(buckets):
                if hits:
                    histogram._buckets[index].inc(hits)


def collect_text(path: str) -> bytes:
    """Prometheus text exposition of every worker's files plus the master's counters."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=path)
    registry.register(_SupervisorCollector(path))
    return generate_latest(registry)


class _SupervisorCollector:
    def __init__(self, path: str):
        self._path = path

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        try:
            with open(os.path.join(self._path, SUPERVISOR_STATS), encoding="utf-8") as handle:
                stats = json.load(handle)
        except (OSError, ValueError):
            return
        workers = GaugeMetricFamily("kapisup_workers", "Worker processes alive now.")
        workers.add_metric([], stats.get("workers", 0))
        yield workers
        restarts = CounterMetricFamily(
            "kapisup_worker_restarts", "Workers replaced after they died, timed out or recycled.",
            labels=["reason"])
        for reason, count in sorted(stats.get("restarts", {}).items()):
            restarts.add_metric([reason], count)
        yield restarts


# ---- the WSGI wrapper ---------------------------------------------------------------------

_RESOURCE_VERBS = {
    "get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT",
    "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETECOLLECTION",
    "proxy": "CONNECT",
}
_APPLY = "application/apply-patch"


def instrument(app: Callable[..., Iterable[bytes]], metrics: RequestMetrics,
               request_info_key: str, known_paths: Callable[[str], bool]) -> Callable[..., Any]:
    """Record apiserver_request_total and _duration_seconds once each response is complete."""

    def instrumented(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        status_holder: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_holder[:] = [status]
            return start_response(status, headers, exc_info)

        try:
            body = app(environ, capture)
        except BaseException:
            _record(environ, "500", started)
            raise
        if isinstance(body, list):
            _record(environ, status_holder[0][:3] if status_holder else "500", started)
            return body
        return ClosingBody(body, lambda: _record(
            environ, status_holder[0][:3] if status_holder else "500", started))

    def _record(environ: dict[str, Any], code: str, started: float) -> None:
        metrics.observe(_labels(environ), code, time.perf_counter() - started)

    def _labels(environ: dict[str, Any]) -> tuple[str, ...]:
        info = environ.get(request_info_key)
        if info is None or not info.is_resource_request:
            path = environ.get("PATH_INFO", "")
            return (environ.get("REQUEST_METHOD", ""), "", "", "", path if known_paths(path)
                    else "other", "", "apiserver")
        verb = _RESOURCE_VERBS.get(info.verb, info.verb.upper())
        if verb == "PATCH" and environ.get("CONTENT_TYPE", "").startswith(_APPLY):
            verb = "APPLY"
        if info.name:
            scope = "resource"
        elif info.namespace:
            scope = "namespace"
        else:
            scope = "cluster"
        return (verb, info.api_group, info.api_version, info.resource, info.subresource, scope,
                "apiserver")

    return instrumented

