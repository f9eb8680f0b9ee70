"""The served resources of one worker: built-ins at start, custom resources as CRDs come and go.

Discovery, OpenAPI, the installer and the REST handlers all look resources up here; listeners
hear about every change so their caches and routes follow within one event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from kapisup.apimachinery.schema import SchemaSet
from kapisup.registry.resource import ResourceDef
from kapisup.registry.store import Store

GVR = tuple[str, str, str]


class Catalog:
    def __init__(self, schemas: SchemaSet):
        self.schemas = schemas
        self._stores: dict[GVR, Store] = {}
        self._by_kind: dict[tuple[str, str], ResourceDef] = {}
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        #: bumps on every change; caches compare it
        self.generation = 0
        #: called on a lookup miss under /apis, to catch a CRD this worker has not seen yet
        self.on_miss: Callable[[str, str, str], bool] | None = None

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        self.generation += 1
        for listener in list(self._listeners):
            listener()

    def add(self, store: Store, *, notify: bool = True) -> None:
        resource = store.resource
        with self._lock:
            self._stores[(resource.group, resource.version, resource.plural)] = store
            self._by_kind[(resource.api_version, resource.kind)] = resource
        if notify:
            self._changed()

    def remove(self, group: str, version: str, plural: str, *, notify: bool = True) -> None:
        with self._lock:
            store = self._stores.pop((group, version, plural), None)
            if store is not None:
                r = store.resource
                if self._by_kind.get((r.api_version, r.kind)) is r:
                    del self._by_kind[(r.api_version, r.kind)]
        if store is not None and notify:
            self._changed()

    def notify(self) -> None:
        self._changed()

    def store(self, group: str, version: str, plural: str) -> Store | None:
        found = self._stores.get((group, version, plural))
        if found is None and group and self.on_miss is not None and \
                self.on_miss(group, version, plural):
            found = self._stores.get((group, version, plural))
        return found

    def stores(self) -> Iterator[Store]:
        return iter(list(self._stores.values()))

    def resources(self) -> list[ResourceDef]:
        return [s.resource for s in self._stores.values()]

    def by_kind(self, api_version: str, kind: str) -> ResourceDef | None:
        return self._by_kind.get((api_version, kind))

    def group_versions(self) -> list[tuple[str, str]]:
        """(group, version) pairs in serving order: core first, then groups by name."""
        seen: dict[tuple[str, str], None] = {}
        for group, version, _ in sorted(self._stores, key=lambda k: (k[0] != "", k[0],
                                                                     _version_rank(k[1]))):
            seen[(group, version)] = None
        return list(seen)

    def resources_in(self, group: str, version: str) -> list[ResourceDef]:
        return sorted((s.resource for (g, v, _), s in self._stores.items()
                       if g == group and v == version), key=lambda r: r.plural)

    def versions_of(self, group: str) -> list[str]:
        return sorted({v for g, v, _ in self._stores if g == group}, key=_version_rank)


def _version_rank(version: str) -> tuple[int, int, int]:
    """kube's version priority: GA before beta before alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)
