"""The worker side: what runs in a child right after fork, around the application's factory.

Order matters: drop the master's signal plumbing and every pipe end that is not ours, patch
gevent before anything imports the application, then start the heartbeat and the stop-pipe
watcher, and only then call the factory, which builds its server and blocks until stopped.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import random
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from kapisup.process import pipes
from kapisup.process.heartbeat import HeartbeatBoard
from kapisup.process.proctitle import set_title

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_BOOT_FAILED = 3


class WorkerContext:
    """What the application's worker factory gets: identity, the stop event and hooks."""

    def __init__(
        self,
        worker_id: int,
        generation: int,
        graceful_timeout: float,
        max_requests: int,
        notify: pipes.NotifyPipe,
    ):
        import gevent.event

        self.worker_id = worker_id
        self.generation = generation
        self.graceful_timeout = graceful_timeout
        self.stop = gevent.event.Event()
        self.quick = False
        self.stop_reason = ""
        self._notify = notify
        self._max_requests = max_requests
        self._served = 0
        self._reopen_hooks: list[Callable[[], None]] = []
        self.ready = False

    def notify_ready(self) -> None:
        """Tell the master this worker booted; before this, an exception is a boot failure."""
        self.ready = True
        self._notify.tell("ready")

    def note_request(self) -> None:
        """Count a served request; at --max-requests the worker recycles itself gracefully."""
        self._served += 1
        if self._max_requests and self._served >= self._max_requests and not self.stop.is_set():
            self.request_stop("max-requests", quick=False)

    def on_reopen(self, hook: Callable[[], None]) -> None:
        self._reopen_hooks.append(hook)

    def reopen(self) -> None:
        for hook in self._reopen_hooks:
            with contextlib.suppress(Exception):
                hook()

    def request_stop(self, reason: str, quick: bool) -> None:
        self.quick = self.quick or quick
        if not self.stop_reason:
            self.stop_reason = reason
        self.stop.set()

    @property
    def drain_timeout(self) -> float:
        return 0.0 if self.quick else self.graceful_timeout


WorkerFactory = Callable[[WorkerContext], None]


@dataclass
class WorkerSpec:
    """Everything the child needs, decided by the master before fork."""

    worker_id: int
    generation: int
    factory: WorkerFactory
    stop_read_fd: int
    board: HeartbeatBoard
    notify: pipes.NotifyPipe
    graceful_timeout: float
    heartbeat_interval: float
    max_requests: int
    max_requests_jitter: int
    close_fds: list[int] = field(default_factory=list)


def run_worker(spec: WorkerSpec) -> None:
    """Never returns: exits the child process with a code the master understands."""
    code = EXIT_CRASH
    try:
        code = _run(spec)
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _run(spec: WorkerSpec) -> int:
    _forget_master(spec)
    from gevent import monkey

    monkey.patch_all()
    import gevent

    set_title(f"worker {spec.worker_id}")
    limit = spec.max_requests
    if limit and spec.max_requests_jitter:
        limit += random.randint(0, spec.max_requests_jitter)
    ctx = WorkerContext(spec.worker_id, spec.generation, spec.graceful_timeout, limit, spec.notify)

    _install_signals(ctx)
    gevent.spawn(_heartbeat, spec.board, spec.worker_id, spec.heartbeat_interval)
    gevent.spawn(_watch_stop_pipe, spec.stop_read_fd, ctx)
    try:
        spec.factory(ctx)
    except Exception as err:
        if not ctx.ready:
            spec.notify.tell(f"booterror {_one_line(err)}")
            traceback.print_exc()
            return EXIT_BOOT_FAILED
        raise
    return EXIT_OK


def _forget_master(spec: WorkerSpec) -> None:
    """Reset what the master set up for itself: signal handlers, wakeup fd, foreign fds."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD,
                   signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(signum, signal.SIG_DFL)
    for signum in (signal.SIGTTIN, signal.SIGTTOU, signal.SIGHUP, signal.SIGWINCH):
        signal.signal(signum, signal.SIG_IGN)
    for fd in spec.close_fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    # On SIGABRT (sent by the master when the heartbeat stops) dump the stack from C, even
    # while the event loop is stuck, then die; the master follows up with SIGKILL anyway.
    faulthandler.enable(file=sys.stderr, all_threads=True)


def _install_signals(ctx: WorkerContext) -> None:
    """Handlers run as greenlets: a worker stopped by TERM directly (supervisord's
    stopasgroup) behaves exactly as one stopped through its pipe."""
    import gevent

    gevent.signal_handler(signal.SIGTERM, ctx.request_stop, "SIGTERM", False)
    gevent.signal_handler(signal.SIGINT, ctx.request_stop, "SIGINT", True)
    gevent.signal_handler(signal.SIGQUIT, ctx.request_stop, "SIGQUIT", True)
    gevent.signal_handler(signal.SIGUSR1, ctx.reopen)


def _heartbeat(board: HeartbeatBoard, slot: int, interval: float) -> None:
    import gevent

    while True:
        board.beat(slot)
        gevent.sleep(interval)


def _watch_stop_pipe(fd: int, ctx: WorkerContext) -> None:
    from gevent import os as gevent_os

    os.set_blocking(fd, False)
    while True:
        try:
            data = gevent_os.nb_read(fd, 64)
        except OSError:
            data = b""
        if not data:  # EOF: the master is gone; drain and leave
            ctx.request_stop("master-gone", quick=False)
            return
        for byte in data:
            command = bytes([byte])
            if command == pipes.GRACEFUL:
                ctx.request_stop("stop-pipe", quick=False)
            elif command == pipes.QUICK:
                ctx.request_stop("stop-pipe-quick", quick=True)
            elif command == pipes.REOPEN:
                ctx.reopen()


def _one_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return " ".join(text.split())


def describe_exit(status: int) -> tuple[int | None, str]:
    """(exit code or None, human text) from a waitpid status."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return None, f"killed by {signal.Signals(signum).name}"
    code = os.WEXITSTATUS(status)
    return code, f"exit code {code}"
