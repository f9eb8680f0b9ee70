"""Ages as kubectl prints them: kube's HumanDuration, about two or three significant figures.

Every AGE cell the server computes goes through here, so `kubectl get` shows the same `5m30s`,
`3h5m`, `4d2h` or `2y100d` it shows against kube-apiserver.
"""

from __future__ import annotations

import math
from datetime import datetime

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY


def human_duration(seconds: float) -> str:
    """Kube's HumanDuration: a clock skew under two seconds still reads `0s`, more is invalid."""
    if math.isnan(seconds):
        return "<invalid>"
    whole = int(seconds)  # truncates toward zero, as Go's int(d.Seconds()) does
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 2 * MINUTE:
        return f"{whole}s"
    minutes = whole // MINUTE
    if minutes < 10:
        rest = whole % MINUTE
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = whole // HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def parse_timestamp(value: object) -> float | None:
    """Seconds since the epoch of an RFC 3339 Time or MicroTime; None when unset or unreadable."""
    if not isinstance(value, str) or not value or value == "null":
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def age(timestamp: object, now: float) -> str:
    """The AGE of an object created at `timestamp`: `<unknown>` when it has none (kube's rule)."""
    when = parse_timestamp(timestamp)
    if when is None:
        return "<unknown>"
    return human_duration(now - when)
