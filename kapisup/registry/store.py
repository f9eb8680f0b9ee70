"""The generic registry store: kube REST semantics for any resource on top of `Storage`.

Create, get, list, update, patch, delete, deletecollection and watch as genericregistry.Store
does them: names and generateName, uid and timestamps, generation, resourceVersion
preconditions, dry runs, field validation, managed fields, finalizers and deletionTimestamp,
label and field selectors, consistent pagination and watch start points. Type specifics come
from the resource's `Strategy`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import Cause, StatusError
from kapisup.apimachinery.schema import OBJECT_META, SchemaSet, ref
from kapisup.apimachinery.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from kapisup.apimachinery.validation import (
    generate_name,
    validate_object_meta,
    validate_object_meta_update,
)
from kapisup.registry.pagination import (
    CONTINUE_EXPIRED,
    decode_continue,
    encode_continue,
    parse_resource_version,
    too_large,
)
from kapisup.registry.resource import Obj, ResourceDef
from kapisup.registry.watch import WatchStream
from kapisup.storage.interface import (
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    Preconditions,
    Storage,
    StorageTimeoutError,
    TooLargeRevisionError,
    UnavailableError,
    WatchClosed,
    check_preconditions,
)

_METADATA_ONLY = {"type": "object", "properties": {"metadata": ref(OBJECT_META)}}


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


@dataclass
class WriteOptions:
    """What a write request asked for beyond its body."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    force: bool = False
    subresource: str = ""
    preconditions: Preconditions | None = None
    propagation_policy: str = ""
    #: kube names a writer without fieldManager after its User-Agent's product
    user_agent: str = ""
    #: who asks (an auth UserInfo), for types whose writes depend on the requester (RBAC's
    #: escalation check, access reviews); None for the server's own writes and the
    #: insecure port
    user: Any = None

    def manager(self) -> str:
        return self.field_manager or self.user_agent.split("/", 1)[0][:128] or "unknown"


@dataclass
class WriteResult:
    object: Obj
    created: bool = False
    warnings: list[str] = field(default_factory=list)
    #: DELETE only: the object is gone (200 with Status for most types) vs pending finalizers
    deleted: bool = False


@dataclass
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


