"""The Kubernetes API installed on a worker's GenericAPIServer (kube's controlplane.Instance).

Runs in each worker after the fork: opens the shared storage, builds the catalog of built-in
resources, installs discovery, OpenAPI and the resource routes, creates the default
namespaces and starts the controllers that make CRDs live and finalize namespaces.
"""

from __future__ import annotations

import os
import time
from typing import Any

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.schema import SchemaSet
from kapisup.auth.rbac import RBACIndex
from kapisup.auth.serviceaccount import AUTHENTICATOR_KEY, ISSUER_KEY
from kapisup.controlplane.bootstrappolicy import ensure_bootstrap_policy
from kapisup.controlplane.controllers import (
    CRDController,
    EventTTLController,
    NamespaceController,
    ensure_namespaces,
)
from kapisup.controlplane.installer import APIInstaller
from kapisup.controlplane.rbac import (
    READY_CHECK,
    ClusterRoleAggregator,
    RBACInformer,
    rbac_authorizer,
)
from kapisup.endpoints.discovery import Discovery
from kapisup.endpoints.openapi import OpenAPIService
from kapisup.endpoints.openapiv2 import OpenAPIV2Service
from kapisup.endpoints.rest import ResourceHandler
from kapisup.observability.logging import get_logger
from kapisup.registry.apiextensions_v1 import crd_resources
from kapisup.registry.authentication_v1 import (
    AuthenticationReviewStore,
    TokenRequestREST,
    authentication_review_resources,
    live_uid_lookup,
)
from kapisup.registry.authorization_v1 import ReviewStore, review_resources
from kapisup.registry.catalog import Catalog
from kapisup.registry.coordination_v1 import coordination_resources
from kapisup.registry.core_v1 import core_resources
from kapisup.registry.rbac_v1 import EscalationCheck, rbac_resources
from kapisup.registry.resource import ResourceDef
from kapisup.registry.store import Store
from kapisup.routes.healthz import HealthCheck
from kapisup.storage.interface import UnavailableError

DATABASE = "kapisup.db"
STORAGE_CHECK_TTL = 1.0
BOOTSTRAP_CHECK = "poststarthook/bootstrap-controller"
BOOTSTRAP_RETRY_MAX = 2.0


def _unavailable(exc: BaseException) -> bool:
    """Storage could not answer (as opposed to a bug, which must still fail the boot)."""
    if isinstance(exc, UnavailableError):
        return True
    return isinstance(exc, StatusError) and exc.code in (503, 504)


def database_path(data_dir: str) -> str:
    return os.path.join(data_dir, DATABASE)


def open_storage(options: Any) -> Any:
    """The worker's store: etcd when --etcd-servers names members, else the SQLite file."""
    if options.etcd_servers:
        from kapisup.storage.etcd import EtcdStorage

        # kube's compactor: compact every --storage-history to the revision seen one interval
        # earlier; connections are made lazily, so a down etcd does not stop a worker starting
        return EtcdStorage(list(options.etcd_servers), prefix=options.etcd_prefix,
                           ca_file=options.etcd_cafile, cert_file=options.etcd_certfile,
                           key_file=options.etcd_keyfile,
                           compact_interval=options.storage_history)

    from kapisup.storage.sqlite import SQLiteStorage

    # compact at least as often as the history is long, so --storage-history is honoured
    # within about twice its length, not only at the default one-minute pace
    return SQLiteStorage(database_path(options.data_dir),
                         synchronous=options.storage_sync,
                         history_seconds=options.storage_history,
                         compact_interval=min(60.0, options.storage_history))


