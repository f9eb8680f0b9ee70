"""The controllers every worker runs: CRDs made live, namespaces finalized, defaults created.

Each worker follows CRDs itself (its catalog must serve them) and every worker may finalize a
terminating namespace; the steps are idempotent, so racing workers only repeat harmless work.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

from kapisup.apimachinery.duration import parse_timestamp
from kapisup.apimachinery.errors import StatusError
from kapisup.registry.apiextensions_v1 import (
    CLEANUP_FINALIZER,
    custom_resources,
    is_established,
)
from kapisup.registry.resource import ResourceDef
from kapisup.registry.store import Store, WriteOptions, now_rfc3339
from kapisup.storage.interface import (
    ConflictError,
    KeyNotFoundError,
    Preconditions,
    StorageError,
    WatchClosed,
)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RESYNC_SECONDS = 2.0


def ensure_namespaces(namespaces: Store) -> None:
    """Create the namespaces kube has from the start; every worker runs this, so read first
    and write only what is missing."""
    for name in DEFAULT_NAMESPACES:
        with contextlib.suppress(KeyNotFoundError):
            namespaces.storage.get(namespaces.resource.key("", name))
            continue
        try:
            namespaces.create("", {"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": name}},
                              WriteOptions(field_manager="kapisup-bootstrap"))
        except StatusError as exc:
            if exc.code != 409:
                raise


class CRDController:
    """Keeps the catalog serving exactly the established, not-deleted CRDs."""

    def __init__(self, catalog: Any, crds: Store, make_store: Callable[[Any], Store],
                 log: Any):
        self.catalog = catalog
        self.crds = crds
        self.make_store = make_store
        self.log = log
        self.served: dict[str, tuple[Any, list[tuple[str, str, str]]]] = {}

    def on_miss(self, group: str, version: str, plural: str) -> bool:
        """A request for a resource this worker does not serve yet: look for its CRD now."""
        try:
            crd = self.crds.storage.get(self.crds.resource.key("", f"{plural}.{group}"))
        except (KeyNotFoundError, StorageError):
            return False
        self.apply(crd)
        return (group, version, plural) in {k for _, ks in self.served.values() for k in ks}

    def sync_all(self) -> int:
        listed = self.crds.storage.list(self.crds.resource.prefix())
        names = set()
        for crd in listed.items:
            names.add(crd["metadata"]["name"])
            self.apply(crd)
        for name in set(self.served) - names:
            self.unserve(name)
        return listed.revision

    def apply(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        if crd["metadata"].get("deletionTimestamp"):
            self.unserve(name)
            self.cleanup(crd)
            return
        rv = crd["metadata"].get("resourceVersion", "")
        # CRDs track generation: uid and generation change exactly when the spec does
        spec_key = (crd["metadata"].get("uid"), crd["metadata"].get("generation"))
        current = self.served.get(name)
        if current is None or current[0] != spec_key:
            self.unserve(name, notify=False)
            try:
                defs = custom_resources(crd)
            except (KeyError, TypeError) as exc:
                self.log.warning("crd not servable", crd=name, error=str(exc))
                return
            keys = []
            for resource in defs:
                self.catalog.add(self.make_store(resource), notify=False)
                keys.append((resource.group, resource.version, resource.plural))
            self.served[name] = (spec_key, keys)
            self.catalog.notify()
            self.log.info("crd serving", crd=name, resourceVersion=rv)
        if not is_established(crd):
            self.establish(name)

    def unserve(self, name: str, notify: bool = True) -> None:
        found = self.served.pop(name, None)
        if found is None:
            return
        for group, version, plural in found[1]:
            self.catalog.remove(group, version, plural, notify=False)
        if notify:
            self.catalog.notify()

    def establish(self, name: str) -> None:
        now = now_rfc3339()

        def update(crd: dict[str, Any]) -> dict[str, Any] | None:
            if not crd or is_established(crd) or crd["metadata"].get("deletionTimestamp"):
                return None
            names = (crd.get("spec") or {}).get("names") or {}
            status = crd.setdefault("status", {})
            status["acceptedNames"] = names
            status["conditions"] = [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now,
                 "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": now,
                 "reason": "InitialNamesAccepted", "message": "the initial names have been "
                                                              "accepted"}]
            return crd

        with contextlib.suppress(KeyNotFoundError, ConflictError):
            self.crds.storage.guaranteed_update(self.crds.resource.key("", name), update)

    def cleanup(self, crd: dict[str, Any]) -> None:
        """Delete every instance of a terminating CRD, then let the CRD itself go."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        instances = ResourceDef(spec.get("group", ""), "", names.get("kind", ""),
                                names.get("plural", ""), "", spec.get("scope") == "Namespaced",
                                component="")
        storage = self.crds.storage
        for item in storage.list(instances.prefix()).items:
            meta = item["metadata"]
            with contextlib.suppress(KeyNotFoundError):
                storage.delete(instances.key(meta.get("namespace", ""), meta["name"]))
        key = self.crds.resource.key("", crd["metadata"]["name"])

        def release(obj: dict[str, Any]) -> dict[str, Any] | None:
            if not obj:
                return None
            finalizers = obj["metadata"].get("finalizers") or []
            if CLEANUP_FINALIZER not in finalizers:
                return None
            obj["metadata"]["finalizers"] = [f for f in finalizers if f != CLEANUP_FINALIZER]
            return obj

        try:
            released = storage.guaranteed_update(key, release)
        except (KeyNotFoundError, ConflictError):
            return
        if not released["metadata"].get("finalizers"):
            with contextlib.suppress(KeyNotFoundError, ConflictError):
                storage.delete(key)

    def run(self) -> None:
        follow(self.crds, self.sync_all, self._event, self.log, "crd controller")

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.unserve(obj["metadata"]["name"])
        else:
            self.apply(obj)


