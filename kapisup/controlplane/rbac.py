"""RBAC on a worker: the informer that feeds the authorizer's index, and ClusterRole aggregation.

The master builds the RBAC authorizer before the fork with an empty index; each worker lists and
watches the four RBAC resources and keeps its own copy of that index current, so a binding
written through any worker takes effect on every worker as soon as its watch delivers it (the
storage feed polls every 10 ms). Until the four lists are read the worker is not ready.

The aggregation controller gives every ClusterRole with an aggregationRule the union of the
rules of the ClusterRoles its selectors match. Every worker runs it; a write carries the
resourceVersion it was computed from, so of racing workers one wins and the rest see an
already-aggregated role and have nothing left to do.
"""

from __future__ import annotations

import copy
from typing import Any

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.selectors import LabelSelector, label_selector_from_dict
from kapisup.auth.authorizer import Authorizer, members
from kapisup.auth.rbac import ROLE_KINDS, RBACAuthorizer, RBACIndex
from kapisup.controlplane.controllers import follow
from kapisup.registry.store import Store, WriteOptions

AGGREGATION_MANAGER = "clusterrole-aggregation-controller"
READY_CHECK = "poststarthook/rbac/bootstrap-roles"

Obj = dict[str, Any]


def rbac_authorizer(authorizer: Authorizer | None) -> RBACAuthorizer | None:
    """The RBAC authorizer among the configured ones, if RBAC is a mode."""
    if authorizer is None:
        return None
    return next((a for a in members(authorizer) if isinstance(a, RBACAuthorizer)), None)


class RBACInformer:
    """Lists and watches roles and bindings into `index`; keeps ClusterRoles for aggregation."""

    def __init__(self, index: RBACIndex, stores: dict[str, Store], log: Any):
        self.index = index
        self.stores = stores
        self.log = log
        #: ClusterRole objects as last seen, for the aggregation controller
        self.cluster_roles: dict[str, Obj] = {}
        self.aggregator: ClusterRoleAggregator | None = None

    def run(self) -> None:
        """Read the policy now when storage answers, so a worker that says it is ready has
        it (decisions and /readyz agree from its first request); then follow the changes. When
        storage is away, the followers keep trying and readiness fails meanwhile."""
        import gevent

        self.index.mark_unsynced()
        for resource in ROLE_KINDS:
            sync_all = self._sync_all(resource)
            try:
                revision: int | None = sync_all()
            except Exception as exc:
                self.log.warning("RBAC policy not read at start; will retry",
                                 resource=resource, error=repr(exc))
                revision = None
            gevent.spawn(follow, self.stores[resource], sync_all, self._on_event(resource),
                         self.log, f"rbac informer ({resource})", synced_at=revision)

    def _sync_all(self, resource: str) -> Any:
        store = self.stores[resource]

        def sync_all() -> int:
            listed = store.storage.list(store.resource.prefix())
            self.index.replace(resource, listed.items)
            if resource == "clusterroles":
                self.cluster_roles = {o["metadata"]["name"]: o for o in listed.items}
                self._changed()
            return listed.revision

        return sync_all

    def _on_event(self, resource: str) -> Any:
        def on_event(kind: str, obj: Obj) -> None:
            self.index.apply(resource, kind, obj)
            if resource == "clusterroles":
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    self.cluster_roles.pop(name, None)
                else:
                    self.cluster_roles[name] = obj
                self._changed()

        return on_event

    def _changed(self) -> None:
        if self.aggregator is not None:
            self.aggregator.wake()

    def ready_check(self) -> str | None:
        return None if self.index.synced else "the RBAC policy has not been read yet"


def aggregate_rules(role: Obj, cluster_roles: dict[str, Obj]) -> list[Obj] | None:
    """The rules `role` gathers by its aggregationRule, in kube's order: matching roles by
    name, each new rule once; None when it has no aggregationRule."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    selectors: list[LabelSelector] = []
    for selector in rule.get("clusterRoleSelectors") or ():
        try:
            selectors.append(label_selector_from_dict(selector))
        except (StatusError, AttributeError):
            continue
    name = role["metadata"]["name"]
    matched = sorted(n for n, other in cluster_roles.items() if n != name and any(
        s.matches((other.get("metadata") or {}).get("labels") or {}) for s in selectors))
    rules: list[Obj] = []
    for other in matched:
        for item in cluster_roles[other].get("rules") or ():
            if item not in rules:
                rules.append(item)
    return rules


class ClusterRoleAggregator:
    """Writes aggregated rules whenever a ClusterRole changes (kube's aggregation controller)."""

    def __init__(self, store: Store, informer: RBACInformer, log: Any):
        import gevent.event

        self.store = store
        self.informer = informer
        self.log = log
        self._wake = gevent.event.Event()
        informer.aggregator = self

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.sync_all()
            except Exception as exc:  # a controller must outlive any one failure
                self.log.warning("clusterrole aggregation failed", error=repr(exc))

    def sync_all(self) -> int:
        """Update every aggregated role whose rules differ; how many were written."""
        roles = dict(self.informer.cluster_roles)
        written = 0
        for name, role in sorted(roles.items()):
            rules = aggregate_rules(role, roles)
            if rules is None or rules == (role.get("rules") or []):
                continue
            updated = copy.deepcopy(role)
            updated["rules"] = rules
            try:
                # the resourceVersion in `updated` makes this a compare-and-swap
                self.store.update("", name, updated,
                                  WriteOptions(field_manager=AGGREGATION_MANAGER))
                written += 1
            except StatusError as exc:
                if exc.code not in (404, 409):  # changed or gone meanwhile: its event follows
                    raise
        return written
