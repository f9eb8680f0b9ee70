"""Strategies of the core/v1 resources: defaults, validation and field selectors per kind."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from typing import Any

from kapisup.apimachinery import errors
from kapisup.apimachinery.errors import Cause, field_forbidden, field_invalid, field_required
from kapisup.apimachinery.validation import is_dns1035_label, is_dns1123_label
from kapisup.registry.resource import Obj, ResourceDef, Strategy

CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MESSAGE = ("a valid config key must consist of alphanumeric characters, '-', '_' or "
                      "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                      "validation is '[-._a-zA-Z0-9]+')")
MAX_DATA_BYTES = 1 << 20
CORE = "io.k8s.api.core.v1."


def _check_keys(obj: Obj, fields: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    total = 0
    for field in fields:
        data = obj.get(field)
        if data is None:
            continue
        if not isinstance(data, dict):
            causes.append(field_invalid(field, data, "must be an object"))
            continue
        for key, value in data.items():
            if not CONFIG_KEY.match(key) or len(key) > 253:
                causes.append(field_invalid(f"{field}[{key}]", key, CONFIG_KEY_MESSAGE))
            if key in seen:
                causes.append(field_invalid(f"{field}[{key}]", key,
                                            "duplicate of key present in another field"))
            seen.add(key)
            total += len(value) if isinstance(value, str) else 0
    if total > MAX_DATA_BYTES:
        causes.append(Cause("FieldValueTooLong", "", f"Too long: must have at most "
                                                     f"{MAX_DATA_BYTES} bytes"))
    return causes


def _immutable(new: Obj, old: Obj, fields: tuple[str, ...]) -> list[Cause]:
    if not old.get("immutable"):
        return []
    causes = []
    if new.get("immutable") is not True:
        causes.append(field_forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if new.get(field) != old.get(field):
            causes.append(field_forbidden(field, "field is immutable when `immutable` is set"))
    return causes


class NamespaceStrategy(Strategy):
    has_status_subresource = True

    def name_check(self, name: str) -> list[str]:
        return is_dns1123_label(name)

    def defaults(self, obj: Obj) -> None:
        meta = obj.setdefault("metadata", {})
        labels = meta.get("labels") or {}
        if meta.get("name"):
            labels["kubernetes.io/metadata.name"] = meta["name"]
        meta["labels"] = labels

    def prepare_for_create(self, obj: Obj) -> None:
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        new["spec"] = old.get("spec", {})
        new["status"] = old.get("status", {})

    def finalizers_pending(self, obj: Obj) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers")) or \
            super().finalizers_pending(obj)

    def mark_deleting(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"

    def field_attrs(self, obj: Obj) -> dict[str, str]:
        return {"status.phase": (obj.get("status") or {}).get("phase", "")}


    def prepare_for_subresource(self, subresource: str, new: Obj, old: Obj) -> None:
        """PUT /namespaces/{name}/finalize changes only spec.finalizers."""
        if subresource != "finalize":
            super().prepare_for_subresource(subresource, new, old)
            return
        finalizers = (new.get("spec") or {}).get("finalizers") or []
        for key in list(new):
            if key not in ("apiVersion", "kind", "metadata"):
                del new[key]
        new.update({k: v for k, v in old.items() if k not in ("apiVersion", "kind",
                                                               "metadata")})
        new["spec"] = {"finalizers": finalizers} if finalizers else {}


class ConfigMapStrategy(Strategy):
    def validate(self, obj: Obj) -> list[Cause]:
        causes = _check_keys(obj, ("data", "binaryData"))
        for key, value in (obj.get("binaryData") or {}).items():
            causes += _base64_causes(f"binaryData[{key}]", value)
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        return self.validate(new) + _immutable(new, old, ("data", "binaryData"))


def _base64_causes(path: str, value: Any) -> list[Cause]:
    if not isinstance(value, str):
        return [field_invalid(path, value, "must be a base64-encoded string")]
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return [field_invalid(path, "<value omitted>", "illegal base64 data")]
    return []


# Keys kube requires in the data of each well-known secret type.
_SECRET_TYPE_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def _json_causes(path: str, value: object) -> list[Cause]:
    if not isinstance(value, str):
        return []
    try:
        json.loads(base64.b64decode(value))
    except (ValueError, binascii.Error):
        return [field_invalid(path, "<secret contents redacted>", "invalid JSON")]
    return []


class SecretStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.get("data") or {}
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = base64.b64encode(value.encode()).decode()
            obj["data"] = data

    def validate(self, obj: Obj) -> list[Cause]:
        causes = _check_keys(obj, ("data",))
        for key, value in (obj.get("data") or {}).items():
            causes += _base64_causes(f"data[{key}]", value)
        kind = obj.get("type")
        data = obj.get("data") or {}
        if kind == "kubernetes.io/service-account-token":
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if "kubernetes.io/service-account.name" not in annotations:
                causes.append(field_required(
                    "metadata.annotations[kubernetes.io/service-account.name]"))
        for key in _SECRET_TYPE_KEYS.get(kind, ()):
            if key not in data:
                causes.append(field_required(f"data[{key}]"))
        if kind == "kubernetes.io/basic-auth" and "username" not in data and \
                "password" not in data:
            causes.append(field_required("data[username]",
                                         "either username or password or both must be provided"))
        for key in ("dockerconfigjson",) if kind == "kubernetes.io/dockerconfigjson" else ():
            causes += _json_causes(f"data[.{key}]", data.get(f".{key}"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new) + _immutable(new, old, ("data",))
        if new.get("type") != old.get("type"):
            causes.append(field_invalid("type", new.get("type"), "field is immutable"))
        return causes

    def field_attrs(self, obj: Obj) -> dict[str, str]:
        return {"type": obj.get("type", "")}


class ServiceAccountStrategy(Strategy):
    return_deleted_object = True


class EventStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        obj.setdefault("involvedObject", {})
        obj.setdefault("type", "Normal")

    def validate(self, obj: Obj) -> list[Cause]:
        causes = []
        involved = obj.get("involvedObject") or {}
        meta = obj.get("metadata") or {}
        ns = involved.get("namespace")
        if ns and ns != meta.get("namespace") and meta.get("namespace") != "default":
            causes.append(field_invalid("involvedObject.namespace", ns,
                                        "does not match event.namespace"))
        return causes

    def field_attrs(self, obj: Obj) -> dict[str, str]:
        inv = obj.get("involvedObject") or {}
        source = obj.get("source") or {}
        attrs = {f"involvedObject.{k}": str(inv.get(k, "")) for k in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
        attrs.update({"reason": obj.get("reason", ""), "type": obj.get("type", ""),
                      "source": source.get("component", "") or obj.get("reportingComponent", ""),
                      "reportingComponent": obj.get("reportingComponent", "")})
        return attrs


def _container_defaults(container: dict[str, Any]) -> None:
    image = container.get("image", "")
    if "imagePullPolicy" not in container:
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


class PodStrategy(Strategy):
    has_status_subresource = True
    return_deleted_object = True

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("securityContext", {})
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300}])
        for group in ("containers", "initContainers"):
            for container in spec.get(group) or []:
                if isinstance(container, dict):
                    _container_defaults(container)

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [field_required("spec")]
        causes: list[Cause] = []
        containers = spec.get("containers")
        if not containers:
            causes.append(field_required("spec.containers"))
        names: set[str] = set()
        for group in ("initContainers", "containers"):
            for i, container in enumerate(spec.get(group) or []):
                path = f"spec.{group}[{i}]"
                name = container.get("name", "") if isinstance(container, dict) else ""
                if not name:
                    causes.append(field_required(f"{path}.name"))
                else:
                    causes += [field_invalid(f"{path}.name", name, m)
                               for m in is_dns1123_label(name)]
                    if name in names:
                        causes.append(errors.field_duplicate(f"{path}.name", name))
                    names.add(name)
                if isinstance(container, dict) and not container.get("image"):
                    causes.append(field_required(f"{path}.image"))
        policy = spec.get("restartPolicy")
        if policy not in ("Always", "OnFailure", "Never"):
            causes.append(errors.field_not_supported("spec.restartPolicy", policy,
                                                     ["Always", "OnFailure", "Never"]))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        mutable = _pod_mutable_view(new.get("spec") or {})
        if mutable != _pod_mutable_view(old.get("spec") or {}):
            causes.append(field_forbidden(
                "spec", "pod updates may not change fields other than `spec.containers[*].image`"
                ",`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)"))
        return causes

    def field_attrs(self, obj: Obj) -> dict[str, str]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        return {"spec.nodeName": spec.get("nodeName", ""),
                "spec.restartPolicy": spec.get("restartPolicy", ""),
                "spec.schedulerName": spec.get("schedulerName", ""),
                "spec.serviceAccountName": spec.get("serviceAccountName", ""),
                "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
                "status.phase": status.get("phase", ""),
                "status.podIP": status.get("podIP", ""),
                "status.nominatedNodeName": status.get("nominatedNodeName", "")}


def _pod_mutable_view(spec: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in spec.items()
            if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds",
                         "nodeName")}
    for group in ("containers", "initContainers"):
        if isinstance(view.get(group), list):
            view[group] = [{k: v for k, v in c.items() if k != "image"}
                           if isinstance(c, dict) else c for c in view[group]]
    return view


def _qos_class(spec: dict[str, Any]) -> str:
    containers = [c for c in (spec.get("containers") or []) if isinstance(c, dict)]
    requests_seen = limits_seen = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests_seen |= bool(req)
        limits_seen |= bool(lim)
        if not lim or set(lim) < {"cpu", "memory"} or any(req.get(k, lim[k]) != lim[k]
                                                          for k in lim):
            guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class ServiceStrategy(Strategy):
    has_status_subresource = True
    return_deleted_object = True

    def name_check(self, name: str) -> list[str]:
        return is_dns1035_label(name)

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        kind = spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if kind != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if kind in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "targetPort" not in port and "port" in port:
                    port["targetPort"] = port["port"]
                if kind in ("NodePort", "LoadBalancer") and "nodePort" not in port:
                    port["nodePort"] = random.randint(30000, 32767)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec") or {}
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            address = f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}"
            spec["clusterIP"] = address
            spec["clusterIPs"] = [address]
        elif spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        if isinstance(new_spec, dict) and not new_spec.get("clusterIP") and \
                old_spec.get("clusterIP"):
            new_spec["clusterIP"] = old_spec["clusterIP"]
            new_spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [field_required("spec")]
        causes: list[Cause] = []
        kinds = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        if spec.get("type") not in kinds:
            causes.append(errors.field_not_supported("spec.type", spec.get("type"), kinds))
        ports = spec.get("ports") or []
        if not ports and spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
            causes.append(field_required("spec.ports"))
        for i, port in enumerate(ports):
            number = port.get("port") if isinstance(port, dict) else None
            if not isinstance(number, int) or not 1 <= number <= 65535:
                causes.append(field_invalid(f"spec.ports[{i}].port", number,
                                            "must be between 1 and 65535, inclusive"))
            if len(ports) > 1 and isinstance(port, dict) and not port.get("name"):
                causes.append(field_required(f"spec.ports[{i}].name"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip != old_ip and (new.get("spec") or {}).get("type") != "ExternalName":
            causes.append(field_invalid("spec.clusterIPs[0]", new_ip, "may not change once set"))
        return causes


class EndpointsStrategy(Strategy):
    allow_create_on_update = True


class NodeStrategy(Strategy):
    has_status_subresource = True

    def prepare_for_create(self, obj: Obj) -> None:
        obj.setdefault("status", {})

    def field_attrs(self, obj: Obj) -> dict[str, str]:
        return {"spec.unschedulable":
                "true" if (obj.get("spec") or {}).get("unschedulable") else "false"}


def core_resources() -> list[ResourceDef]:
    def core(kind: str, plural: str, strategy: Strategy, namespaced: bool = True,
             **kw: Any) -> ResourceDef:
        return ResourceDef("", "v1", kind, plural, kind.lower(), namespaced, CORE + kind,
                           strategy, **kw)

    return [
        core("Namespace", "namespaces", NamespaceStrategy(), False, short_names=("ns",),
             subresources=("status", "finalize"), selectable_fields=("status.phase",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
        core("ConfigMap", "configmaps", ConfigMapStrategy(), short_names=("cm",)),
        core("Secret", "secrets", SecretStrategy(), selectable_fields=("type",)),
        core("ServiceAccount", "serviceaccounts", ServiceAccountStrategy(),
             short_names=("sa",)),
        core("Event", "events", EventStrategy(), short_names=("ev",),
             selectable_fields=tuple(EventStrategy().field_attrs({}))),
        core("Pod", "pods", PodStrategy(), short_names=("po",), categories=("all",),
             subresources=("status",), selectable_fields=tuple(PodStrategy().field_attrs({}))),
        core("Service", "services", ServiceStrategy(), short_names=("svc",),
             categories=("all",), subresources=("status",)),
        ResourceDef("", "v1", "Endpoints", "endpoints", "endpoints", True, CORE + "Endpoints",
                    EndpointsStrategy(), short_names=("ep",)),
        core("Node", "nodes", NodeStrategy(), False, short_names=("no",),
             subresources=("status",), selectable_fields=("spec.unschedulable",)),
    ]
