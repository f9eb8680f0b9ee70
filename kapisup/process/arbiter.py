"""The master process: forks workers, watches them, and turns signals into actions.

It never touches a client connection and never imports the application or gevent: it runs a
`Supervised` application's worker factory in each child after fork. Signal handlers only queue;
everything happens in the loop, which wakes on a signal, a worker message or once a second.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import select
import signal
import time
from dataclasses import dataclass
from typing import Any, Protocol

from kapisup.process import pipes
from kapisup.process.heartbeat import HeartbeatBoard
from kapisup.process.proctitle import set_title
from kapisup.process.worker import (
    WorkerContext,
    WorkerSpec,
    describe_exit,
    run_worker,
)

EXIT_NO_WORKER_BOOTED = 3
LOOP_TICK = 1.0
QUICK_STOP_LIMIT = 2.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 10.0


@dataclass(frozen=True)
class SupervisorSettings:
    workers: int
    graceful_timeout: float
    worker_timeout: float
    max_requests: int = 0
    max_requests_jitter: int = 0


class Supervised(Protocol):
    """What the arbiter runs; the API server implements it, the arbiter knows nothing more."""

    settings: SupervisorSettings

    def serve_worker(self, ctx: WorkerContext) -> None:
        """Runs in a child after fork: build, serve until ctx.stop, drain, return."""

    def reload(self) -> Supervised:
        """Re-read configuration (HUP) into a new application; raise to refuse the reload."""

    def release(self, keep: Supervised | None) -> None:
        """Close master-side resources (listeners) that `keep` does not share."""

    def on_ready(self, workers: int) -> None:
        """All workers of the first generation answer."""

    def worker_exited(self, worker_id: int, pid: int) -> None:
        """A worker was reaped (clean up its per-process files)."""

    def stats_changed(self, workers: int, restarts: dict[str, int]) -> None:
        """Live worker count or restart counters changed."""


@dataclass
class _Worker:
    worker_id: int
    pid: int
    generation: int
    pipe: pipes.StopPipe
    spawned: float
    ready: bool = False
    stopping: bool = False
    stop_deadline: float = 0.0
    abort_sent: float = 0.0
    timed_out: bool = False
    boot_error: str = ""


class Arbiter:
    def __init__(self, app: Supervised, logger: Any):
        self.app = app
        self.log = logger
        self.num_workers = app.settings.workers
        self.generation = 1
        self.workers: dict[int, _Worker] = {}
        self.board = HeartbeatBoard()
        self.notify = pipes.NotifyPipe()
        self.signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.restarts: dict[str, int] = {"crash": 0, "timeout": 0, "recycle": 0}
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._pending: Supervised | None = None  # application of a reload being booted
        self._stopping = False
        self._stop_deadline = 0.0
        self._exit_code = 0
        self._announced_ready = False
        self._crash_streak = 0
        self._next_spawn_at = 0.0
        self._last_stats: tuple[int, tuple[int, ...]] | None = None

    # ---- signals ---------------------------------------------------------------------------

    HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN,
               signal.SIGTTOU, signal.SIGUSR1, signal.SIGCHLD)

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for signum in self.HANDLED:
            signal.signal(signum, self._queue_signal)

    def _queue_signal(self, signum: int, _frame: Any) -> None:
        self.signals.put(signum)

    # ---- main loop -------------------------------------------------------------------------

    def run(self) -> int:
        set_title("master")
        self._install_signals()
        self.log.info("master started", workers=self.num_workers, pid=os.getpid())
        try:
            self._manage()
            while True:
                self._wait(LOOP_TICK)
                self._handle_signals()
                self._handle_messages()
                self._reap()
                if self._stopping:
                    if not self.workers:
                        break
                    self._enforce_stop_deadlines()
                    continue
                self._check_heartbeats()
                self._enforce_stop_deadlines()
                self._manage()
        finally:
            self._kill_all(signal.SIGKILL)
            self.app.release(None)
            if self._pending is not None:
                self._pending.release(None)
        self.log.info("master stopped", exit_code=self._exit_code)
        return self._exit_code

    def _wait(self, timeout: float) -> None:
        if not self.signals.empty():
            return
        with contextlib.suppress(InterruptedError):
            ready, _, _ = select.select([self._wake_r, self.notify.read_fd], [], [], timeout)
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    while os.read(self._wake_r, 4096):
                        pass

    def _handle_signals(self) -> None:
        while not self.signals.empty():
            signum = self.signals.get()
            if signum == signal.SIGCHLD:
                continue  # reaping happens every pass
            name = signal.Signals(signum).name
            self.log.info("signal received", signal=name)
            if signum == signal.SIGTERM:
                self.stop(graceful=True)
            elif signum in (signal.SIGINT, signal.SIGQUIT):
                self.stop(graceful=False)
            elif signum == signal.SIGHUP:
                self.reload()
            elif signum == signal.SIGTTIN:
                self.num_workers += 1
                self.log.info("scaling", workers=self.num_workers)
            elif signum == signal.SIGTTOU:
                self.num_workers = max(1, self.num_workers - 1)
                self.log.info("scaling", workers=self.num_workers)
            elif signum == signal.SIGUSR1:
                for worker in self.workers.values():
                    worker.pipe.send(pipes.REOPEN)

    def _handle_messages(self) -> None:
        for pid, verb, detail in self.notify.read_messages():
            worker = self._by_pid(pid)
            if worker is None:
                continue
            if verb == "ready":
                worker.ready = True
                self.log.info("worker ready", worker=worker.worker_id, worker_pid=pid,
                              generation=worker.generation)
            elif verb == "booterror":
                worker.boot_error = detail
        self._advance_generations()

    # ---- workers ---------------------------------------------------------------------------

    def _by_pid(self, pid: int) -> _Worker | None:
        for worker in self.workers.values():
            if worker.pid == pid:
                return worker
        return None

    def _free_id(self) -> int:
        used = {w.worker_id for w in self.workers.values()}
        worker_id = 1
        while worker_id in used:
            worker_id += 1
        if worker_id >= self.board.slots:
            raise RuntimeError("too many workers")
        return worker_id

    def _spawn(self, app: Supervised, generation: int) -> None:
        worker_id = self._free_id()
        pipe = pipes.StopPipe()
        self.board.beat(worker_id)
        settings = app.settings
        close_fds = [w.pipe.write_fd for w in self.workers.values()]
        close_fds += [pipe.write_fd, self._wake_r, self._wake_w, self.notify.read_fd]
        spec = WorkerSpec(
            worker_id=worker_id,
            generation=generation,
            factory=app.serve_worker,
            stop_read_fd=pipe.read_fd,
            board=self.board,
            notify=self.notify,
            graceful_timeout=settings.graceful_timeout,
            heartbeat_interval=_heartbeat_interval(settings.worker_timeout),
            max_requests=settings.max_requests,
            max_requests_jitter=settings.max_requests_jitter,
            close_fds=close_fds,
        )
        pid = os.fork()
        if pid == 0:
            run_worker(spec)  # never returns
        pipe.close_read_end()
        self.workers[worker_id] = _Worker(worker_id, pid, generation, pipe, time.monotonic())
        self.log.info("worker spawned", worker=worker_id, worker_pid=pid, generation=generation)
        self._publish_stats()

    def _current(self) -> list[_Worker]:
        return [w for w in self.workers.values()
                if w.generation == self.generation and not w.stopping]

    def _manage(self) -> None:
        """Reach num_workers in the newest generation: spawn what is missing, retire extras."""
        app = self._pending or self.app
        current = self._current()
        if len(current) < self.num_workers:
            if time.monotonic() < self._next_spawn_at:
                return
            for _ in range(self.num_workers - len(current)):
                self._spawn(app, self.generation)
        elif len(current) > self.num_workers:
            extras = sorted(current, key=lambda w: w.spawned)[: len(current) - self.num_workers]
            for worker in extras:
                self._stop_worker(worker, graceful=True)
        if not self._announced_ready and current and all(w.ready for w in current) \
                and len(current) >= self.num_workers:
            self._announced_ready = True
            self.app.on_ready(len(current))

    def _stop_worker(self, worker: _Worker, graceful: bool) -> None:
        if worker.stopping and graceful:
            return
        worker.stopping = True
        budget = self.app.settings.graceful_timeout if graceful else QUICK_STOP_LIMIT
        deadline = time.monotonic() + budget + 1.0
        worker.stop_deadline = min(worker.stop_deadline or deadline, deadline)
        worker.pipe.send(pipes.GRACEFUL if graceful else pipes.QUICK)

    def _enforce_stop_deadlines(self) -> None:
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.stopping and worker.stop_deadline and now > worker.stop_deadline:
                self.log.warning("worker did not stop in time; killing", worker=worker.worker_id,
                                 worker_pid=worker.pid)
                self._signal(worker, signal.SIGKILL)

    def _check_heartbeats(self) -> None:
        timeout = self.app.settings.worker_timeout
        if not timeout:
            return
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.abort_sent:
                if now - worker.abort_sent >= 1.0:
                    self._signal(worker, signal.SIGKILL)
                continue
            age = self.board.age(worker.worker_id)
            if age > timeout:
                self.log.error("worker timeout: event loop blocked", worker=worker.worker_id,
                               worker_pid=worker.pid, seconds_since_heartbeat=round(age, 1))
                worker.timed_out = True
                worker.abort_sent = now
                self._signal(worker, signal.SIGABRT)

    def _signal(self, worker: _Worker, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signum)

    def _kill_all(self, signum: int) -> None:
        for worker in list(self.workers.values()):
            self._signal(worker, signum)
        deadline = time.monotonic() + 5.0
        while self.workers and time.monotonic() < deadline:
            self._reap()
            if self.workers:
                time.sleep(0.05)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except OSError as err:  # pragma: no cover - EINTR is retried by Python
                if err.errno == errno.EINTR:
                    continue
                return
            if pid == 0:
                return
            worker = self._by_pid(pid)
            if worker is None:
                continue
            del self.workers[worker.worker_id]
            worker.pipe.close_write_end()
            self.app.worker_exited(worker.worker_id, pid)
            self._after_exit(worker, status)
            self._publish_stats()

    def _after_exit(self, worker: _Worker, status: int) -> None:
        code, text = describe_exit(status)
        lived = time.monotonic() - worker.spawned
        fields = {"worker": worker.worker_id, "worker_pid": worker.pid, "how": text,
                  "generation": worker.generation}
        if worker.stopping or self._stopping:
            self.log.info("worker stopped", **fields)
            return
        if code is not None and code != 0 and not worker.ready:
            self._on_boot_failure(worker, fields)
            return
        if code == 0:
            self.restarts["recycle"] += 1
            self.log.info("worker recycled", **fields)
            return
        reason = "timeout" if worker.timed_out else "crash"
        self.restarts[reason] += 1
        self._crash_streak = self._crash_streak + 1 if lived < STABLE_AFTER else 1
        delay = 0.0 if self._crash_streak <= 1 else min(2.0 ** (self._crash_streak - 2),
                                                         MAX_BACKOFF)
        self._next_spawn_at = time.monotonic() + delay
        self.log.error("worker died; respawning", respawn_in_s=delay, reason=reason, **fields)

    def _on_boot_failure(self, worker: _Worker, fields: dict[str, Any]) -> None:
        booted = any(w.ready for w in self.workers.values() if w.generation == worker.generation)
        reason = worker.boot_error or "see the worker's log"
        if self._pending is not None and worker.generation == self.generation:
            self.log.error("reload failed: new workers cannot boot; keeping the old ones",
                           reason=reason, **fields)
            self._abandon_reload()
            return
        if not booted and not self._announced_ready:
            self.log.error("no worker can boot; stopping", reason=reason, **fields)
            self._exit_code = EXIT_NO_WORKER_BOOTED
            self.stop(graceful=False)
            return
        self.restarts["crash"] += 1
        self._crash_streak += 1
        self._next_spawn_at = time.monotonic() + min(2.0 ** self._crash_streak, MAX_BACKOFF)
        self.log.error("worker failed to boot; retrying", reason=reason, **fields)

    # ---- reload ----------------------------------------------------------------------------

    def reload(self) -> None:
        if self._pending is not None:
            self.log.warning("reload already in progress; ignoring HUP")
            return
        try:
            new_app = self.app.reload()
        except Exception as err:
            self.log.error("reload refused; keeping the running configuration", error=str(err))
            return
        self._pending = new_app
        self.generation += 1
        self.num_workers = new_app.settings.workers or self.num_workers
        self.log.info("reloading: starting a new generation", generation=self.generation)
        self._manage()

    def _advance_generations(self) -> None:
        """Once the new generation all answers, retire the old one and adopt the new app."""
        if self._pending is None:
            return
        current = self._current()
        if len(current) < self.num_workers or not all(w.ready for w in current):
            return
        old_app, self.app, self._pending = self.app, self._pending, None
        for worker in list(self.workers.values()):
            if worker.generation != self.generation:
                self._stop_worker(worker, graceful=True)
        old_app.release(self.app)
        self.log.info("reload complete", generation=self.generation)

    def _abandon_reload(self) -> None:
        pending, self._pending = self._pending, None
        for worker in list(self.workers.values()):
            if worker.generation == self.generation:
                self._stop_worker(worker, graceful=False)
        self.generation += 1  # the old workers' generation is not current either
        for worker in self.workers.values():
            if not worker.stopping:
                worker.generation = self.generation
        self.num_workers = self.app.settings.workers or self.num_workers
        if pending is not None:
            pending.release(self.app)

    # ---- stop ------------------------------------------------------------------------------

    def stop(self, graceful: bool) -> None:
        if self._stopping and graceful:
            return
        first = not self._stopping
        self._stopping = True
        if first:
            self.app.release(None)
            if self._pending is not None:
                self._pending.release(None)
        self.log.info("stopping", graceful=graceful, workers=len(self.workers))
        for worker in self.workers.values():
            self._stop_worker(worker, graceful=graceful)

    def _publish_stats(self) -> None:
        stats = (len(self.workers), tuple(self.restarts.values()))
        if stats != self._last_stats:
            self._last_stats = stats
            self.app.stats_changed(len(self.workers), dict(self.restarts))


def _heartbeat_interval(worker_timeout: float) -> float:
    if not worker_timeout:
        return 1.0
    return max(0.05, min(1.0, worker_timeout / 4))
