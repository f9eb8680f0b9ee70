"""Value types for settings: each parses a string (CLI, env) or a YAML value into Python.

A parser raises ValueError with a short reason; the loader turns that into one line naming the
flag, so every source of a setting reports errors the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class ValueType:
    """A named parser; `name` shows in help and docs."""

    name: str
    parse: Callable[[Any], Any]
    render: Callable[[Any], str] = str
    repeatable: bool = False  # the flag may be given several times; each adds an item


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 10)
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `1.5`, `60s`, `1m30s`, `250ms` or `1h` (Go's duration spelling)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"expected a duration such as 60s or 1m30s, got {value!r}") from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds


def render_duration(seconds: float) -> str:
    if seconds == int(seconds):
        whole = int(seconds)
        if whole and whole % 3600 == 0:
            return f"{whole // 3600}h"
        if whole and whole % 60 == 0:
            return f"{whole // 60}m"
        return f"{whole}s"
    return f"{seconds}s"


def _parse_str(value: Any) -> str:
    if isinstance(value, list | dict):
        raise ValueError(f"expected a string, got {value!r}")
    return "" if value is None else str(value)


def _parse_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        items = [str(v).strip() for v in value]
    else:
        items = [part.strip() for part in str(value).split(",")]
    return tuple(item for item in items if item)


BOOL = ValueType("bool", _parse_bool, lambda v: "true" if v else "false")
INT = ValueType("int", _parse_int)
STRING = ValueType("string", _parse_str)
PATH = ValueType("path", _parse_str)
DURATION = ValueType("duration", parse_duration, render_duration)
STRING_LIST = ValueType("strings", _parse_list, lambda v: ",".join(v))


def _parse_cert_key(text: str) -> tuple[str, str, tuple[str, ...]]:
    """kube's NamedCertKey: `cert.crt,key.key` or `cert.crt,key.key:name1,name2`."""
    pair, colon, names_text = text.partition(":")
    names: tuple[str, ...] = ()
    if colon:
        names = tuple(n.strip() for n in names_text.split(","))
        if not names_text.strip() or not all(names):
            raise ValueError(f"empty name in the names list of {text!r}")
    files = [part.strip() for part in pair.split(",")]
    if len(files) != 2 or not all(files):
        raise ValueError(f"expected cert.crt,key.key[:name1,name2], got {text!r}")
    return files[0], files[1], names


def _parse_cert_keys(value: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """A list (YAML, or a repeated flag) or one string whose entries are split by `;` (env)."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(";")
    return tuple(_parse_cert_key(str(item).strip()) for item in items if str(item).strip())


def _render_cert_keys(value: tuple[tuple[str, str, tuple[str, ...]], ...]) -> str:
    entries = [f"{c},{k}" + (":" + ",".join(n) if n else "") for c, k, n in value]
    return "[" + ", ".join(f'"{e}"' for e in entries) + "]"


CERT_KEYS = ValueType("cert-keys", _parse_cert_keys, _render_cert_keys, repeatable=True)
