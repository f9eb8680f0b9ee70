"""REST handlers for resources: kube's verbs mapped onto a registry `Store`.

One handler serves every resource of every group-version; RequestInfo (resolved once by the
filter chain) says which resource, namespace, name and verb. Errors raised below are
`StatusError`s and leave as Status objects with their code, so a client's mistake is never 500.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import StatusError
from kapisup.endpoints.negotiation import (
    Output,
    decode_json,
    decode_object,
    decode_patch,
    encode,
    negotiate,
    read_body,
)
from kapisup.endpoints.request import REQUEST_INFO, USER, RequestInfo
from kapisup.endpoints.status import METHOD_NOT_ALLOWED, status_line
from kapisup.endpoints.table import TablePrinter
from kapisup.registry.resource import SubresourceREST
from kapisup.registry.store import ListOptions, Store, WatchClosed, WriteOptions
from kapisup.storage.interface import Preconditions

StartResponse = Callable[..., Any]
Obj = dict[str, Any]
NOT_FOUND = "the server could not find the requested resource"
BOOKMARK_EVERY = 60.0
EVENT_LINE_CACHE = 256
DRAINING = "kapisup.draining"
HANGUP = "kapisup.hangup"


class Query:
    """The query string, read once; kube's parameters by name."""

    def __init__(self, query_string: str):
        self.values = parse_qs(query_string, keep_blank_values=True)

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[-1] if found else default

    def int(self, name: str) -> int | None:
        text = self.get(name)
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise errors.bad_request(f'{name}: Invalid value: "{text}": must be an integer') \
                from None

    def bool(self, name: str) -> bool:
        return self.get(name).lower() in ("true", "1")

    def list_options(self) -> ListOptions:
        return ListOptions(label_selector=self.get("labelSelector"),
                           field_selector=self.get("fieldSelector"),
                           limit=self.int("limit") or 0,
                           continue_token=self.get("continue"),
                           resource_version=self.get("resourceVersion"),
                           resource_version_match=self.get("resourceVersionMatch"))

    def write_options(self, subresource: str) -> WriteOptions:
        dry_run = self.values.get("dryRun") or []
        for value in dry_run:
            if value != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported '
                                         'values: "All"')
        validation = self.get("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation: Unsupported value: \"{validation}\": "
                                     'supported values: "Ignore", "Strict", "Warn"')
        manager = self.get("fieldManager")
        if len(manager) > 128:
            raise errors.bad_request("fieldManager: Too long: may not be more than 128 bytes")
        return WriteOptions(dry_run=bool(dry_run), field_manager=manager,
                            field_validation=validation, force=self.bool("force"),
                            subresource=subresource)


