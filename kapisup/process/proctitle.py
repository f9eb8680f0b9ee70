"""Process titles (`kapisup: master`, `kapisup: worker 2`) so ps and top tell them apart."""

from __future__ import annotations

try:
    from setproctitle import setproctitle as _setproctitle
except ImportError:  # pragma: no cover - setproctitle is a declared dependency
    _setproctitle = None


def set_title(role: str) -> None:
    if _setproctitle is not None:
        _setproctitle(f"kapisup: {role}")
