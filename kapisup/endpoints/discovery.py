"""API discovery: legacy /api, /apis, /api/v1, /apis/<g>[/<v>] and aggregated discovery.

kubectl asks /api and /apis for `apidiscovery.k8s.io` v2 (then v2beta1) and uses the answer
only when the *response* Content-Type names it, so the aggregated form is chosen by Accept and
labelled exactly. Documents are rebuilt only when the catalog changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kapisup.endpoints.negotiation import media_type
from kapisup.endpoints.status import method_not_allowed, status_line, write_status
from kapisup.registry.resource import ResourceDef

StartResponse = Callable[..., Any]
Obj = dict[str, Any]
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                     "finalize": ["update"]}


def storage_version_hash(resource: ResourceDef) -> str:
    raw = f"{resource.group}/{resource.version}/{resource.kind}".encode()
    return hashlib.sha256(raw).digest()[:8].hex()[:11]


def api_resource(resource: ResourceDef) -> list[Obj]:
    entry: Obj = {"name": resource.plural, "singularName": resource.singular,
                  "namespaced": resource.namespaced, "kind": resource.kind,
                  "verbs": list(resource.verbs)}
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entry["storageVersionHash"] = storage_version_hash(resource)
    out = [entry]
    for sub in resource.subresources:
        out.append({"name": f"{resource.plural}/{sub}", "singularName": "",
                    "namespaced": resource.namespaced, "kind": resource.kind,
                    "verbs": SUBRESOURCE_VERBS.get(sub, ["get"])})
    for sub, own in resource.rest_subresources.items():
        # a kind of another group-version is named with its group and version, as kube does
        out.append({"name": f"{resource.plural}/{sub}", "singularName": "",
                    "namespaced": resource.namespaced, "group": own.group,
                    "version": own.version, "kind": own.kind, "verbs": list(own.verbs)})
    return out


def _aggregated_resource(resource: ResourceDef) -> Obj:
    kind = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    entry: Obj = {"resource": resource.plural, "responseKind": kind,
                  "scope": "Namespaced" if resource.namespaced else "Cluster",
                  "singularResource": resource.singular, "verbs": list(resource.verbs)}
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources or resource.rest_subresources:
        entry["subresources"] = [{"subresource": sub, "responseKind": kind,
                                  "verbs": SUBRESOURCE_VERBS.get(sub, ["get"])}
                                 for sub in resource.subresources]
        entry["subresources"] += [
            {"subresource": sub, "responseKind": {"group": own.group, "version": own.version,
                                                  "kind": own.kind},
             "verbs": list(own.verbs)}
            for sub, own in resource.rest_subresources.items()]
    return entry


class Discovery:
    """Serves every discovery document from the catalog, cached per catalog generation."""

    def __init__(self, catalog: Any):
        self.catalog = catalog
        self._cache: dict[tuple[str, ...], tuple[bytes, str]] = {}
        self._generation = -1

    def _cached(self, key: tuple[str, ...], build: Callable[[], Obj | None],
                content_type: str = "application/json") -> tuple[bytes, str] | None:
        if self._generation != self.catalog.generation:
            self._cache.clear()
            self._generation = self.catalog.generation
        found = self._cache.get(key)
        if found is None:
            doc = build()
            if doc is None:
                return None
            found = (json.dumps(doc, separators=(",", ":")).encode(), content_type)
            self._cache[key] = found
        return found

    # documents

    def groups(self) -> list[str]:
        return sorted({g for g, _ in self.catalog.group_versions() if g})

    def api_versions(self, environ: dict[str, Any]) -> Obj:
        host = environ.get("SERVER_NAME", "127.0.0.1")
        port = environ.get("SERVER_PORT", "")
        address = f"{host}:{port}" if port else host
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": address}]}

    def api_group(self, group: str) -> Obj | None:
        versions = self.catalog.versions_of(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def group_list(self) -> Obj:
        groups = [self.api_group(g) for g in self.groups()]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}

    def resource_list(self, group: str, version: str) -> Obj | None:
        resources = self.catalog.resources_in(group, version)
        if not resources:
            return None
        entries: list[Obj] = []
        for resource in resources:
            entries += api_resource(resource)
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": entries}

    def aggregated(self, legacy: bool, version: str) -> Obj:
        items = []
        groups = [""] if legacy else self.groups()
        for group in groups:
            versions = []
            for v in self.catalog.versions_of(group):
                versions.append({"version": v, "freshness": "Current", "resources": [
                    _aggregated_resource(r) for r in self.catalog.resources_in(group, v)]})
            meta: Obj = {"creationTimestamp": None}
            if group:
                meta = {"name": group, "creationTimestamp": None}
            items.append({"metadata": meta, "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
                "metadata": {}, "items": items}

    # handlers

    def handle_root(self, legacy: bool) -> Callable[..., list[bytes]]:
        def handle(environ: dict[str, Any], start_response: StartResponse,
                   params: Any = None) -> list[bytes]:
            aggregated = _wants_aggregated(environ.get("HTTP_ACCEPT", ""))
            if aggregated:
                found = self._cached(("agg", str(legacy), aggregated),
                                     lambda: self.aggregated(legacy, aggregated),
                                     AGGREGATED.format(v=aggregated))
            elif legacy:
                doc = self.api_versions(environ)
                found = (json.dumps(doc, separators=(",", ":")).encode(), "application/json")
            else:
                found = self._cached(("groups",), self.group_list)
            return _send(environ, start_response, found)

        return handle

    def handle_group(self, group: str) -> Callable[..., list[bytes]]:
        def handle(environ: dict[str, Any], start_response: StartResponse,
                   params: Any = None) -> list[bytes]:
            found = self._cached(("group", group), lambda: (doc := self.api_group(group)) and
                                 {"kind": "APIGroup", "apiVersion": "v1", **doc})
            return _send(environ, start_response, found)

        return handle

    def handle_version(self, group: str, version: str) -> Callable[..., list[bytes]]:
        def handle(environ: dict[str, Any], start_response: StartResponse,
                   params: Any = None) -> list[bytes]:
            found = self._cached(("version", group, version),
                                 lambda: self.resource_list(group, version))
            return _send(environ, start_response, found)

        return handle


def _wants_aggregated(accept: str) -> str:
    """"v2" or "v2beta1" when Accept's first acceptable entry is aggregated discovery."""
    for entry in accept.split(","):
        kind, params = media_type(entry)
        if params.get("as") == "APIGroupDiscoveryList" and \
                params.get("g") == "apidiscovery.k8s.io" and params.get("v") in ("v2",
                                                                                 "v2beta1"):
            return params["v"]
        if kind in ("application/json", "*/*", "application/*"):
            return ""
    return ""


def _send(environ: dict[str, Any], start_response: StartResponse,
          found: tuple[bytes, str] | None) -> list[bytes]:
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return method_not_allowed(start_response)
    if found is None:
        return write_status(start_response, 404, "the server could not find the requested "
                            "resource", details={})
    body, content_type = found
    start_response(status_line(200), [("Content-Type", content_type),
                                      ("Content-Length", str(len(body))),
                                      ("Vary", "Accept"),
                                      ("Cache-Control", "no-cache, private")])
    return [body]
