"""structlog JSON lines on stdout, one os.write() per line.

Every process of a server shares one stdout pipe (supervisord's, Docker's); a line written with
a single write() under PIPE_BUF never interleaves with another process's line, which print()
(two writes) and a buffered TextIO cannot promise.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import structlog

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_process_fields: dict[str, Any] = {}


class LineWriter:
    """A structlog logger whose every message is one write() to a file descriptor."""

    def __init__(self, fd: int = 1):
        self._fd = fd

    def msg(self, message: str) -> None:
        data = (message + "\n").encode("utf-8", "replace")
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
        except OSError:
            pass  # a closed stdout must never take a request down with it

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


class LineWriterFactory:
    def __init__(self, fd: int = 1):
        self._logger = LineWriter(fd)

    def __call__(self, *args: Any) -> LineWriter:
        return self._logger


def _add_process_fields(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in _process_fields.items():
        event_dict.setdefault(key, value)
    return event_dict


def _timestamp(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    event_dict["ts"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + (
        f".{int(now % 1 * 1000):03d}Z"
    )
    return event_dict


def _dumps(obj: Any, **_: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)


def configure_logging(level: str = "info", **process_fields: Any) -> None:
    """(Re)configure structlog for this process; workers call it again after fork."""
    _process_fields.clear()
    _process_fields.update(process_fields)
    _process_fields["pid"] = os.getpid()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _timestamp,
            _add_process_fields,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, 20)),
        logger_factory=LineWriterFactory(sys.stdout.fileno() if _has_stdout() else 2),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the stdlib logging module end up in the same stream, as JSON.
    logging.basicConfig(level=_LEVELS.get(level, 20), handlers=[_StdlibBridge()], force=True)


def _has_stdout() -> bool:
    try:
        return sys.stdout is not None and sys.stdout.fileno() >= 0
    except (OSError, ValueError):
        return False


class _StdlibBridge(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log = structlog.get_logger(record.name)
        log.log(record.levelno, record.getMessage())


def get_logger(name: str, **fields: Any) -> Any:
    return structlog.get_logger(name).bind(logger=name, **fields)
