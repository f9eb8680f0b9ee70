"""HTTPServer: accept connections on an inherited listening socket and serve a WSGI app.

The listener was bound by the master before fork; every worker accepts from the same kernel
queue. Each worker takes one connection per readiness event and stops accepting while full,
so the queue drains towards whichever sibling has room.
"""

from __future__ import annotations

import _socket
import contextlib
import errno
import os
import socket
import ssl
import sys
from collections.abc import Callable, Iterable
from time import monotonic
from typing import Any

import gevent
from gevent.event import Event

from kapisup.http.connection import RECV_SIZE, Closing, Connection, Deadline, TLSConnection
from kapisup.http.limits import HTTPLimits

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_ACCEPT_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_FATAL_ERRORS = frozenset({errno.EBADF, errno.EINVAL, errno.ENOTSOCK, errno.EOPNOTSUPP})


def _default_logger(name: str) -> Any:
    from kapisup.observability.logging import get_logger

    return get_logger("kapisup.http", server=name)


class HTTPServer:
    """One listener served by this process. Create, ``start()``, later ``stop_accepting()`` and
    ``drain()``. All methods must be called from a greenlet of the hub that runs the server
    (not from the hub itself)."""

    def __init__(
        self,
        listener: socket.socket,
        app: WSGIApp,
        *,
        limits: HTTPLimits = HTTPLimits(),  # noqa: B008 - frozen, safe to share
        ssl_context: ssl.SSLContext | None = None,
        name: str = "http",
        on_request: Callable[[], None] | None = None,
        logger: Any = None,
    ):
        self.listener = listener
        self.app = app
        self.limits = limits
        self.ssl_context = ssl_context
        self.name = name
        self.on_request = on_request
        self.log = logger if logger is not None else _default_logger(name)
        self._family = listener.family
        self._tcp = listener.family in (socket.AF_INET, socket.AF_INET6)
        self._conn_class = Connection if ssl_context is None else TLSConnection
        self._rbuf = bytearray(RECV_SIZE)  # shared receive buffer of this server's connections
        self._rview = memoryview(self._rbuf)
        self._conns: set[Connection] = set()
        self._active = 0
        self._next_id = 0
        self._draining = False
        self._accepting = False
        self._stopped = False
        self._drain_event = Event()
        self._all_gone = Event()
        self._slot_free = Event()
        self._slot_free.set()
        self._hub: Any = None
        self._lsock: _socket.socket | None = None
        self._accept_watcher: Any = None
        self._accept_greenlet: gevent.Greenlet | None = None
        self._sweeper: Any = None
        addr = listener.getsockname()
        if isinstance(addr, tuple):
            server_name, server_port = str(addr[0]), str(addr[1])
        else:
            server_name, server_port = str(addr), ""
        self._base_env: dict[str, Any] = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if ssl_context is not None else "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "kapisup.draining": self._drain_event,
            "kapisup.peer_cert": None,
        }

    # ---- public API ------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    @property
    def active_requests(self) -> int:
        return self._active

    def start(self) -> None:
        """Begin accepting in a background greenlet; returns at once."""
        if self._accepting or self._stopped:
            raise RuntimeError("HTTPServer.start() called twice")
        self._hub = gevent.get_hub()
        loop = self._hub.loop
        # Our own dup of the inherited fd: closing it (or the caller's object being collected)
        # never pulls the descriptor out from under the other.
        fd = os.dup(self.listener.fileno())
        try:
            lsock = _socket.socket(self._family, _socket.SOCK_STREAM, 0, fd)
        except BaseException:
            os.close(fd)
            raise
        lsock.setblocking(False)
        self._lsock = lsock
        self._accept_watcher = loop.io(fd, 1)
        limits = self.limits
        interval = min(limits.read_header_timeout, limits.keepalive_timeout) / 4
        interval = max(0.02, min(1.0, interval))
        self._sweeper = loop.timer(interval, interval)
        self._sweeper.ref = False
        self._sweeper.start(self._sweep)
        self._accepting = True
        self._accept_greenlet = gevent.spawn(self._accept_loop)

    def stop_accepting(self) -> None:
        """Stop taking new connections and close this process's copies of the listener fd."""
        if self._stopped:
            return
        self._stopped = True
        self._accepting = False
        self._slot_free.set()
        if self._accept_watcher is not None:
            self._accept_watcher.stop()
        if self._accept_greenlet is not None:
            self._accept_greenlet.kill(block=False)
        if self._lsock is not None:
            with contextlib.suppress(OSError):
                self._lsock.close()
        with contextlib.suppress(OSError):
            self.listener.close()

    def drain(self, timeout: float) -> bool:
        """Finish in-flight work, close idle connections, wait up to ``timeout``; True if every
        connection ended by itself, False if some had to be killed."""
        self.stop_accepting()
        self._draining = True
        self._drain_event.set()
        if self._hub is None:
            return True
        loop = self._hub.loop
        for conn in list(self._conns):
            if conn.idle:
                loop.run_callback(self._interrupt, conn, Closing, True)
        clean = True
        if self._conns:
            self._all_gone.clear()
            clean = bool(self._all_gone.wait(max(0.0, timeout))) or not self._conns
        if not clean:
            left = [c.greenlet for c in self._conns if c.greenlet is not None]
            self.log.warning("drain timeout: killing connections", connections=len(left))
            gevent.killall(left, block=True, timeout=1.0)
            for conn in list(self._conns):
                conn.abort()
                self._conns.discard(conn)
        if self._sweeper is not None:
            self._sweeper.stop()
        return clean

    # ---- internals -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        hub = self._hub
        watcher = self._accept_watcher
        lsock = self._lsock
        assert lsock is not None
        conns = self._conns
        max_conns = self.limits.max_connections
        while not self._stopped:
            if len(conns) >= max_conns:
                # Full: stop watching the listener so siblings take the queue.
                self._slot_free.clear()
                self._slot_free.wait()
                continue
            hub.wait(watcher)
            try:
                fd, addr = lsock._accept()
            except (BlockingIOError, InterruptedError):
                continue  # a sibling process won this one
            except OSError as exc:
                if self._stopped:
                    return
                if exc.errno in _ACCEPT_RESOURCE_ERRORS:
                    self.log.warning("accept failed", error=str(exc))
                    gevent.sleep(0.1)
                elif exc.errno in _ACCEPT_FATAL_ERRORS:
                    # a listener shut down or closed under us stays "readable": stop, not spin
                    self.log.error("listener unusable, no longer accepting", error=str(exc))
                    return
                continue  # ECONNABORTED and friends: the client is already gone
            self._spawn(fd, addr)

    def _spawn(self, fd: int, addr: Any) -> None:
        try:
            sock = _socket.socket(self._family, _socket.SOCK_STREAM, 0, fd)
        except OSError:
            os.close(fd)
            return
        try:
            sock.setblocking(False)
            if self._tcp:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
            self._next_id += 1
            conn = self._conn_class(self, sock, addr, self._next_id)
        except Exception as exc:
            self.log.debug("dropping accepted connection", error=str(exc))
            sock.close()
            return
        self._conns.add(conn)
        conn.greenlet = gevent.spawn(conn.run)

    def _connection_done(self, conn: Connection) -> None:
        conns = self._conns
        conns.discard(conn)
        if len(conns) < self.limits.max_connections:
            self._slot_free.set()
        if self._draining and not conns:
            self._all_gone.set()

    def _request_done(self) -> None:
        cb = self.on_request
        if cb is not None:
            try:
                cb()
            except Exception:
                self.log.error("on_request hook failed", exc_info=True)

    def _sweep(self) -> None:
        """Timer callback (in the hub): interrupt connections waiting past their deadline."""
        now = monotonic()
        expired = [c for c in self._conns if c.waiting is not None and 0.0 < c.deadline <= now]
        for conn in expired:
            self._interrupt(conn, Deadline, False)

    @staticmethod
    def _interrupt(conn: Connection, exc: type[BaseException], idle_only: bool) -> None:
        """Runs in the hub: throw ``exc`` into ``conn`` if it is still parked on a watcher."""
        watcher = conn.waiting
        if watcher is None or not watcher.active:
            return
        if idle_only:
            if not conn.idle:
                return
        elif not (0.0 < conn.deadline <= monotonic()):
            return
        waiter = getattr(watcher.callback, "__self__", None)
        if waiter is not None:
            waiter.throw(exc)
