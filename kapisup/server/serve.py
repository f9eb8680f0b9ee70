"""What a supervised worker runs after the fork: complete the config, build, run until stopped."""

from __future__ import annotations

from typing import Any

from kapisup.observability.logging import configure_logging, flush_batched, get_logger
from kapisup.server.config import Config


def serve_worker(config: Config, ctx: Any) -> None:
    """`ctx` is the process package's WorkerContext (a StopSignal to the server)."""
    configure_logging(config.options.log_level, role="worker", worker=ctx.worker_id)
    config = config.for_worker(ctx.worker_id)
    server = config.complete().new()
    prepared = server.prepare_run()
    get_logger("worker").info("worker serving", generation=ctx.generation)
    try:
        prepared.run(ctx)
    finally:
        flush_batched()
    get_logger("worker").info("worker exiting", reason=ctx.stop_reason)
