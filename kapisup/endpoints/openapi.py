"""OpenAPI v3: `/openapi/v3` and one document per group-version, from the served schemas.

kubectl's validation looks for a PATCH operation with the kind's
`x-kubernetes-group-version-kind` and a `fieldValidation` parameter; `explain` reads the
component schemas. `/openapi/v2` (kubectl up to 1.28) is protobuf, from `openapiv2.py`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kapisup.apimachinery.schema import REF_PREFIX, SchemaSet, public, ref
from kapisup.endpoints.status import method_not_allowed, status_line, write_status
from kapisup.registry.resource import ResourceDef
from kapisup.version import KUBERNETES_MAJOR, KUBERNETES_MINOR

StartResponse = Callable[..., Any]
Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _param(name: str, where: str, description: str, kind: str = "string",
           required: bool = False) -> Obj:
    param: Obj = {"name": name, "in": where, "description": description,
                  "schema": {"type": kind, "uniqueItems": True}}
    if required:
        param["required"] = True
    return param


_WRITE_PARAMS = [
    _param("dryRun", "query", "When present, modifications are not persisted (All)."),
    _param("fieldManager", "query", "Name of the actor making the change."),
    _param("fieldValidation", "query",
           "What to do with unknown or duplicate fields: Ignore, Warn (default) or Strict."),
]
_LIST_PARAMS = [
    _param("labelSelector", "query", "Only objects whose labels match."),
    _param("fieldSelector", "query", "Only objects whose fields match."),
    _param("limit", "query", "Most objects to return per page.", "integer"),
    _param("continue", "query", "Token of the next page from a previous list."),
    _param("resourceVersion", "query", "Where a list or watch starts."),
    _param("resourceVersionMatch", "query", "How resourceVersion applies to a list."),
    _param("timeoutSeconds", "query", "Watch lifetime.", "integer"),
    _param("watch", "query", "Stream changes instead of listing.", "boolean"),
    _param("allowWatchBookmarks", "query", "Send BOOKMARK events.", "boolean"),
]


def _content(component: str) -> Obj:
    return {"application/json": {"schema": ref(component)},
            "application/yaml": {"schema": ref(component)}}


def _op(action: str, resource: ResourceDef, op_id: str, response: str, *,
        params: list[Obj] | None = None, body: str | None = None, patch: bool = False,
        codes: tuple[int, ...] = (200,)) -> Obj:
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    op: Obj = {"tags": [gv_path(resource.group, resource.version).replace("/", "_")],
               "description": f"{action} {resource.kind}", "operationId": op_id,
               "parameters": params or [],
               "responses": {str(code): {"description": "OK", "content": _content(response)}
                             for code in codes},
               "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
    op["responses"]["401"] = {"description": "Unauthorized"}
    if patch:
        # Custom resources take no strategic merge patch; kubectl reads this list to choose
        # between strategic and JSON merge patch for `apply`, so it must not offer one.
        types = [t for t in PATCH_TYPES
                 if not (resource.is_custom and "strategic-merge-patch" in t)]
        op["requestBody"] = {"content": {t: {"schema": ref(META + "Patch")} for t in types},
                             "required": True}
    elif body is not None:
        op["requestBody"] = {"content": {"*/*": {"schema": ref(body)}}, "required": True}
    return op


def _list_schema(resource: ResourceDef, component: str) -> Obj:
    return {"description": f"A list of {resource.kind} objects.", "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string", "description": "The versioned schema."},
                "items": {"type": "array", "description": f"The {resource.plural}.",
                          "items": {"allOf": [ref(component)], "default": {}}},
                "kind": {"type": "string", "description": "The type of this object."},
                "metadata": {"allOf": [ref(META + "ListMeta")], "default": {},
                             "description": "Standard list metadata."}},
            "x-kubernetes-group-version-kind": [{"group": resource.group,
                                                 "version": resource.version,
                                                 "kind": resource.list_kind}]}


def build_document(resources: list[ResourceDef], schemas: SchemaSet) -> Obj:
    paths: Obj = {}
    components: dict[str, Obj] = {}
    roots: list[str] = [META + "Status", META + "DeleteOptions", META + "Patch",
                        META + "WatchEvent", META + "ListMeta"]
    for resource in resources:
        group, version = resource.group, resource.version
        base = "/" + gv_path(group, version)
        component = resource.component
        if resource.custom_schema is not None:
            components[component] = resource.custom_schema
        roots.append(component)
        name = resource.kind
        ns_param = _param("namespace", "path", "The object's namespace.", required=True)
        name_param = _param("name", "path", f"Name of the {name}.", required=True)
        collection = f"{base}/namespaces/{{namespace}}/{resource.plural}" \
            if resource.namespaced else f"{base}/{resource.plural}"
        shared = [ns_param] if resource.namespaced else []
        if "list" not in resource.verbs:
            # create-only (the access reviews): one POST, no list kind, no item paths
            paths[collection] = {
                "post": _op("post", resource, f"create{name}", component,
                            params=_WRITE_PARAMS, body=component, codes=(200, 201, 202)),
                "parameters": shared}
            continue
        list_component = component + "List"
        components[list_component] = _list_schema(resource, component)
        if resource.namespaced:
            all_ns = f"{base}/{resource.plural}"
            paths[all_ns] = {"get": _op("list", resource, f"list{name}ForAllNamespaces",
                                        list_component, params=list(_LIST_PARAMS))}
        item = f"{collection}/{{name}}"
        paths[collection] = {
            "get": _op("list", resource, f"list{name}", list_component,
                       params=list(_LIST_PARAMS)),
            "post": _op("post", resource, f"create{name}", component, params=_WRITE_PARAMS,
                        body=component, codes=(200, 201, 202)),
            "delete": _op("deletecollection", resource, f"deletecollection{name}",
                          META + "Status", params=list(_LIST_PARAMS)),
            "parameters": shared,
        }
        paths[item] = {
            "get": _op("get", resource, f"read{name}", component),
            "put": _op("put", resource, f"replace{name}", component, params=_WRITE_PARAMS,
                       body=component, codes=(200, 201)),
            "patch": _op("patch", resource, f"patch{name}", component,
                         params=[*_WRITE_PARAMS,
                                 _param("force", "query", "Take fields owned by others.",
                                        "boolean")], patch=True, codes=(200, 201)),
            "delete": _op("delete", resource, f"delete{name}", META + "Status",
                          body=META + "DeleteOptions", codes=(200, 202)),
            "parameters": [name_param, *shared],
        }
        for sub in resource.subresources:
            title = sub.capitalize()
            paths[f"{item}/{sub}"] = {
                "get": _op("get", resource, f"read{name}{title}", component),
                "put": _op("put", resource, f"replace{name}{title}", component,
                           params=_WRITE_PARAMS, body=component, codes=(200, 201)),
                "patch": _op("patch", resource, f"patch{name}{title}", component,
                             params=_WRITE_PARAMS, patch=True, codes=(200, 201)),
                "parameters": [name_param, *shared],
            }
    _collect(roots, schemas, components)
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes",
                     "version": f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0"},
            "paths": paths,
            "components": {"schemas": {k: public(v) for k, v in sorted(components.items())}}}


def _collect(roots: list[str], schemas: SchemaSet, out: dict[str, Obj]) -> None:
    """Every component reachable from the roots, by following $ref."""
    pending = list(roots) + list(out)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        schema = out.get(name)
        if schema is None:
            if name not in schemas:
                continue
            schema = schemas.get(name)
            out[name] = schema
        _refs(schema, pending)


def _refs(node: Any, into: list[str]) -> None:
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str) and target.startswith(REF_PREFIX):
            into.append(target[len(REF_PREFIX):])
        for value in node.values():
            _refs(value, into)
    elif isinstance(node, list):
        for value in node:
            _refs(value, into)


class OpenAPIService:
    """Serves the v3 index and per group-version documents, rebuilt when the catalog changes."""

    def __init__(self, catalog: Any):
        self.catalog = catalog
        self._docs: dict[str, tuple[bytes, str]] = {}
        self._generation = -1

    def _refresh(self) -> None:
        if self._generation == self.catalog.generation:
            return
        self._docs = {}
        self._generation = self.catalog.generation

    def document(self, path: str) -> tuple[bytes, str] | None:
        self._refresh()
        found = self._docs.get(path)
        if found is None:
            for group, version in self.catalog.group_versions():
                if gv_path(group, version) == path:
                    doc = build_document(self.catalog.resources_in(group, version),
                                         self.catalog.schemas)
                    body = json.dumps(doc, separators=(",", ":")).encode()
                    found = (body, hashlib.sha512(body).hexdigest()[:128].upper())
                    self._docs[path] = found
                    break
        return found

    def index(self) -> bytes:
        paths = {}
        for group, version in self.catalog.group_versions():
            path = gv_path(group, version)
            found = self.document(path)
            if found is not None:
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={found[1]}"}
        return json.dumps({"paths": paths}, separators=(",", ":")).encode()

    def handle(self, environ: dict[str, Any], start_response: StartResponse,
               params: Any = None) -> list[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return method_not_allowed(start_response)
        path = environ.get("PATH_INFO", "").rstrip("/")
        rest = path[len("/openapi/v3"):].strip("/")
        if not rest:
            body = self.index()
            headers = [("Cache-Control", "no-cache, private")]
        else:
            found = self.document(rest)
            if found is None:
                return write_status(start_response, 404, "the server could not find the "
                                    "requested resource", details={})
            body, digest = found
            headers = [("Etag", f'"{digest}"'), ("Cache-Control", "no-cache, private")]
        start_response(status_line(200), [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))), *headers])
        return [body]