class NamespaceController:
    """Deletes the contents of a terminating namespace, then the namespace itself."""

    def __init__(self, catalog: Any, namespaces: Store, log: Any):
        self.catalog = catalog
        self.namespaces = namespaces
        self.log = log
        self.synced_accounts = False
        #: namespaces last seen Active, kept from the watch (kube's lifecycle admission reads
        #: an informer the same way): creates check it before reading storage
        self.active: set[str] = set()
        #: namespaces being deleted: while there are any, their finalizing is retried
        self.terminating: set[str] = set()

    def sync_all(self) -> int:
        listed = self.namespaces.storage.list(self.namespaces.resource.prefix())
        self.active = {ns["metadata"]["name"] for ns in listed.items
                       if not ns["metadata"].get("deletionTimestamp")}
        self.terminating = {ns["metadata"]["name"] for ns in listed.items} - self.active
        for ns in listed.items:
            if ns["metadata"].get("deletionTimestamp"):
                self.finalize(ns["metadata"]["name"])
            elif not self.synced_accounts:
                self.ensure_service_account(ns["metadata"]["name"])
        self.synced_accounts = True
        return listed.revision

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED" or obj["metadata"].get("deletionTimestamp"):
            self.active.discard(name)
        else:
            self.active.add(name)
        if kind != "DELETED" and obj["metadata"].get("deletionTimestamp"):
            self.terminating.add(name)
        else:
            self.terminating.discard(name)
        if kind == "DELETED":
            return
        if obj["metadata"].get("deletionTimestamp"):
            self.finalize(obj["metadata"]["name"])
        elif kind == "ADDED":
            self.ensure_service_account(obj["metadata"]["name"])

    def ensure_service_account(self, namespace: str) -> None:
        """Every namespace has a `default` service account, as kube's controller makes it."""
        accounts = self.catalog.store("", "v1", "serviceaccounts")
        if accounts is None:
            return
        try:
            accounts.create(namespace, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "default"}},
                            WriteOptions(field_manager="kapisup-serviceaccount-controller"))
        except StatusError as exc:
            if exc.code not in (403, 404, 409):  # exists, or the namespace is going
                raise

    def finalize(self, name: str) -> None:
        remaining = 0
        seen_prefixes: set[str] = set()
        for store in self.catalog.stores():
            resource = store.resource
            prefix = resource.prefix(name)
            if not resource.namespaced or prefix in seen_prefixes:
                continue
            seen_prefixes.add(prefix)
            for item in store.storage.list(prefix).items:
                try:
                    result = store.delete(name, item["metadata"]["name"], WriteOptions())
                except StatusError as exc:
                    if exc.code not in (404, 409):
                        raise
                    continue
                if not result.deleted:
                    remaining += 1
        if remaining:
            return
        storage = self.namespaces.storage
        key = self.namespaces.resource.key("", name)

        def release(obj: dict[str, Any]) -> dict[str, Any] | None:
            if not obj or not obj["metadata"].get("deletionTimestamp"):
                return None
            if not (obj.get("spec") or {}).get("finalizers"):
                return None
            obj["spec"]["finalizers"] = []
            return obj

        try:
            released = storage.guaranteed_update(key, release)
        except (KeyNotFoundError, ConflictError):
            return
        if not released["metadata"].get("finalizers") and \
                not (released.get("spec") or {}).get("finalizers") and \
                released["metadata"].get("deletionTimestamp"):
            try:
                storage.delete(key)
                self.log.info("namespace deleted", namespace=name)
            except (KeyNotFoundError, ConflictError):
                pass

    def run(self) -> None:
        follow(self.namespaces, self.sync_all, self._event, self.log, "namespace controller",
               resync=lambda: bool(self.terminating))


