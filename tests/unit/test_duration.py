"""kube's HumanDuration, boundary by boundary, and RFC 3339 timestamps to ages."""

from __future__ import annotations

import pytest

from kapisup.apimachinery.duration import (
    DAY,
    HOUR,
    MINUTE,
    YEAR,
    age,
    human_duration,
    parse_timestamp,
)


@pytest.mark.parametrize(("seconds", "text"), [
    (-2.5, "<invalid>"),
    (-2, "<invalid>"),
    (-1.9, "0s"),  # under two seconds of clock skew reads as now
    (-1, "0s"),
    (0, "0s"),
    (0.9, "0s"),
    (4, "4s"),
    (119.9, "119s"),
    (2 * MINUTE, "2m"),
    (2 * MINUTE + 3, "2m3s"),
    (9 * MINUTE + 59, "9m59s"),
    (10 * MINUTE + 59, "10m"),
    (3 * HOUR - 1, "179m"),
    (3 * HOUR, "3h"),
    (3 * HOUR + 5 * MINUTE + 59, "3h5m"),
    (7 * HOUR + 59 * MINUTE, "7h59m"),
    (8 * HOUR + 30 * MINUTE, "8h"),
    (47 * HOUR + 59 * MINUTE, "47h"),
    (2 * DAY, "2d"),
    (3 * DAY + 4 * HOUR, "3d4h"),
    (7 * DAY + 23 * HOUR, "7d23h"),
    (8 * DAY + 23 * HOUR, "8d"),
    (2 * YEAR - 1, "729d"),
    (2 * YEAR, "2y"),
    (2 * YEAR + 100 * DAY, "2y100d"),
    (7 * YEAR + 364 * DAY, "7y364d"),
    (8 * YEAR + 100 * DAY, "8y"),
    (float("nan"), "<invalid>"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_parse_timestamp() -> None:
    assert parse_timestamp("2026-01-01T00:00:00Z") == 1767225600.0
    assert parse_timestamp("2026-01-01T01:00:00+01:00") == 1767225600.0
    assert parse_timestamp("2026-01-01T00:00:00.250000Z") == 1767225600.25
    for unset in (None, "", "null", 5, "not a time", "2026-01-01T00:00:00"):
        assert parse_timestamp(unset) is None


def test_age() -> None:
    now = 1767225600.0 + 3 * DAY + 4 * HOUR + 30
    assert age("2026-01-01T00:00:00Z", now) == "3d4h"
    assert age(None, now) == "<unknown>"
    assert age("", now) == "<unknown>"