class ResourceHandler:
    """WSGI handler for every resource path under /api and /apis."""

    def __init__(self, catalog: Any, decode_protobuf: Callable[[bytes], Obj],
                 min_request_timeout: float = 1800.0):
        self.catalog = catalog
        self.decode_protobuf = decode_protobuf
        self.min_request_timeout = min_request_timeout

    def __call__(self, environ: dict[str, Any], start_response: StartResponse,
                 params: dict[str, str] | None = None) -> Iterable[bytes]:
        info: RequestInfo | None = environ.get(REQUEST_INFO)
        try:
            if info is None or not info.is_resource_request:
                raise StatusError(404, "NotFound", NOT_FOUND, {})
            store = self.catalog.store(info.api_group, info.api_version, info.resource)
            if store is None:
                raise StatusError(404, "NotFound", NOT_FOUND, {})
            return self.serve(environ, start_response, info, store)
        except StatusError as exc:
            return _respond_error(start_response, exc)

    def serve(self, environ: dict[str, Any], start_response: StartResponse, info: RequestInfo,
              store: Store) -> Iterable[bytes]:
        resource = store.resource
        namespace = info.namespace
        if not resource.namespaced:
            # RequestInfo reads /namespaces/<name> as a namespace too, as kube's does
            if namespace and not (resource.plural == "namespaces" and namespace == info.name):
                raise StatusError(404, "NotFound", NOT_FOUND, {})
            namespace = ""
        own = resource.rest_subresources.get(info.subresource) if info.subresource else None
        if own is not None:
            if resource.namespaced and not namespace:
                raise StatusError(404, "NotFound", NOT_FOUND, {})
            return self._serve_subresource(environ, start_response, info, namespace, own)
        if info.subresource and info.subresource not in resource.subresources:
            raise StatusError(404, "NotFound", NOT_FOUND, {})
        if _no_route(info, resource.verbs):
            raise StatusError(405, "MethodNotAllowed", METHOD_NOT_ALLOWED, {})
        query = Query(environ.get("QUERY_STRING", ""))
        output = negotiate(environ.get("HTTP_ACCEPT", ""))
        verb = info.verb
        if resource.namespaced and not namespace and verb not in ("list", "watch"):
            # across namespaces kube routes only list and watch: no DELETE of every namespace's
            # objects at once
            if verb == "create":
                raise errors.method_not_supported(resource.plural, verb, resource.group)
            if verb == "deletecollection":
                raise StatusError(405, "MethodNotAllowed", METHOD_NOT_ALLOWED, {})
            raise StatusError(404, "NotFound", NOT_FOUND, {})
        plain = not output.table and not output.yaml
        if verb == "get" and plain:
            return _respond_json(start_response, 200, store.get_json(namespace, info.name))
        if verb == "list" and plain:
            return _respond_json(start_response, 200,
                                 store.list_json(namespace, query.list_options()))
        if verb == "get":
            obj = store.get(namespace, info.name)
            return self._object(start_response, 200, obj, output, store, query)
        if verb == "list":
            result = store.list(namespace, query.list_options())
            return self._list(start_response, result, output, store, query)
        if verb == "watch":
            if info.name:
                opts = query.list_options()
                selector = f"metadata.name={info.name}"
                opts.field_selector = f"{opts.field_selector},{selector}" \
                    if opts.field_selector else selector
            else:
                opts = query.list_options()
            return self._watch(environ, start_response, store, namespace, opts, output, query)
        body = read_body(environ)
        write = query.write_options(info.subresource)
        write.user_agent = environ.get("HTTP_USER_AGENT", "")
        write.user = environ.get(USER)
        if verb == "create":
            if info.name:
                raise errors.method_not_supported(resource.plural, "create", resource.group)
            obj = self._decode(environ, body, store)
            result = store.create(namespace, obj, write)
            return self._object(start_response, 201, result.object, output, store, query,
                                result.warnings)
        if verb == "update":
            obj = self._decode(environ, body, store)
            result = store.update(namespace, info.name, obj, write)
            return self._object(start_response, 201 if result.created else 200, result.object,
                                output, store, query, result.warnings)
        if verb == "patch":
            patch_type, patch = decode_patch(environ, body)
            result = store.patch(namespace, info.name, patch_type, patch, write)
            return self._object(start_response, 201 if result.created else 200, result.object,
                                output, store, query, result.warnings)
        if verb == "delete":
            self._delete_options(body, query, write)
            result = store.delete(namespace, info.name, write)
            if result.deleted and not resource.strategy.return_deleted_object:
                uid = (result.object.get("metadata") or {}).get("uid", "")
                details = errors.details(info.name, resource.plural, resource.group, uid=uid)
                status = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Success", "details": details}
                return _respond(start_response, 200, status, output)
            return self._object(start_response, 200, result.object, output, store, query)
        if verb == "deletecollection":
            self._delete_options(body, query, write)
            result = store.delete_collection(namespace, query.list_options(), write)
            return self._list(start_response, result, output, store, query)
        raise errors.method_not_supported(resource.plural, verb, resource.group)

    def _serve_subresource(self, environ: dict[str, Any], start_response: StartResponse,
                           info: RequestInfo, namespace: str, own: SubresourceREST
                           ) -> Iterable[bytes]:
        """A subresource with its own REST object: only its verbs, bodies of its own kind."""
        if info.verb not in own.verbs or not info.name:
            raise StatusError(405, "MethodNotAllowed", METHOD_NOT_ALLOWED, {})
        query = Query(environ.get("QUERY_STRING", ""))
        output = negotiate(environ.get("HTTP_ACCEPT", ""))
        body = read_body(environ)
        write = query.write_options(info.subresource)
        write.user_agent = environ.get("HTTP_USER_AGENT", "")
        write.user = environ.get(USER)
        api_version = f"{own.group}/{own.version}" if own.group else own.version
        obj = self._typed(decode_object(environ, body, self.decode_protobuf), api_version,
                          own.kind)
        return _respond(start_response, 201, own.create(namespace, info.name, obj, write),
                        output)

    def _decode(self, environ: dict[str, Any], body: bytes, store: Store) -> Obj:
        obj = decode_object(environ, body, self.decode_protobuf)
        return self._typed(obj, store.resource.api_version, store.resource.kind)

    @staticmethod
    def _typed(obj: Obj, expected_version: str, expected_kind: str) -> Obj:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != expected_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({expected_version})")
        if kind and kind != expected_kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the "
                                     f"expected kind ({expected_kind})")
        obj["apiVersion"] = expected_version
        obj["kind"] = expected_kind
        return obj

    @staticmethod
    def _delete_options(body: bytes, query: Query, write: WriteOptions) -> None:
        options: Obj = {}
        if body.strip():
            decoded = decode_json(body)
            if not isinstance(decoded, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            options = decoded
        pre = options.get("preconditions") or {}
        if pre:
            write.preconditions = Preconditions(uid=pre.get("uid") or None,
                                                resource_version=pre.get("resourceVersion")
                                                or None)
        if options.get("dryRun"):
            if options["dryRun"] != ["All"]:
                raise errors.bad_request(f"dryRun: Unsupported value: {options['dryRun']!r}")
            write.dry_run = True
        write.propagation_policy = options.get("propagationPolicy") or \
            query.get("propagationPolicy")
        if write.propagation_policy not in ("", "Orphan", "Background", "Foreground"):
            raise errors.bad_request(
                f'propagationPolicy: Unsupported value: "{write.propagation_policy}": supported '
                'values: "Background", "Foreground", "Orphan"')

    # --- responses -------------------------------------------------------------------------

    def _object(self, start_response: StartResponse, code: int, obj: Obj, output: Output,
                store: Store, query: Query, warnings: list[str] | None = None) -> list[bytes]:
        if output.table:
            printer = TablePrinter(store.resource, output.table,
                                   query.get("includeObject") or "Metadata")
            obj = printer.table([obj], {"resourceVersion": obj.get("metadata", {})
                                        .get("resourceVersion", "")})
        return _respond(start_response, code, obj, output, warnings)

    def _list(self, start_response: StartResponse, result: Obj, output: Output, store: Store,
              query: Query) -> list[bytes]:
        if output.table:
            printer = TablePrinter(store.resource, output.table,
                                   query.get("includeObject") or "Metadata")
            api_version = store.resource.api_version
            for item in result["items"]:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", store.resource.kind)
            result = printer.table(result["items"], result["metadata"])
        return _respond(start_response, 200, result, output)

    def _watch(self, environ: dict[str, Any], start_response: StartResponse, store: Store,
               namespace: str, opts: ListOptions, output: Output, query: Query
               ) -> Iterable[bytes]:
        timeout = query.int("timeoutSeconds")
        if timeout is None or timeout <= 0:
            timeout = int(self.min_request_timeout * (1 + random.random()))
        bookmarks = query.bool("allowWatchBookmarks")
        stream = store.watch(namespace, opts)
        printer = TablePrinter(store.resource, output.table,
                               query.get("includeObject") or "Metadata") if output.table \
            else None
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Cache-Control", "no-cache, private")])
        ends = [e for e in (environ.get(DRAINING), environ.get(HANGUP)) if e is not None]
        return _WatchBody(stream, store, printer, time.monotonic() + timeout, bookmarks, ends)


class _WatchBody:
    """The chunked event stream; ends at its deadline, when draining, or when storage ends it."""

    def __init__(self, stream: Any, store: Store, printer: TablePrinter | None, deadline: float,
                 bookmarks: bool, ends: list[Any]):
        self.stream = stream
        self.store = store
        self.printer = printer
        self.deadline = deadline
        self.bookmarks = bookmarks
        self.ends = ends  # events that end the stream at once: the drain, the client hanging up
        self.first_table = True

    def __iter__(self) -> Iterator[bytes]:
        yield b""  # headers out now: clients wait for them before they count the watch open
        # A drain or a hang-up stops the stream at once: no watch wakes up just to look at a
        # flag, which with 10,000 open watches was 10,000 timer wake-ups a second.
        if any(end.is_set() for end in self.ends):
            self.stream.stop()
            return

        def stop(_: Any) -> None:
            self.stream.stop()

        for end in self.ends:
            end.rawlink(stop)
        try:
            if self.stream.error is not None:
                yield _event("ERROR", self.stream.error.status())
                return
            for kind, obj in self.stream.initial_events():
                yield self._encode(kind, obj)
            next_bookmark = time.monotonic() + BOOKMARK_EVERY if self.bookmarks \
                else float("inf")
            while True:
                now = time.monotonic()
                if now >= self.deadline:
                    break
                try:
                    got = self.stream.next(max(0.0, min(self.deadline, next_bookmark) - now))
                except WatchClosed:
                    break
                if got is not None:
                    yield self._encode(*got)
                elif time.monotonic() >= next_bookmark:
                    yield self._bookmark()
                    next_bookmark = time.monotonic() + BOOKMARK_EVERY
            if self.bookmarks:
                yield self._bookmark()
        finally:
            for end in self.ends:
                end.unlink(stop)
            self.stream.stop()

    def close(self) -> None:
        self.stream.stop()

    def _bookmark(self) -> bytes:
        resource = self.store.resource
        return _event("BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version,
                                   "metadata": {"resourceVersion": str(self.stream.revision)}})

    def _encode(self, kind: str, obj: Obj) -> bytes:
        """One event's line; plain JSON lines are shared by every watcher of the resource."""
        if self.printer is None:
            key = (kind, (obj.get("metadata") or {}).get("resourceVersion"), _name_key(obj))
            cache = self.store.event_lines
            line = cache.get(key)
            if line is None:
                if len(cache) >= EVENT_LINE_CACHE:
                    cache.clear()
                line = cache[key] = self._line(kind, obj)
            return line
        return self._line(kind, obj)

    def _line(self, kind: str, obj: Obj) -> bytes:
        resource = self.store.resource
        obj = {"apiVersion": resource.api_version, "kind": resource.kind,
               **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}}
        if self.printer is not None:
            obj = self.printer.table([obj], {"resourceVersion": obj.get("metadata", {})
                                             .get("resourceVersion", "")},
                                     with_columns=self.first_table)
            self.first_table = False
        return _event(kind, obj)