class Instance:
    def __init__(self, server: Any):
        from kapisup.apimachinery import protobuf
        from kapisup.types import KINDS, builtin_schemas

        options = server.config.options
        self.server = server
        self.log = get_logger("controlplane", worker=server.config.worker_id)
        self.storage = open_storage(options)
        self._storage_checked_at = float("-inf")
        self._storage_verdict: str | None = None
        self._bootstrapped = False
        self.schemas = SchemaSet(builtin_schemas())
        self.catalog = Catalog(self.schemas)
        for resource in core_resources() + coordination_resources() + crd_resources():
            self.catalog.add(self.make_store(resource), notify=False)
        self._add_rbac(server.config.authorizer)
        namespaces = self.catalog.store("", "v1", "namespaces")
        assert namespaces is not None
        self.namespaces = namespaces
        crds = self.catalog.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crds is not None
        self.crd_controller = CRDController(self.catalog, crds, self.make_store, self.log)
        self.namespace_controller = NamespaceController(self.catalog, namespaces, self.log)
        events = self.catalog.store("", "v1", "events")
        assert events is not None
        self.event_ttl = EventTTLController(events, float(options.event_ttl), self.log)
        self.catalog.on_miss = self.crd_controller.on_miss
        self._install_service_account_tokens(server.config)

        # kinds that are no stored resource (TokenRequest) are still decodable by their schema
        other_kinds = {(f"{g}/{v}" if g else v, k): component for g, v, k, component in KINDS}

        def component_for(api_version: str, kind: str) -> str | None:
            found = self.catalog.by_kind(api_version, kind)
            if found is not None:
                return found.component
            return other_kinds.get((api_version, kind))

        def decode_protobuf(body: bytes) -> dict[str, Any]:
            return protobuf.decode(body, self.schemas, component_for)

        self.handler = ResourceHandler(self.catalog, decode_protobuf,
                                       min_request_timeout=float(options.min_request_timeout))
        self.discovery = Discovery(self.catalog)
        self.openapi = OpenAPIService(self.catalog)
        self.openapi_v2 = OpenAPIV2Service(self.catalog)
        self.installer = APIInstaller(server.container, self.catalog, self.handler,
                                      self.discovery)

    def _install_service_account_tokens(self, config: Any) -> None:
        """serviceaccounts/token with the master's signer, and the live-object lookup that
        lets the token authenticator drop tokens of deleted service accounts."""
        stores = [self.catalog.store("", "v1", plural)
                  for plural in ("serviceaccounts", "pods", "secrets")]
        accounts, pods, secrets = stores
        assert accounts is not None and pods is not None and secrets is not None
        authenticator = config.extra.get(AUTHENTICATOR_KEY)
        if authenticator is not None:
            authenticator.lookup = live_uid_lookup(accounts, pods, secrets)
        issuer = config.extra.get(ISSUER_KEY)
        if issuer is not None and authenticator is not None:
            accounts.resource.rest_subresources["token"] = TokenRequestREST(
                accounts, pods, secrets, issuer, authenticator.audiences,
                int(config.options.service_account_max_token_expiration))

    def _add_rbac(self, authorizer: Any) -> None:
        """RBAC objects, their informer and aggregation, and the access reviews.

        With RBAC a mode, the authorizer built by the master holds the index this worker's
        informer fills, and writes of roles and bindings are checked for escalation.
        """
        rbac = rbac_authorizer(authorizer)
        guard = EscalationCheck(authorizer, rbac.index) if rbac is not None else None
        stores = {}
        for resource in rbac_resources(guard):
            stores[resource.plural] = store = self.make_store(resource)
            self.catalog.add(store, notify=False)
        self.rbac_stores = stores
        self.rbac_informer = RBACInformer(rbac.index if rbac is not None else RBACIndex(),
                                          stores, self.log)
        self.aggregator = ClusterRoleAggregator(stores["clusterroles"], self.rbac_informer,
                                                self.log)
        for resource in review_resources():
            self.catalog.add(ReviewStore(resource, self.storage, self.schemas, authorizer),
                             notify=False)
        authenticator = self.server.config.authenticator
        token_authenticators = getattr(authenticator, "authenticators", ())
        for resource in authentication_review_resources():
            self.catalog.add(AuthenticationReviewStore(resource, self.storage, self.schemas,
                                                       token_authenticators), notify=False)

    def make_store(self, resource: ResourceDef) -> Store:
        check = self.namespace_check if resource.namespaced else None
        return Store(resource, self.storage, self.schemas, namespace_check=check)

    def namespace_check(self, namespace: str) -> None:
        """Creating in a missing namespace is 404, in a terminating one 403 (kube's rules).

        A namespace the controller's watch last saw Active needs no storage read; any other
        answer is read live, so a namespace created a moment ago through another worker works.
        """
        if namespace in self.namespace_controller.active:
            return
        try:
            ns = self.namespaces.get("", namespace)
        except StatusError as exc:
            if exc.code == 404:
                raise StatusError(404, "NotFound", f'namespaces "{namespace}" not found',
                                  {"name": namespace, "kind": "namespaces"}) from None
            raise
        if ns["metadata"].get("deletionTimestamp"):
            raise StatusError(
                403, "Forbidden", f"unable to create new content in namespace {namespace} "
                f"because it is being terminated",
                {"name": namespace, "kind": "namespaces",
                 "causes": [{"reason": "NamespaceTerminating", "message": f"namespace "
                             f"{namespace} is being terminated", "field": "metadata.namespace"}]})

    def install(self) -> None:
        """Routes and checks only: nothing here reads storage, so a worker boots (and serves
        503s) while etcd is away; the storage-reading steps run in the post-start hook."""
        server = self.server
        self.installer.install_roots()
        self.catalog.subscribe(self.installer.sync)
        server.container.non_swagger_routes.handle("/openapi/v2", self.openapi_v2.handle)
        server.container.non_swagger_routes.handle("/openapi/v3", self.openapi.handle)
        server.container.unlisted_routes.handle_prefix("/openapi/v3/", self.openapi.handle)
        server.add_healthz_check(HealthCheck("etcd", self._storage_check))
        server.add_healthz_check(HealthCheck(BOOTSTRAP_CHECK, self._bootstrap_check),
                                 livez=False)
        server.add_healthz_check(HealthCheck(READY_CHECK, self.rbac_informer.ready_check),
                                 livez=False)
        server.add_post_start_hook("start-apiextensions-controllers", self._post_start)

    def _bootstrap(self) -> None:
        """What boot reads and writes in storage: serve the stored CRDs, create the default
        namespaces and the RBAC bootstrap policy (every step idempotent, so a retry after a
        partial failure, or another worker or instance doing the same, is harmless)."""
        self.crd_controller.sync_all()
        ensure_namespaces(self.namespaces)
        ensure_bootstrap_policy(self.rbac_stores["clusterroles"],
                                self.rbac_stores["clusterrolebindings"], self.log)

    def _post_start(self) -> None:
        """Bootstrap at once when storage answers (as before, so SQLite workers are ready
        exactly when they were); when it does not, retry in the background, with
        /readyz failing, and start the controllers once it has worked."""
        try:
            self._bootstrap()
        except Exception as exc:
            if not _unavailable(exc):
                raise
            self.log.warning("storage unavailable at start-up; bootstrap will retry",
                             error=str(exc))
            import gevent

            gevent.spawn(self._bootstrap_until_done)
            return
        self._bootstrapped = True
        self._start_controllers()

    def _bootstrap_until_done(self) -> None:
        import gevent

        delay = 0.1
        while True:
            gevent.sleep(delay)
            try:
                self._bootstrap()
                break
            except Exception as exc:  # retried until storage answers, as kube's hooks are
                self.log.warning("bootstrap failed; will retry", error=repr(exc))
                delay = min(delay * 2, BOOTSTRAP_RETRY_MAX)
        self.log.info("bootstrap done after a storage outage")
        self._bootstrapped = True
        self._start_controllers()

    def _bootstrap_check(self) -> str | None:
        return None if self._bootstrapped else "default namespaces, CRDs and RBAC bootstrap " \
            "policy not read from storage yet"

    def _storage_check(self) -> str | None:
        """Storage answers; the verdict is reused for a second, so probes at any rate cost
        at most one storage read a second (kube rate-limits its etcd check the same way)."""
        now = time.monotonic()
        if now - self._storage_checked_at < STORAGE_CHECK_TTL:
            return self._storage_verdict
        try:
            self.storage.current_revision()
            verdict = None
        except Exception as exc:
            backend = "etcd" if self.server.config.options.etcd_servers else "storage"
            verdict = f"{backend}: {exc}"
        self._storage_checked_at, self._storage_verdict = now, verdict
        return verdict

    def _start_controllers(self) -> None:
        import gevent

        gevent.spawn(self.crd_controller.run)
        gevent.spawn(self.namespace_controller.run)
        gevent.spawn(self.event_ttl.run)
        self.rbac_informer.run()
        gevent.spawn(self.aggregator.run)


def install(server: Any) -> None:
    """The API installer the master names in its Config (imported only in workers)."""
    Instance(server).install()
