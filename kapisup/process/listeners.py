"""Listening sockets bound once by the master and inherited by every worker through fork."""

from __future__ import annotations

import socket

BACKLOG = 2048


class BindError(Exception):
    """The address cannot be bound (in use, not local, no permission)."""


def bind_listener(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A blocking, inheritable, listening TCP socket with SO_REUSEADDR and TCP_NODELAY."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise BindError(f"failed to listen on {host}:{port}: {err.strerror or err}") from None
    return sock