class Store:
    """One resource's REST semantics; namespaced stores check the namespace's lifecycle."""

    def __init__(self, resource: ResourceDef, storage: Storage, schemas: SchemaSet,
                 namespace_check: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time):
        self.resource = resource
        self.storage = storage
        self.schemas = schemas
        self.namespace_check = namespace_check
        self.clock = clock
        #: encoded watch-event lines by (type, resourceVersion, name): one event reaches
        #: thousands of watchers of this resource and is encoded once for all of them
        self.event_lines: dict[Any, bytes] = {}

    # --- helpers ---------------------------------------------------------------------------

    @property
    def schema(self) -> dict[str, Any] | None:
        if self.resource.custom_schema is not None:
            return self.resource.custom_schema
        return self.schemas.get(self.resource.component) if \
            self.resource.component in self.schemas else None

    def _not_found(self, name: str) -> StatusError:
        return errors.not_found(self.resource.plural, name, self.resource.group)

    def _key(self, namespace: str, name: str) -> str:
        return self.resource.key(namespace, name)

    def _invalid(self, name: str, causes: list[Cause]) -> StatusError:
        return errors.invalid(self.resource.kind, name, causes, self.resource.group)

    def _conflict(self, name: str, why: str = errors.STALE) -> StatusError:
        return errors.conflict(self.resource.plural, name, why, self.resource.group)

    def _check_preconditions(self, key: str, obj: Obj, pre: Preconditions | None,
                             name: str) -> None:
        """The storage's own precondition check, answered as kube's 409."""
        try:
            check_preconditions(key, obj, pre)
        except ConflictError as exc:
            raise self._conflict(name, exc.message) from None

    def _unavailable(self, exc: Exception) -> StatusError:
        if isinstance(exc, StorageTimeoutError):  # kube's Timeout: the outcome is unknown
            return StatusError(504, "Timeout", f"Timeout: storage did not answer in time: {exc}",
                               {"retryAfterSeconds": 1})
        return errors.service_unavailable(f"storage is unavailable: {exc}")

    # --- read ------------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> Obj:
        try:
            obj = self.storage.get(self._key(namespace, name))
        except KeyNotFoundError:
            raise self._not_found(name) from None
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        return self._with_type(obj)

    def _with_type(self, obj: Obj) -> Obj:
        obj["apiVersion"] = self.resource.api_version
        obj["kind"] = self.resource.kind
        return obj

    def selectors(self, opts: ListOptions) -> tuple[LabelSelector, FieldSelector]:
        labels = parse_label_selector(opts.label_selector)
        fields = parse_field_selector(opts.field_selector)
        allowed = {"metadata.name", "metadata.namespace", *self.resource.selectable_fields}
        for name in sorted(fields.fields()):
            if name not in allowed:
                raise errors.bad_request(f'field label not supported: {name}')
        return labels, fields

    def predicate(self, labels: LabelSelector, fields: FieldSelector
                  ) -> Callable[[Obj], bool] | None:
        if labels.empty and fields.empty:
            return None
        attrs = self.resource.strategy.field_attrs

        def matches(obj: Obj) -> bool:
            meta = obj.get("metadata") or {}
            if not labels.empty and not labels.matches(meta.get("labels") or {}):
                return False
            if fields.empty:
                return True
            values = {"metadata.name": meta.get("name", ""),
                      "metadata.namespace": meta.get("namespace", "")}
            values.update(attrs(obj))
            return fields.matches(values)

        return matches

    def list(self, namespace: str, opts: ListOptions) -> Obj:
        result, meta = self._page(namespace, opts, raw=False)
        for item in result.items:
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return {"kind": self.resource.list_kind, "apiVersion": self.resource.api_version,
                "metadata": meta, "items": result.items}

    def list_json(self, namespace: str, opts: ListOptions) -> bytes:
        """`list` already encoded: stored texts are spliced, not decoded and re-encoded."""
        if opts.label_selector or opts.field_selector:
            return _dumps(self.list(namespace, opts))
        result, meta = self._page(namespace, opts, raw=True)
        head = self._raw_head
        items = []
        for text, revision in result.items:
            if text.startswith(head) and text[len(head)] != "}":
                items.append(f'{{"metadata":{{"resourceVersion":"{revision}",'
                             f"{text[len(head):]}")
            else:
                obj = _decode_raw(text, revision)
                obj.pop("apiVersion", None)
                obj.pop("kind", None)
                items.append(_dumps(obj).decode())
        return (f'{{"kind":"{self.resource.list_kind}","apiVersion":'
                f'"{self.resource.api_version}","metadata":{_dumps(meta).decode()},"items":['
                + ",".join(items) + "]}").encode()

    def get_json(self, namespace: str, name: str) -> bytes:
        """`get` already encoded, from the stored text (see `list_json`)."""
        try:
            text, revision = self.storage.get_raw(self._key(namespace, name))
        except KeyNotFoundError:
            raise self._not_found(name) from None
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        head = self._raw_head
        if text.startswith(head) and text[len(head)] != "}":
            return f'{head}"resourceVersion":"{revision}",{text[len(head):]}'.encode()
        return _dumps(self._with_type(_decode_raw(text, revision)))

    @property
    def _raw_head(self) -> str:
        """How every stored object of this resource starts (see `_canonical`)."""
        r = self.resource
        return f'{{"apiVersion":"{r.api_version}","kind":"{r.kind}","metadata":{{'

    def _page(self, namespace: str, opts: ListOptions, raw: bool) -> tuple[Any, Obj]:
        labels, fields = self.selectors(opts)
        predicate = self.predicate(labels, fields)
        prefix = self.resource.prefix(namespace)
        revision: int | None = None
        start_after: str | None = None
        if opts.continue_token:
            revision, start_after = decode_continue(opts.continue_token, prefix)
        elif opts.resource_version not in ("", "0"):
            wanted = parse_resource_version(opts.resource_version)
            if opts.resource_version_match == "Exact":
                revision = wanted
            elif wanted > self.storage.current_revision():
                raise too_large(wanted, self.storage.current_revision())
        limit = max(opts.limit, 0)
        try:
            if raw:
                result = self.storage.list_raw(prefix, limit=limit, start_after=start_after,
                                               revision=revision)
            else:
                result = self.storage.list(prefix, limit=limit, start_after=start_after,
                                           revision=revision, predicate=predicate)
        except CompactedError:
            if opts.continue_token:
                raise errors.expired(CONTINUE_EXPIRED) from None
            raise errors.expired(
                f"too old resource version: {opts.resource_version}") from None
        except TooLargeRevisionError as exc:
            raise too_large(exc.requested, exc.current) from None
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        meta: dict[str, Any] = {"resourceVersion": str(result.revision)}
        if result.continue_key is not None:
            meta["continue"] = encode_continue(result.revision, result.continue_key, prefix)
            if result.remaining is not None:
                meta["remainingItemCount"] = result.remaining
        return result, meta

    # --- create ----------------------------------------------------------------------------

    def create(self, namespace: str, obj: Obj, opts: WriteOptions,
               keep_managed_fields: bool = False) -> WriteResult:
        resource = self.resource
        warnings = self.check_fields(obj, opts.field_validation)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        self._check_namespace(namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"])
        name = meta.get("name", "")
        if self.namespace_check is not None and resource.namespaced:
            self.namespace_check(namespace)
        for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                    "selfLink"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(self.clock)
        strategy = resource.strategy
        strategy.defaults(obj)
        self.apply_schema_defaults(obj)
        strategy.prepare_for_create(obj)
        if strategy.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        causes = self.validate_meta(obj) + strategy.validate(obj) + self.validate_schema(obj)
        if causes:
            raise self._invalid(name, causes)
        strategy.admit(obj, None, opts.user)
        warnings += strategy.warnings(obj)
        if not keep_managed_fields:
            self._record_fields({}, obj, opts, "Update")
        self._with_type(obj)
        if opts.dry_run:
            return WriteResult(obj, created=True, warnings=warnings)
        try:
            stored = self.storage.create(self._key(namespace, name), _canonical(obj))
        except KeyExistsError:
            raise errors.already_exists(resource.plural, name, resource.group) from None
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        return WriteResult(self._with_type(stored), created=True, warnings=warnings)

    def _check_namespace(self, namespace: str, meta: dict[str, Any]) -> None:
        if not self.resource.namespaced:
            meta.pop("namespace", None)
            return
        given = meta.get("namespace")
        if given and given != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        meta["namespace"] = namespace

    def check_fields(self, obj: Obj, mode: str) -> list[str]:
        """Decoding as kube's typed decoder does it: a value of the wrong JSON type is a 400;
        then fieldValidation: Strict -> 400, Warn -> warnings; unknown fields are dropped."""
        from kapisup.apimachinery.structural import (
            prune,
            strict_decoding_error,
            unknown_field_issues,
            unknown_fields,
        )

        schema = self.schema
        if schema is None:
            return []
        self._check_types(obj)
        unknown = unknown_fields(obj, schema, self.schemas)
        if not unknown:
            return []
        if mode == "Strict":
            raise strict_decoding_error(unknown)
        prune(obj, schema, self.schemas)
        if mode == "Ignore":
            return []
        return [issue.message for issue in unknown_field_issues(unknown)]

    def _check_types(self, obj: Obj) -> None:
        """Built-in kinds are Go structs in kube: a wrong JSON type cannot even be decoded.
        Custom resources are only held to that for metadata; their schema answers 422.
        Nulls never count: Go's decoder takes null as "leave unset" (kubectl's own
        `--dry-run=client -o yaml` prints `creationTimestamp: null`)."""
        from kapisup.apimachinery.typecheck import decode_errors

        if self.resource.custom_schema is not None:
            bad = decode_errors({"metadata": obj.get("metadata")}, _METADATA_ONLY, self.schemas)
        else:
            bad = decode_errors(obj, self.schema, self.schemas)
        if bad:
            kind = self.resource.kind
            raise errors.bad_request(
                f'{kind} in version "{self.resource.version}" cannot be handled as a {kind}: '
                + "; ".join(str(c) for c in bad))

    def apply_schema_defaults(self, obj: Obj) -> None:
        if self.resource.custom_schema is not None:
            from kapisup.apimachinery.structural import apply_defaults

            apply_defaults(obj, self.resource.custom_schema, self.schemas)

    def validate_schema(self, obj: Obj) -> list[Cause]:
        if self.resource.custom_schema is None:
            return []
        from kapisup.apimachinery.structural import validate

        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        schema = dict(self.resource.custom_schema)
        props = {k: v for k, v in (schema.get("properties") or {}).items()
                 if k not in ("apiVersion", "kind", "metadata")}
        schema["properties"] = props
        if "required" in schema:
            schema["required"] = [r for r in schema["required"]
                                  if r not in ("apiVersion", "kind", "metadata")]
        return validate(body, schema, self.schemas)

    def validate_meta(self, obj: Obj, old: Obj | None = None) -> list[Cause]:
        if old is not None:  # name and namespace are fixed; the rest is checked again
            return validate_object_meta_update(obj.get("metadata") or {},
                                               old.get("metadata") or {})
        return validate_object_meta(obj.get("metadata") or {},
                                    namespaced=self.resource.namespaced,
                                    name_check=self.resource.strategy.name_check)

    def _record_fields(self, old: Obj, new: Obj, opts: WriteOptions, operation: str) -> None:
        from kapisup.apimachinery.patch import record_update

        manager = opts.manager()
        updated = record_update(old, new, manager, operation, self.schema, self.schemas,
                                now=now_rfc3339(self.clock),
                                api_version=self.resource.api_version)
        new["metadata"] = updated.get("metadata", new.get("metadata"))

    # --- update ----------------------------------------------------------------------------

    def update(self, namespace: str, name: str, obj: Obj, opts: WriteOptions) -> WriteResult:
        warnings = self.check_fields(obj, opts.field_validation)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request("the name of the object ({}) does not match the name on "
                                     "the URL ({})".format(meta["name"], name))
        meta["name"] = name
        self._check_namespace(namespace, meta)
        expected_rv = meta.get("resourceVersion") or ""

        def transform(current: Obj) -> Obj:
            new = copy.deepcopy(obj)
            if expected_rv and current and \
                    current["metadata"].get("resourceVersion") != expected_rv:
                raise self._conflict(name)
            return new

        return self._guaranteed_update(namespace, name, transform, opts, warnings)

    def _guaranteed_update(self, namespace: str, name: str,
                           transform: Callable[[Obj], Obj], opts: WriteOptions,
                           warnings: list[str], operation: str = "Update",
                           apply_manager: bool = False) -> WriteResult:
        """Read, transform, run the strategy, write with CAS; creates when allowed."""
        resource = self.resource
        strategy = resource.strategy
        state: dict[str, Any] = {"created": False, "result": None, "deleted": False}
        key = self._key(namespace, name)

        def try_update(current: Obj) -> Obj | None:
            if not current:
                return self._create_in_update(namespace, name, transform, opts, state)
            new = transform(copy.deepcopy(current))
            meta = new.setdefault("metadata", {})
            old_meta = current["metadata"]
            meta["name"] = name
            if resource.namespaced:
                meta["namespace"] = namespace
            for immutable in ("uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds"):
                if immutable in old_meta:
                    meta[immutable] = old_meta[immutable]
                else:
                    meta.pop(immutable, None)
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            if opts.subresource:
                strategy.prepare_for_subresource(opts.subresource, new, current)
            else:
                strategy.defaults(new)
                self.apply_schema_defaults(new)
                strategy.prepare_for_update(new, current)
            if strategy.tracks_generation:
                meta["generation"] = old_meta.get("generation", 1)
                if _spec_changed(new, current):
                    meta["generation"] = meta["generation"] + 1
            else:
                meta.pop("generation", None)
            causes = self.validate_meta(new, current) + strategy.validate_update(new, current) \
                + self.validate_schema(new)
            if causes:
                raise self._invalid(name, causes)
            strategy.admit(new, current, opts.user)
            if not apply_manager:
                self._record_fields(current, new, opts, operation)
            self._with_type(new)
            current_typed = self._with_type(copy.deepcopy(current))
            if _same(new, current_typed):
                state["result"] = current_typed
                return None
            if old_meta.get("deletionTimestamp") and not strategy.finalizers_pending(new):
                state["deleted"] = True
            if opts.dry_run:
                state["result"] = new
                return None
            return _canonical(new)

        try:
            stored = self.storage.guaranteed_update(
                key, try_update, preconditions=opts.preconditions,
                ignore_not_found=True)
        except KeyNotFoundError:
            raise self._not_found(name) from None
        except ConflictError:
            raise self._conflict(name) from None
        except KeyExistsError:
            raise self._conflict(name) from None
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        if state["result"] is not None and (opts.dry_run or stored is None or
                                            stored.get("metadata", {}).get("resourceVersion")
                                            == state["result"]["metadata"].get("resourceVersion")):
            result = state["result"]
        else:
            result = self._with_type(stored)
        if state["deleted"] and not opts.dry_run:
            self._finish_delete(namespace, name, result)
        return WriteResult(result, created=state["created"], warnings=warnings)

    def _create_in_update(self, namespace: str, name: str, transform: Callable[[Obj], Obj],
                          opts: WriteOptions, state: dict[str, Any]) -> Obj | None:
        if not self.resource.strategy.allow_create_on_update or opts.subresource:
            raise self._not_found(name)
        obj = transform({})
        obj.setdefault("metadata", {})["name"] = name
        obj["metadata"].pop("resourceVersion", None)
        result = self.create(namespace, obj, WriteOptions(
            dry_run=True, field_manager=opts.field_manager,
            field_validation="Ignore", user=opts.user))
        state["created"] = True
        new = result.object
        if opts.dry_run:
            state["result"] = new
            return None
        return _canonical(new)

    # --- patch -----------------------------------------------------------------------------

    def patch(self, namespace: str, name: str, patch_type: str, body: Any,
              opts: WriteOptions) -> WriteResult:
        from kapisup.apimachinery import patch as patches

        warnings: list[str] = []
        schema = self.schema
        if patch_type == "apply":
            return self._apply(namespace, name, body, opts)

        def transform(current: Obj) -> Obj:
            if not current:
                raise self._not_found(name)
            before_rv = current["metadata"].get("resourceVersion")
            if patch_type == "json":
                patched = patches.json_patch(current, body)
            elif patch_type == "merge":
                patched = patches.merge_patch(current, body)
            else:
                if self.resource.is_custom:
                    raise errors.unsupported_media_type(
                        "application/strategic-merge-patch+json",
                        ["application/json-patch+json", "application/merge-patch+json",
                         "application/apply-patch+yaml"])
                patched = patches.strategic_merge_patch(current, body, schema, self.schemas)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            meta = patched.get("metadata")
            if not isinstance(meta, dict):
                raise errors.bad_request("metadata must be an object")
            after_rv = meta.get("resourceVersion")
            if after_rv and after_rv != before_rv:
                raise self._conflict(name)
            warnings[:] = self.check_fields(patched, opts.field_validation)
            return patched

        return self._guaranteed_update(namespace, name, transform, opts, warnings)

    def _apply(self, namespace: str, name: str, body: Any, opts: WriteOptions) -> WriteResult:
        from kapisup.apimachinery import patch as patches

        if not isinstance(body, dict):
            raise errors.bad_request("apply patches must be an object")
        if not opts.field_manager:
            raise errors.bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager to be set")
        warnings = self.check_fields(copy.deepcopy(body), opts.field_validation)
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request("the name of the object ({}) does not match the name on "
                                     "the URL ({})".format(meta["name"], name))
        exists = True
        try:
            self.storage.get(self._key(namespace, name))
        except KeyNotFoundError:
            exists = False
        except UnavailableError as exc:
            raise self._unavailable(exc) from None

        def applied(live: Obj) -> Obj:
            out = patches.apply(live, copy.deepcopy(body), opts.field_manager, self.schema,
                                self.schemas, force=opts.force, now=now_rfc3339(self.clock),
                                api_version=self.resource.api_version)
            self.check_fields(out, "Ignore")
            return out

        if not exists:
            obj = applied({})
            obj.setdefault("metadata", {})["name"] = name
            result = self.create(namespace, obj, WriteOptions(
                dry_run=opts.dry_run, field_manager=opts.field_manager,
                field_validation="Ignore", user=opts.user), keep_managed_fields=True)
            result.warnings = warnings
            return result
        return self._guaranteed_update(namespace, name, applied, opts, warnings,
                                       operation="Apply", apply_manager=True)

    # --- delete ----------------------------------------------------------------------------

    def delete(self, namespace: str, name: str, opts: WriteOptions) -> WriteResult:
        """Objects with pending finalizers get a deletionTimestamp and stay; others go now."""
        key = self._key(namespace, name)
        strategy = self.resource.strategy
        try:
            current = self.storage.get(key)
        except KeyNotFoundError:
            raise self._not_found(name) from None
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        self._check_preconditions(key, current, opts.preconditions, name)
        if strategy.finalizers_pending(current):
            if current["metadata"].get("deletionTimestamp") or opts.dry_run:
                return WriteResult(self._with_type(current))

            def mark(obj: Obj) -> Obj | None:
                if not obj:
                    raise self._not_found(name)
                self._check_preconditions(key, obj, opts.preconditions, name)
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    return None
                meta["deletionTimestamp"] = now_rfc3339(self.clock)
                meta["deletionGracePeriodSeconds"] = 0
                strategy.mark_deleting(obj)
                return obj

            try:
                stored = self.storage.guaranteed_update(key, mark)
            except KeyNotFoundError:
                raise self._not_found(name) from None
            except ConflictError:
                raise self._conflict(name) from None
            except UnavailableError as exc:
                raise self._unavailable(exc) from None
            return WriteResult(self._with_type(stored))
        if opts.dry_run:
            return WriteResult(self._with_type(current), deleted=True)
        pre = opts.preconditions or Preconditions()
        try:
            gone = self.storage.delete(key, preconditions=Preconditions(
                uid=pre.uid, resource_version=pre.resource_version or
                current["metadata"].get("resourceVersion")))
        except KeyNotFoundError:
            raise self._not_found(name) from None
        except ConflictError:
            if opts.preconditions is not None:
                raise self._conflict(name) from None
            return self.delete(namespace, name, opts)  # changed under us: decide again
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        return WriteResult(self._with_type(gone), deleted=True)

    def _finish_delete(self, namespace: str, name: str, obj: Obj) -> None:
        """An update cleared the last finalizer of an object being deleted: it goes now."""
        rv = obj.get("metadata", {}).get("resourceVersion")
        with contextlib.suppress(KeyNotFoundError, ConflictError):
            self.storage.delete(self._key(namespace, name),
                                preconditions=Preconditions(resource_version=rv))

    def delete_collection(self, namespace: str, list_opts: ListOptions,
                          opts: WriteOptions) -> Obj:
        listed = self.list(namespace, ListOptions(label_selector=list_opts.label_selector,
                                                  field_selector=list_opts.field_selector))
        deleted = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                result = self.delete(meta.get("namespace", ""), meta["name"], opts)
            except StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            obj = result.object
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
            deleted.append(obj)
        listed["items"] = deleted
        return listed

    # --- watch -----------------------------------------------------------------------------

    def watch(self, namespace: str, opts: ListOptions) -> WatchStream:
        labels, fields = self.selectors(opts)
        predicate = self.predicate(labels, fields)
        prefix = self.resource.prefix(namespace)
        initial: list[Obj] = []
        rv = opts.resource_version
        try:
            if rv in ("", "0"):
                listed = self.storage.list(prefix, predicate=predicate)
                initial = listed.items
                start = listed.revision
            else:
                start = parse_resource_version(rv)
            watcher = self.storage.watch(prefix, start)
        except CompactedError as exc:
            return WatchStream.failed(self, errors.expired(
                f"too old resource version: {rv} ({getattr(exc, 'compacted', 0) + 1})"))
        except UnavailableError as exc:
            raise self._unavailable(exc) from None
        return WatchStream(self, watcher, predicate, initial, start)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _decode_raw(text: str, revision: int) -> Obj:
    obj = json.loads(text)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def _canonical(obj: Obj) -> Obj:
    """apiVersion, kind and metadata first, so GETs can splice the stored text (`_raw_head`)."""
    out = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
           "metadata": obj.get("metadata")}
    for key, value in obj.items():
        if key not in out:
            out[key] = value
    return out


def _same(a: Obj, b: Obj) -> bool:
    """Equal ignoring managedFields timestamps: a no-op write must not bump resourceVersion."""
    return _strip_times(a) == _strip_times(b)


def _strip_times(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    managed = meta.get("managedFields")
    if not managed:
        return obj
    clean = dict(obj)
    clean["metadata"] = dict(meta)
    clean["metadata"]["managedFields"] = [{k: v for k, v in m.items() if k != "time"}
                                          for m in managed]
    return clean


def _spec_changed(new: Obj, old: Obj) -> bool:
    ignored = ("metadata", "status", "apiVersion", "kind")
    return {k: v for k, v in new.items() if k not in ignored} != \
        {k: v for k, v in old.items() if k not in ignored}


__all__ = ["ListOptions", "Store", "WatchClosed", "WatchStream", "WriteOptions", "WriteResult"]
