"""What the API knows about one served resource: its names, scope, verbs, schema and strategy.

kube spreads this over APIResource, the REST storage and its RESTCreateStrategy /
RESTUpdateStrategy; here one `ResourceDef` carries all of it so discovery, OpenAPI, the REST
handlers and the generic store read the same declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kapisup.apimachinery.errors import Cause
from kapisup.apimachinery.validation import is_dns1123_subdomain

if TYPE_CHECKING:
    from kapisup.registry.store import WriteOptions

Obj = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


class Strategy:
    """Type-specific hooks around the generic store; the defaults suit a plain object."""

    #: PUT may create a missing object (kube's AllowCreateOnUpdate).
    allow_create_on_update = False
    #: metadata.generation is set on create and bumped when anything but metadata/status changes.
    tracks_generation = False
    #: the main resource ignores status; only the status subresource writes it.
    has_status_subresource = False
    #: DELETE answers with the object, not a Status (kube's ReturnDeletedObject)
    return_deleted_object = False

    def name_check(self, name: str) -> list[str]:
        """What is wrong with a name; most kinds take DNS-1123 subdomains."""
        return is_dns1123_subdomain(name)

    def defaults(self, obj: Obj) -> None:
        """Fill defaulted fields in place (kube's SetDefaults_*)."""

    def prepare_for_create(self, obj: Obj) -> None:
        if self.has_status_subresource:
            obj.pop("status", None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.has_status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Only status (and metadata) may change through /status."""
        status = new.get("status")
        for key in list(new):
            if key not in ("apiVersion", "kind", "metadata", "status"):
                del new[key]
        for key, value in old.items():
            if key not in ("apiVersion", "kind", "metadata", "status"):
                new[key] = value
        if status is None:
            new.pop("status", None)

    def prepare_for_subresource(self, subresource: str, new: Obj, old: Obj) -> None:
        self.prepare_for_status_update(new, old)

    def validate(self, obj: Obj) -> list[Cause]:
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        return self.validate(new)

    def field_attrs(self, obj: Obj) -> dict[str, str]:
        """Fields a fieldSelector may name, beyond metadata.name and metadata.namespace."""
        return {}

    def warnings(self, obj: Obj) -> list[str]:
        return []

    def admit(self, obj: Obj, old: Obj | None, user: Any) -> None:
        """Refuse (raise a StatusError) a valid write this requester may not make; `old` is
        None on create, `user` None for the server's own writes (RBAC's escalation check)."""

    def finalizers_pending(self, obj: Obj) -> bool:
        """Whether a delete must wait (kube: metadata.finalizers; namespaces add spec's)."""
        return bool((obj.get("metadata") or {}).get("finalizers"))

    def mark_deleting(self, obj: Obj) -> None:
        """Called when a delete sets deletionTimestamp (namespaces turn Terminating)."""


class SubresourceREST(Protocol):
    """A subresource with a REST object of its own instead of the parent's store (kube's
    NamedCreater behind serviceaccounts/token): it takes objects of its own kind, offers only
    `verbs`, and stores nothing unless it chooses to."""

    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]

    def create(self, namespace: str, name: str, obj: Obj, opts: WriteOptions) -> Obj:
        """The answer to a POST on `<parent>/<name>/<subresource>` (sent with 201)."""
        ...


@dataclass
class ResourceDef:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    component: str  # schema component name of the kind
    strategy: Strategy = field(default_factory=Strategy)
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    #: subresources served by their own REST object, by name (filled per worker at install)
    rest_subresources: dict[str, SubresourceREST] = field(default_factory=dict)
    verbs: tuple[str, ...] = ALL_VERBS
    key_root: str = ""  # storage prefix without trailing slash
    #: field names a fieldSelector may use for this type, beyond metadata.name/namespace
    selectable_fields: tuple[str, ...] = ()
    #: CRD additionalPrinterColumns, when the resource is a custom one
    printer_columns: list[dict[str, Any]] | None = None
    #: the CRD's structural schema (a top-level schema without refs), for custom resources
    custom_schema: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.key_root:
            base = f"/registry/{self.group}/{self.plural}" if self.group and \
                self.group not in _UNPREFIXED_GROUPS else f"/registry/{self.plural}"
            self.key_root = base

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return self.group, self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def is_custom(self) -> bool:
        return self.custom_schema is not None

    def key(self, namespace: str, name: str) -> str:
        return f"{self.key_root}/{namespace}/{name}" if self.namespaced \
            else f"{self.key_root}/{name}"

    def prefix(self, namespace: str = "") -> str:
        """Storage prefix of a namespace's objects, or of all of them."""
        if self.namespaced and namespace:
            return f"{self.key_root}/{namespace}/"
        return f"{self.key_root}/"


# Groups whose objects kube keeps directly under /registry/<resource>.
_UNPREFIXED_GROUPS = frozenset({"coordination.k8s.io", "rbac.authorization.k8s.io"})
