"""One client's watch over the storage's events, filtered the way kube's watch cache does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from kapisup.apimachinery.errors import StatusError
from kapisup.registry.resource import Obj

if TYPE_CHECKING:
    from kapisup.registry.store import Store


class WatchStream:
    """One client's watch: initial ADDED events, then storage events filtered by selectors.

    With a selector, an object that stops matching is sent as DELETED and one that starts
    matching as ADDED, as kube's watch cache does.
    """

    def __init__(self, store: Store, watcher: Any, predicate: Callable[[Obj], bool] | None,
                 initial: list[Obj], revision: int, error: StatusError | None = None):
        self.store = store
        self.watcher = watcher
        self.predicate = predicate
        self.initial = initial
        self.start_revision = revision
        self.error = error
        self.matched: set[str] = set()
        if predicate is not None:
            self.matched = {_name_key(o) for o in initial}

    @classmethod
    def failed(cls, store: Store, error: StatusError) -> WatchStream:
        return cls(store, None, None, [], 0, error)

    @property
    def revision(self) -> int:
        if self.watcher is None:
            return self.start_revision
        return max(self.start_revision, getattr(self.watcher, "revision", 0))

    def initial_events(self) -> Iterator[tuple[str, Obj]]:
        for obj in self.initial:
            yield "ADDED", self.store._with_type(obj)
        self.initial = []

    def next(self, timeout: float | None) -> tuple[str, Obj] | None:
        """The next event to send, None on timeout; raises WatchClosed when storage ended it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self.watcher.next(remaining)
            if event is None:
                return None
            obj = event.object
            if self.predicate is None:
                return event.type, obj
            key = _name_key(obj)
            now = self.predicate(obj) if event.type != "DELETED" else False
            if event.type == "DELETED":
                if key in self.matched or self.predicate(obj):
                    self.matched.discard(key)
                    return "DELETED", obj
            elif now:
                kind = "MODIFIED" if key in self.matched else "ADDED"
                if event.type == "ADDED":
                    kind = "ADDED"
                self.matched.add(key)
                return kind, obj
            elif key in self.matched:
                self.matched.discard(key)
                return "DELETED", obj
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()


def _name_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
