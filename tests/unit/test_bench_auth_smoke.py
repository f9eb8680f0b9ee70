"""Keep scripts/bench_auth from rotting: a tiny run end to end (real kapisup, gunicorn over
TLS, wrk, the RBAC fixtures of scripts/bench_rbac.py) gives a complete, parseable summary, and
its section replaces only itself in the benchmarks page. No timing is asserted."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_auth"


def _module():
    loader = importlib.machinery.SourceFileLoader("bench_auth", str(SCRIPT))
    spec = importlib.util.spec_from_loader("bench_auth", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    assert shutil.which("wrk"), "wrk is not installed (scripts/test installs it with apt)"
    out = tmp_path_factory.mktemp("bench-auth") / "summary.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--duration", "1", "--warmup", "0", "--rounds", "1",
         "--connections", "4", "--rbac-seconds", "0.02", "--no-write", "--json-out", str(out)],
        capture_output=True, text=True, timeout=150, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "<!-- bench:security:start -->" in done.stdout
    return json.loads(out.read_text())


@pytest.mark.timeout(180)
def test_a_tiny_run_measures_every_scenario_without_errors(summary) -> None:
    assert set(summary["runs"]) == {"plain", "secure", "peer"}
    for scenario, runs in summary["runs"].items():
        assert len(runs) == 1, scenario
        run = runs[0]
        assert run["requests"] > 0, scenario
        assert run["errors"] == 0, (scenario, run)  # (b) got 200s: the binding allowed the token
        assert run["worker_cpu_s"] >= 0 and not math.isnan(run["cpu_us_per_request"])
    assert summary["body_bytes"] > 0
    for key in ("secure_over_plain", "secure_over_peer", "rbac_share_of_secure_cpu"):
        assert summary["ratios"][key] > 0, key
    assert {"allowed_0", "denied_0", "allowed_1000", "denied_1000"} <= set(summary["rbac"])
    assert all(v["per_s"] > 0 and v["us"] > 0 for v in summary["rbac"].values())


@pytest.mark.timeout(180)
def test_the_section_replaces_only_itself(summary, tmp_path, monkeypatch) -> None:
    bench_auth = _module()
    section = bench_auth.render(summary)
    assert section.startswith("<!-- bench:security:start -->\n")
    assert section.endswith("<!-- bench:security:end -->\n")
    assert "| (b) ÷ (c)" in section and "| 1,000 |" in section
    doc = tmp_path / "benchmarks.md"
    monkeypatch.setattr(bench_auth, "DOC", doc)
    doc.write_text("# Benchmarks\n\n<!-- bench:api:start -->\napi\n<!-- bench:api:end -->\n"
                   "\nnotes kept by hand\n")
    bench_auth.write_doc(section)
    bench_auth.write_doc(section)  # a second run replaces, never appends
    text = doc.read_text()
    assert text.count("<!-- bench:security:start -->") == 1
    assert "api\n<!-- bench:api:end -->\n\nnotes kept by hand\n" in text
    assert text.endswith(section)


@pytest.mark.timeout(180)
def test_a_saved_summary_is_rendered_again_without_measuring(summary, tmp_path) -> None:
    saved = tmp_path / "summary.json"
    saved.write_text(json.dumps(summary))
    done = subprocess.run([sys.executable, str(SCRIPT), "--from-json", str(saved), "--no-write"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!-- bench:security:start -->\n")
    assert f"Run {summary['started']} UTC" in done.stdout
    assert "workdir" not in done.stdout  # nothing was started
