"""Request metrics: batched in the worker, exact once flushed into the shared files."""

from __future__ import annotations

import pytest
from prometheus_client import values

from kapisup.observability.metrics import (
    ENV_DIR,
    RequestMetrics,
    collect_text,
    mark_worker_dead,
    write_supervisor_stats,
)


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    saved = values.ValueClass
    yield tmp_path
    values.ValueClass = saved


def _value(text: bytes, name: str, *needles: str) -> float:
    for line in text.decode().splitlines():
        if line.startswith(name) and all(n in line for n in needles):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {needles} not in:\n{text}")


LABELS = ("GET", "", "v1", "pods", "", "cluster", "apiserver")


def test_flush_publishes_counts_sums_and_buckets(metrics_dir):
    metrics = RequestMetrics(worker_id=1)
    for seconds in (0.001, 0.004, 0.03, 7.0):
        metrics.observe(LABELS, "200", seconds)
    metrics.observe(LABELS, "404", 0.001)
    assert b"apiserver_request_total{" not in collect_text(str(metrics_dir))  # not yet flushed
    metrics.flush()
    text = collect_text(str(metrics_dir))
    assert _value(text, "apiserver_request_total", 'code="200"', 'resource="pods"') == 4
    assert _value(text, "apiserver_request_total", 'code="404"') == 1
    assert _value(text, "apiserver_request_duration_seconds_count", 'resource="pods"') == 5
    assert _value(text, "apiserver_request_duration_seconds_sum") == pytest.approx(7.036)
    assert _value(text, "apiserver_request_duration_seconds_bucket", 'le="0.005"') == 3
    assert _value(text, "apiserver_request_duration_seconds_bucket", 'le="0.05"') == 4
    assert _value(text, "apiserver_request_duration_seconds_bucket", 'le="6.0"') == 4
    assert _value(text, "apiserver_request_duration_seconds_bucket", 'le="8.0"') == 5
    metrics.observe(LABELS, "200", 0.001)
    metrics.flush()
    text = collect_text(str(metrics_dir))
    assert _value(text, "apiserver_request_total", 'code="200"', 'resource="pods"') == 5


def test_inflight_gauge_is_the_high_water_mark_of_the_window(metrics_dir):
    metrics = RequestMetrics(worker_id=1)
    for current in (1, 2, 3, 2, 1):
        metrics.set_inflight("readOnly", current)
    metrics.publish_inflight()
    text = collect_text(str(metrics_dir))
    assert _value(text, "apiserver_current_inflight_requests", "readOnly") == 3
    metrics.publish_inflight()  # next window starts from the current value
    assert _value(collect_text(str(metrics_dir)), "apiserver_current_inflight_requests",
                  "readOnly") == 1


def test_dead_slot_drops_its_live_gauges_but_keeps_counters(metrics_dir):
    metrics = RequestMetrics(worker_id=7)
    metrics.set_inflight("mutating", 2)
    metrics.publish_inflight()
    metrics.observe(LABELS, "200", 0.001)
    metrics.flush()
    mark_worker_dead(str(metrics_dir), 7)
    text = collect_text(str(metrics_dir))
    assert b'request_kind="mutating"' not in text
    assert _value(text, "apiserver_request_total", 'code="200"') == 1


def test_supervisor_stats_are_exported(metrics_dir):
    write_supervisor_stats(str(metrics_dir), 3, {"crash": 2, "timeout": 0, "recycle": 5})
    text = collect_text(str(metrics_dir))
    assert _value(text, "kapisup_workers") == 3
    assert _value(text, "kapisup_worker_restarts_total", 'reason="crash"') == 2
    assert _value(text, "kapisup_worker_restarts_total", 'reason="recycle"') == 5