def _no_route(info: RequestInfo, verbs: tuple[str, ...]) -> bool:
    """kube registers no route for these: PUT/PATCH on a collection, or a verb the resource
    does not offer (DELETE on /api/v1/namespaces must not delete every namespace)."""
    if info.verb in ("update", "patch") and not info.name:
        return True
    return not info.subresource and info.verb not in verbs


def _name_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")


def _event(kind: str, obj: Obj) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + \
        json.dumps(obj, separators=(",", ":")).encode() + b"}\n"


def _respond(start_response: StartResponse, code: int, obj: Obj, output: Output,
             warnings: list[str] | None = None) -> list[bytes]:
    body, content_type = encode(obj, output)
    headers = [("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
               for warning in warnings or ()]
    return _send(start_response, code, body, content_type, headers)


def _respond_json(start_response: StartResponse, code: int, body: bytes) -> list[bytes]:
    return _send(start_response, code, body, "application/json")


def _respond_error(start_response: StartResponse, exc: StatusError) -> list[bytes]:
    body = json.dumps(exc.status(), separators=(",", ":")).encode()
    headers = list(exc.headers)
    retry = (exc.details or {}).get("retryAfterSeconds")
    if retry:
        headers.append(("Retry-After", str(retry)))
    return _send(start_response, exc.code, body, "application/json", headers)


def _send(start_response: StartResponse, code: int, body: bytes, content_type: str,
          extra: list[tuple[str, str]] | tuple[tuple[str, str], ...] = ()) -> list[bytes]:
    """Every API answer: one body, its length, and kube's Cache-Control."""
    start_response(status_line(code), [("Content-Type", content_type),
                                       ("Content-Length", str(len(body))),
                                       ("Cache-Control", "no-cache, private"), *extra])
    return [body]
