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
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

import structlog

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_process_fields: dict[str, Any] = {}
_current_level = [20]


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


_second_cache: list[Any] = [-1, ""]


def now_iso() -> str:
    """UTC time with milliseconds; the formatted second is cached (this runs per request)."""
    now = time.time()
    second = int(now)
    if second != _second_cache[0]:
        _second_cache[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second_cache[1]}.{int((now - second) * 1000):03d}Z"


def _timestamp(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict["ts"] = now_iso()
    return event_dict


def _dumps(obj: Any, **_: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)


def configure_logging(level: str = "info", **process_fields: Any) -> None:
    """(Re)configure structlog for this process; workers call it again after fork."""
    _process_fields.clear()
    _process_fields.update(process_fields)
    _process_fields["pid"] = os.getpid()
    _current_level[0] = _LEVELS.get(level, 20)
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


PIPE_BUF = 4096
_KEYS: dict[str, str] = {}


def _key(key: str) -> str:
    encoded = _KEYS[key] = _quote(key) + ":"
    return encoded


class LoopBatchedWriter:
    """Lines collected during one turn of the gevent loop, written when the turn ends.

    Requests served in the same turn share one write() instead of one each. Writes stay at most
    PIPE_BUF bytes and end on a line boundary, so they are still atomic on a shared pipe and
    never interleave with another process's lines.
    """

    def __init__(self, fd: int):
        self._fd = fd
        self._lines: list[bytes] = []
        self._scheduled = False

    def msg(self, message: str) -> None:
        self._lines.append((message + "\n").encode("utf-8", "replace"))
        if not self._scheduled:
            import gevent

            self._scheduled = True
            gevent.get_hub().loop.run_callback(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        lines, self._lines = self._lines, []
        batch: list[bytes] = []
        size = 0
        for line in lines:
            if batch and size + len(line) > PIPE_BUF:
                self._write(b"".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            self._write(b"".join(batch))

    def _write(self, data: bytes) -> None:
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:
            pass  # a closed stdout must never take a request down with it


_batched: list[LoopBatchedWriter] = []


def flush_batched() -> None:
    """Write what is still queued; a worker calls it before it exits."""
    for writer in _batched:
        writer.flush()


class HotPathLogger:
    """`info` lines of the same JSON shape as structlog's, without its processor chain, written
    once per loop turn. Meant for the access log, which runs once per request; everything else
    (errors with tracebacks, other levels) goes through structlog and is written at once.
    """

    def __init__(self, name: str, **fields: Any):
        self._slow = get_logger(name, **fields)
        static = {"logger": name, **fields}
        for key, value in _process_fields.items():
            static.setdefault(key, value)
        self._prefix = _dumps(static)[:-1] + ","  # the constant fields, encoded once
        self._enabled = _current_level[0] <= _LEVELS["info"]
        self._writer = LoopBatchedWriter(sys.stdout.fileno() if _has_stdout() else 2)
        _batched.append(self._writer)

    def info(self, event: str, **fields: Any) -> None:
        if not self._enabled:
            return
        parts = [self._prefix]
        for key, value in fields.items():
            parts.append(_KEYS.get(key) or _key(key))
            kind = type(value)
            if kind is str:
                parts.append(_quote(value))
            elif value is None:
                parts.append("null")
            elif kind is int or kind is float:
                parts.append(repr(value))
            else:
                parts.append(_dumps(value))
            parts.append(",")
        parts.append(f'"event":{_quote(event)},"level":"info","ts":"{now_iso()}"}}')
        self._writer.msg("".join(parts))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._slow, name)
