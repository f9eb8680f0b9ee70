"""Routes of the API groups in the container, kept in step with the catalog.

Each group-version is a web service (`/api/v1`, `/apis/<group>/<version>`) and each group a
discovery root, so `/` lists them as kube-apiserver does; CRDs add and remove theirs live.
"""

from __future__ import annotations

import threading
from typing import Any

from kapisup.endpoints.openapi import gv_path
from kapisup.mux.router import ANY_METHOD


class APIInstaller:
    def __init__(self, container: Any, catalog: Any, handler: Any, discovery: Any):
        self.container = container
        self.catalog = catalog
        self.handler = handler
        self.discovery = discovery
        self._installed: set[str] = set()
        self._lock = threading.Lock()

    def install_roots(self) -> None:
        any_method = frozenset({ANY_METHOD})
        self.container.add_web_service("/api", [(any_method, "/",
                                                  self.discovery.handle_root(True))])
        self.container.add_web_service("/apis", [
            (any_method, "/", self.discovery.handle_root(False)),
            (any_method, "/{*}", self.handler),  # a group this worker has not seen yet
        ])
        self.sync()

    def sync(self) -> None:
        """Add web services for new group-versions and groups; drop the ones gone."""
        with self._lock:
            wanted: dict[str, Any] = {}
            for group, version in self.catalog.group_versions():
                root = "/" + gv_path(group, version)
                wanted[root] = (group, version)
                if group:
                    wanted[f"/apis/{group}"] = (group, None)
            any_method = frozenset({ANY_METHOD})
            for root, (group, version) in wanted.items():
                if root in self._installed:
                    continue
                if version is None:
                    routes = [(any_method, "/", self.discovery.handle_group(group))]
                else:
                    routes = [(any_method, "/",
                               self.discovery.handle_version(group, version)),
                              (any_method, "/{*}", self.handler)]
                self.container.add_web_service(root, routes, replace=True)
                self._installed.add(root)
            for root in sorted(self._installed - set(wanted)):
                self.container.remove_web_service(root)
                self._installed.discard(root)
