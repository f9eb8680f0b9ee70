"""The arbiter with a tiny application of its own: it knows nothing of the API server."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import sys
    from kapisup.observability.logging import configure_logging, get_logger
    from kapisup.process.arbiter import Arbiter, SupervisorSettings

    class App:
        settings = SupervisorSettings(workers=2, graceful_timeout=5, worker_timeout=10)

        def serve_worker(self, ctx):
            if sys.argv[1] == "fail":
                raise RuntimeError("cannot open the thing it needs")
            ctx.notify_ready()
            ctx.stop.wait()

        def reload(self):
            return self

        def release(self, keep):
            pass

        def on_ready(self, workers):
            get_logger("test").info("ready", workers=workers)
            import os, signal
            os.kill(os.getpid(), signal.SIGTERM)

        def worker_exited(self, worker_id, pid):
            get_logger("test").info("exited", worker=worker_id)

        def stats_changed(self, workers, restarts):
            pass

    configure_logging("info", role="master")
    sys.exit(Arbiter(App(), get_logger("master")).run())
''')


def _run(mode: str) -> tuple[int, list[dict]]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                          timeout=60)
    lines = []
    for line in proc.stdout.splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(line))
    return proc.returncode, lines


def test_no_worker_can_boot_stops_the_master_with_the_reason():
    code, lines = _run("fail")
    assert code == 3
    stop = [e for e in lines if e.get("event") == "no worker can boot; stopping"]
    assert stop and stop[0]["reason"] == "RuntimeError: cannot open the thing it needs"


def test_workers_boot_then_a_term_stops_them_all():
    code, lines = _run("ok")
    assert code == 0
    events = [e.get("event") for e in lines]
    assert events.count("worker ready") == 2
    assert events.count("exited") == 2
    assert events[-1] == "master stopped"
