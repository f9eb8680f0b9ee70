"""Per-listener HTTP limits: the knobs that stop one slow or hostile client pinning a worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HTTPLimits:
    """Limits applied by :class:`kapisup.http.server.HTTPServer` to every connection.

    Sizes are bytes, times are seconds. Timeouts are enforced by a coarse sweeper (a quarter of
    the smallest timeout, at most 1 s), so a connection may live up to that much longer.
    """

    max_header_bytes: int = 1 << 20
    """Whole header block including the request line; over → 431 and close."""
    max_request_line_bytes: int = 65536
    """Request line; over → 414 and close."""
    read_header_timeout: float = 10.0
    """From the first byte of a request (or the accept) to the end of its headers (slowloris)."""
    keepalive_timeout: float = 90.0
    """Idle time between requests on a keep-alive connection; also bounds a stalled body read
    or a stalled response write (a client that stops reading)."""
    tls_handshake_timeout: float = 10.0
    """Deadline on the TLS handshake of each connection."""
    max_connections: int = 1000
    """Connections served at once; when full, stop accepting so siblings can take the queue."""

    def __post_init__(self) -> None:
        for name in ("max_header_bytes", "max_request_line_bytes", "max_connections"):
            if getattr(self, name) <= 0:
                raise ValueError(f"HTTPLimits.{name} must be positive")
        for name in ("read_header_timeout", "keepalive_timeout", "tls_handshake_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HTTPLimits.{name} must be positive")