def follow(store: Store, sync_all: Callable[[], int],
           on_event: Callable[[str, dict[str, Any]], None], log: Any, name: str,
           resync: Callable[[], bool] | None = None, synced_at: int | None = None) -> None:
    """List, then watch from the list's revision; start over when the watch ends or fails.

    While `resync()` is true, sync_all also runs every few seconds (work that waited on other
    objects, such as a namespace whose contents were still going, is retried). `synced_at`:
    the caller already listed at this revision, so the first round only watches.
    """
    while True:
        try:
            revision = sync_all() if synced_at is None else synced_at
            synced_at = None
            watcher = store.storage.watch(store.resource.prefix(), revision)
            last_sync = time.monotonic()
            try:
                while True:
                    event = watcher.next(RESYNC_SECONDS)
                    if event is not None:
                        on_event(event.type, event.object)
                    if resync is not None and resync() and \
                            time.monotonic() - last_sync >= RESYNC_SECONDS:
                        sync_all()
                        last_sync = time.monotonic()
            finally:
                watcher.stop()
        except WatchClosed:
            continue
        except Exception as exc:  # a controller must outlive any one failure
            log.warning(f"{name} failed; restarting", error=repr(exc))
            time.sleep(1.0)


class EventTTLController:
    """Deletes Events their TTL after their last change, as kube's etcd lease on each does.

    Every worker sweeps; a delete carries the resourceVersion it judged, so an event written
    again meanwhile is kept, and racing workers only repeat harmless work.
    """

    def __init__(self, events: Store, ttl: float, log: Any, clock: Callable[[], float] = time.time):
        self.events = events
        self.ttl = ttl
        self.log = log
        self.clock = clock

    def sweep(self) -> int:
        storage = self.events.storage
        cutoff = self.clock() - self.ttl
        expired = 0
        for event in storage.list(self.events.resource.prefix()).items:
            if _last_change(event) > cutoff:
                continue
            meta = event["metadata"]
            key = self.events.resource.key(meta.get("namespace", ""), meta["name"])
            with contextlib.suppress(KeyNotFoundError, ConflictError):
                storage.delete(key, preconditions=Preconditions(
                    resource_version=meta.get("resourceVersion")))
                expired += 1
        return expired

    def run(self) -> None:
        interval = max(1.0, min(60.0, self.ttl / 10))
        while True:
            time.sleep(interval * (0.5 + random.random()))
            try:
                expired = self.sweep()
                if expired:
                    self.log.info("events expired", count=expired)
            except Exception as exc:  # a controller must outlive any one failure
                self.log.warning("event ttl sweep failed", error=repr(exc))


def _last_change(event: dict[str, Any]) -> float:
    """The newest of the timestamps an Event carries, in seconds (0 when none parses)."""
    series = event.get("series") or {}
    stamps = (event.get("metadata", {}).get("creationTimestamp"), event.get("lastTimestamp"),
              event.get("eventTime"), series.get("lastObservedTime"))
    return max((parse_timestamp(s) or 0.0 for s in stamps if isinstance(s, str)), default=0.0)
