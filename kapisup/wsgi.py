"""kapisup's insecure handler chain as a plain WSGI app, for other servers to host.

`gunicorn -k gevent kapisup.wsgi:application` serves exactly what a kapisup worker serves on
its plain port (the benchmark's peer uses it). Settings come from KAPISUP_* variables; the app
is built on first use, so in a pre-fork server each worker builds its own after the fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

_app: Callable[..., Iterable[bytes]] | None = None


def _build() -> Callable[..., Iterable[bytes]]:
    from kapisup.cmd.apiserver import build_master_config
    from kapisup.observability.logging import configure_logging
    from kapisup.observability.metrics import ENV_DIR
    from kapisup.options import load_options

    options = load_options([])
    configure_logging(options.log_level, role="worker")
    config = build_master_config(options.replace(secure_port=0))
    config.metrics_dir = os.environ.get(ENV_DIR, "")
    prepared = config.for_worker(os.getpid()).complete().new().prepare_run()
    prepared.run_post_start_hooks()
    return prepared.server.insecure_handler


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    global _app
    if _app is None:
        _app = _build()
    return _app(environ, start_response)
