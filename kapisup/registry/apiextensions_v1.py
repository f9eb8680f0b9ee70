"""CustomResourceDefinitions: their own strategy, and the resources each one makes live.

A CRD's served versions become `ResourceDef`s whose schema is the CRD's openAPIV3Schema with
apiVersion, kind and metadata added, so unknown-field checks, validation, defaults, OpenAPI and
discovery treat custom resources exactly like built-ins.
"""

from __future__ import annotations

import copy
from typing import Any

from kapisup.apimachinery.errors import (
    Cause,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
)
from kapisup.apimachinery.schema import OBJECT_META, ref
from kapisup.apimachinery.validation import is_dns1123_label, is_dns1123_subdomain
from kapisup.registry.resource import Obj, ResourceDef, Strategy

GROUP = "apiextensions.k8s.io"
CRD_COMPONENT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CRDStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def prepare_for_create(self, obj: Obj) -> None:
        versions = (obj.get("spec") or {}).get("versions") or []
        stored = [v.get("name") for v in versions if isinstance(v, dict) and v.get("storage")]
        obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""},
                         "storedVersions": stored[:1]}
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if CLEANUP_FINALIZER not in finalizers:
            meta["finalizers"] = [*finalizers, CLEANUP_FINALIZER]

    def defaults(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        names = spec.get("names")
        if isinstance(names, dict):
            if names.get("kind") and not names.get("listKind"):
                names["listKind"] = names["kind"] + "List"
            if names.get("kind") and not names.get("singular"):
                names["singular"] = names["kind"].lower()
        spec.setdefault("conversion", {"strategy": "None"})

    def validate(self, obj: Obj) -> list[Cause]:
        from kapisup.apimachinery.structural import validate_schema

        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [field_required("spec")]
        causes: list[Cause] = []
        group = spec.get("group") or ""
        names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
        plural = names.get("plural") or ""
        name = (obj.get("metadata") or {}).get("name", "")
        if not group:
            causes.append(field_required("spec.group"))
        elif "." not in group:
            causes.append(field_invalid("spec.group", group, "should be a domain with at least "
                                                             "one dot"))
        else:
            causes += [field_invalid("spec.group", group, m) for m in is_dns1123_subdomain(group)]
        if not plural:
            causes.append(field_required("spec.names.plural"))
        else:
            causes += [field_invalid("spec.names.plural", plural, m)
                       for m in is_dns1123_label(plural)]
        if not names.get("kind"):
            causes.append(field_required("spec.names.kind"))
        if plural and group and name != f"{plural}.{group}":
            causes.append(field_invalid("metadata.name", name,
                                        "must be spec.names.plural+\".\"+spec.group"))
        scope = spec.get("scope")
        if scope not in ("Namespaced", "Cluster"):
            causes.append(field_not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
        versions = spec.get("versions")
        if not isinstance(versions, list) or not versions:
            causes.append(field_required("spec.versions", "must have exactly one version "
                                                          "marked as storage version"))
            return causes
        storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
        if len(storage) != 1:
            causes.append(field_invalid("spec.versions", "", "must have exactly one version "
                                                             "marked as storage version"))
        seen: set[str] = set()
        for i, version in enumerate(versions):
            path = f"spec.versions[{i}]"
            if not isinstance(version, dict):
                causes.append(field_invalid(path, version, "must be an object"))
                continue
            vname = version.get("name") or ""
            if not vname:
                causes.append(field_required(f"{path}.name"))
            elif vname in seen:
                causes.append(field_invalid(f"{path}.name", vname, "must be unique"))
            seen.add(vname)
            schema = ((version.get("schema") or {}).get("openAPIV3Schema"))
            if schema is None:
                causes.append(field_required(f"{path}.schema.openAPIV3Schema",
                                             "schemas are required"))
            else:
                for cause in validate_schema(schema):
                    prefix = f"{path}.schema.openAPIV3Schema"
                    causes.append(Cause(cause.reason, f"{prefix}.{cause.field}".rstrip(".")
                                        if cause.field else prefix, cause.message))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("group") != new_spec.get("group"):
            causes.append(field_forbidden("spec.group", "field is immutable"))
        if (old_spec.get("names") or {}).get("plural") != (new_spec.get("names") or {}) \
                .get("plural"):
            causes.append(field_forbidden("spec.names.plural", "field is immutable"))
        return causes


def crd_resources() -> list[ResourceDef]:
    return [ResourceDef(GROUP, "v1", "CustomResourceDefinition", "customresourcedefinitions",
                        "customresourcedefinition", False, CRD_COMPONENT, CRDStrategy(),
                        short_names=("crd", "crds"), categories=("api-extensions",),
                        subresources=("status",))]


class CustomResourceStrategy(Strategy):
    tracks_generation = True

    def __init__(self, status: bool):
        self.has_status_subresource = status


def custom_resources(crd: Obj) -> list[ResourceDef]:
    """One ResourceDef per served version of an established CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec["group"]
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        schema = custom_schema(version, group, names.get("kind", ""))
        out.append(ResourceDef(
            group, version["name"], names["kind"], names["plural"],
            names.get("singular") or names["kind"].lower(),
            spec.get("scope") == "Namespaced",
            component=component_name(group, version["name"], names["kind"]),
            strategy=CustomResourceStrategy("status" in subresources),
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=tuple(s for s in ("status", "scale") if s in subresources),
            printer_columns=version.get("additionalPrinterColumns"),
            custom_schema=schema,
            selectable_fields=tuple(f.get("jsonPath", "").lstrip(".")
                                    for f in version.get("selectableFields") or []),
        ))
    return out


def component_name(group: str, version: str, kind: str) -> str:
    """kube names CRD schemas by the reversed group: com.example.stable.v1.CronTab."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def custom_schema(version: Obj, group: str, kind: str) -> dict[str, Any]:
    schema = copy.deepcopy(((version.get("schema") or {}).get("openAPIV3Schema")) or
                           {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "The versioned schema of this "
                                                            "object."}
    props["kind"] = {"type": "string", "description": "The type of this object."}
    props["metadata"] = {"allOf": [ref(OBJECT_META)], "description": "Standard object's "
                                                                     "metadata."}
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "version": version["name"],
                                                  "kind": kind}]
    return schema


def is_established(crd: Obj) -> bool:
    for condition in (crd.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Established" and condition.get("status") == "True":
            return True
    return False
