"""kubectl's table columns for each served type, computed by the server.

`kubectl get` asks for `application/json;as=Table;g=meta.k8s.io;v=v1` and prints the cells it is
given, so the columns and the cell rules (a pod's STATUS reason, a service's EXTERNAL-IP, ages)
are kube-apiserver's internal printers'. The server prints wide: priority-1 columns are always
filled and kubectl hides them unless `-o wide`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kapisup.apimachinery.duration import age, human_duration, parse_timestamp
from kapisup.apimachinery.selectors import format_labels

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One metav1.TableColumnDefinition."""

    name: str
    type: str
    format: str = ""
    description: str = ""
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")

NAME = Column("Name", "string", "name", NAME_DESCRIPTION)
AGE = Column("Age", "string", "", AGE_DESCRIPTION)


def _wide(name: str, description: str, type_: str = "string") -> Column:
    return Column(name, type_, "", description, 1)


def _col(name: str, description: str, type_: str = "string") -> Column:
    return Column(name, type_, "", description)


_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "namespaces"): [NAME, _col("Status", "The status of the namespace"), AGE],
    ("", "configmaps"): [NAME, _col("Data", "Data contains the configuration data."), AGE],
    ("", "secrets"): [
        NAME, _col("Type", "Used to facilitate programmatic handling of secret data."),
        _col("Data", "Data contains the secret data."), AGE],
    ("", "serviceaccounts"): [
        NAME, _col("Secrets", "Secrets is a list of the secrets in the same namespace that pods "
                              "running using this ServiceAccount are allowed to use."), AGE],
    ("", "events"): [
        _col("Last Seen", "The time at which the most recent occurrence of this event was "
                          "recorded."),
        _col("Type", "Type of this event (Normal, Warning), new types could be added in the "
                     "future"),
        _col("Reason", "This should be a short, machine understandable string that gives the "
                       "reason for the transition into the object's current status."),
        _col("Object", "The object that this event is about."),
        _wide("Subobject", "If referring to a piece of an object instead of an entire object, "
                           "this string should contain a valid JSON/Go field access statement."),
        _wide("Source", "The component reporting this event."),
        _col("Message", "A human-readable description of the status of this operation."),
        _wide("First Seen", "The time at which the event was first recorded."),
        _wide("Count", "The number of times this event has occurred."),
        Column("Name", "string", "name", NAME_DESCRIPTION, 1),
    ],
    ("", "pods"): [
        NAME,
        _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "The aggregate status of the containers in this pod."),
        _col("Restarts", "The number of times the containers in this pod have been restarted "
                         "and when the last container in this pod has restarted."),
        AGE,
        _wide("IP", "podIP address allocated to the pod."),
        _wide("Node", "NodeName indicates in which node this pod is scheduled."),
        _wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods "
                                "on the node."),
        _wide("Readiness Gates", "If specified, all readiness gates will be evaluated for pod "
                                 "readiness."),
    ],
    ("", "services"): [
        NAME,
        _col("Type", "type determines how the Service is exposed."),
        _col("Cluster-IP", "clusterIP is the IP address of the service."),
        _col("External-IP", "externalIPs is a list of IP addresses for which nodes in the "
                            "cluster will also accept traffic for this service."),
        _col("Port(s)", "The list of ports that are exposed by this service."),
        AGE,
        _wide("Selector", "Route service traffic to pods with label keys and values matching "
                          "this selector."),
    ],
    ("", "endpoints"): [
        NAME,
        _col("Endpoints", "The set of all endpoints is the union of all subsets."),
        AGE,
    ],
    ("", "nodes"): [
        NAME,
        _col("Status", "The status of the node"),
        _col("Roles", "The roles of the node"),
        AGE,
        _col("Version", "Kubelet Version reported by the node."),
        _wide("Internal-IP", "List of addresses reachable to the node."),
        _wide("External-IP", "List of addresses reachable to the node."),
        _wide("OS-Image", "OS Image reported by the node from /etc/os-release."),
        _wide("Kernel-Version", "Kernel Version reported by the node from 'uname -r'."),
        _wide("Container-Runtime", "ContainerRuntime Version reported by the node through "
                                   "runtime remote API."),
    ],
    ("coordination.k8s.io", "leases"): [
        NAME,
        _col("Holder", "holderIdentity contains the identity of the holder of a current lease."),
        AGE,
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        NAME, Column("Created At", "date", "", AGE_DESCRIPTION)],
    ("rbac.authorization.k8s.io", "roles"): [
        NAME, Column("Created At", "date", "", AGE_DESCRIPTION)],
    ("rbac.authorization.k8s.io", "rolebindings"): [
        NAME, _col("Role", "RoleRef can reference a Role in the current namespace or a "
                           "ClusterRole in the global namespace. If the RoleRef cannot be "
                           "resolved, the Authorizer must return an error. This field is "
                           "immutable."), AGE,
        _wide("Users", "Users in the roleBinding"),
        _wide("Groups", "Groups in the roleBinding"),
        _wide("ServiceAccounts", "ServiceAccounts in the roleBinding")],
}
_COLUMNS[("rbac.authorization.k8s.io", "clusterroles")] = \
    _COLUMNS[("rbac.authorization.k8s.io", "roles")]
_COLUMNS[("rbac.authorization.k8s.io", "clusterrolebindings")] = \
    _COLUMNS[("rbac.authorization.k8s.io", "rolebindings")]
_COLUMNS[("events.k8s.io", "events")] = _COLUMNS[("", "events")]

DEFAULT_COLUMNS = [NAME, Column("Age", "date", "", AGE_DESCRIPTION)]


def columns_for(resource: str, group: str) -> list[Column]:
    """The table columns of a built-in resource; Name and Age for anything else."""
    return list(_COLUMNS.get((group, resource), DEFAULT_COLUMNS))


def cells_for(resource: str, group: str, obj: Obj, now: float) -> list[Any]:
    """One row's cells, wide, in `columns_for` order; `now` is seconds since the epoch."""
    printer = _PRINTERS.get((group, resource))
    if printer is None:
        return [_name(obj), age(_meta(obj).get("creationTimestamp"), now)]
    return printer(obj, now)


def row_conditions(resource: str, group: str, obj: Obj) -> list[dict[str, str]] | None:
    """TableRow conditions: kube marks finished pods Completed so kubectl can hide them."""
    if (group, resource) != ("", "pods"):
        return None
    phase = _get(obj, "status", "phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]
    return None


# --- small helpers ---------------------------------------------------------------------------


def _get(obj: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(obj, list) or not -len(obj) <= step < len(obj):
                return None
            obj = obj[step]
        else:
            if not isinstance(obj, Mapping):
                return None
            obj = obj.get(step)
    return obj


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Obj) -> str:
    return _str(_meta(obj).get("name"))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _age(obj: Obj, now: float) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


# --- per-type printers -----------------------------------------------------------------------


def _namespace(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _str(_get(obj, "status", "phase")), _age(obj, now)]


def _configmap(obj: Obj, now: float) -> list[Any]:
    count = len(_dict(obj.get("data"))) + len(_dict(obj.get("binaryData")))
    return [_name(obj), count, _age(obj, now)]


def _secret(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _str(obj.get("type")), len(_dict(obj.get("data"))), _age(obj, now)]


def _serviceaccount(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), len(_list(obj.get("secrets"))), _age(obj, now)]


def _lease(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _str(_get(obj, "spec", "holderIdentity")), _age(obj, now)]


def _crd(obj: Obj, now: float) -> list[Any]:
    """The default table convertor: creation time as RFC 3339 UTC, not an age."""
    when = parse_timestamp(_meta(obj).get("creationTimestamp"))
    if when is None:
        created = "0001-01-01T00:00:00Z"
    else:
        created = datetime.fromtimestamp(math.floor(when), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [_name(obj), created]


def _role(obj: Obj, now: float) -> list[Any]:
    """Roles print their creation time as RFC 3339 UTC, as kube's role printer does."""
    return _crd(obj, now)


def _role_binding(obj: Obj, now: float) -> list[Any]:
    """ROLE is Kind/name; wide: users, groups and namespace/name of service accounts."""
    ref = _dict(obj.get("roleRef"))
    users, groups, accounts = [], [], []
    for subject in _list(obj.get("subjects")):
        subject = _dict(subject)
        kind, name = subject.get("kind"), _str(subject.get("name"))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{_str(subject.get('namespace'))}/{name}")
    return [_name(obj), f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}", _age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(accounts)]


def _event(obj: Obj, now: float) -> list[Any]:
    first = age(obj.get("firstTimestamp"), now)
    if parse_timestamp(obj.get("firstTimestamp")) is None:
        first = age(obj.get("eventTime"), now)
    last = age(obj.get("lastTimestamp"), now)
    if parse_timestamp(obj.get("lastTimestamp")) is None:
        last = first
    count = _int(obj.get("count"))
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = age(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = _dict(obj.get("involvedObject"))
    kind = _str(involved.get("kind")).lower()
    target = f"{kind}/{involved['name']}" if _str(involved.get("name")) else kind
    source = _dict(obj.get("source"))
    component = _str(source.get("component")) or _str(obj.get("reportingController"))
    instance = _str(source.get("host")) or _str(obj.get("reportingInstance"))
    source_text = f"{component}, {instance}" if instance else component
    return [last, _str(obj.get("type")), _str(obj.get("reason")), target,
            _str(involved.get("fieldPath")), source_text, _str(obj.get("message")).strip(),
            first, count, _name(obj)]


def _events_k8s_io(obj: Obj, now: float) -> list[Any]:
    """events.k8s.io/v1 Events print as core Events, their fields under the old names."""
    core = {
        "metadata": obj.get("metadata"),
        "involvedObject": obj.get("regarding"),
        "reason": obj.get("reason"),
        "message": obj.get("note"),
        "type": obj.get("type"),
        "source": obj.get("deprecatedSource"),
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingController": obj.get("reportingController"),
        "reportingInstance": obj.get("reportingInstance"),
    }
    return _event(core, now)


def _endpoints(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), format_endpoints(obj), _age(obj, now)]


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(obj: Obj, limit: int = 3) -> str:
    """`ip:port` for each address and port, three at most then `+ N more...`."""
    subsets = _list(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    more = False
    count = 0
    for subset in subsets:
        addresses = _list(_dict(subset).get("addresses"))
        ports = _list(_dict(subset).get("ports"))
        if not ports:  # headless services may have no ports
            count += len(addresses)
            for address in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_str(_dict(address).get("ip")))
            continue
        for port in ports:
            count += len(addresses)
            for address in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_join_host_port(_str(_dict(address).get("ip")),
                                             _int(_dict(port).get("port"))))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _load_balancer_ips(service: Obj) -> str:
    found = set()
    for ingress in _list(_get(service, "status", "loadBalancer", "ingress")):
        ip, hostname = _str(_dict(ingress).get("ip")), _str(_dict(ingress).get("hostname"))
        if ip:
            found.add(ip)
        elif hostname:
            found.add(hostname)
    return ",".join(sorted(found))


def service_external_ip(service: Obj) -> str:
    spec = _dict(service.get("spec"))
    external = [_str(ip) for ip in _list(spec.get("externalIPs"))]
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer_ips(service)
        if external:
            return ",".join([*(balancer.split(",") if balancer else []), *external])
        return balancer or "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


def _service_ports(spec: Mapping[str, Any]) -> str:
    pieces = []
    for port in _list(spec.get("ports")):
        port = _dict(port)
        number, protocol = _int(port.get("port")), _str(port.get("protocol"))
        node_port = _int(port.get("nodePort"))
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0
                      else f"{number}/{protocol}")
    return ",".join(pieces) or "<none>"


def _service(obj: Obj, now: float) -> list[Any]:
    spec = _dict(obj.get("spec"))
    cluster_ips = _list(spec.get("clusterIPs"))
    internal = _str(cluster_ips[0]) if cluster_ips else "<none>"
    return [_name(obj), _str(spec.get("type")), internal, service_external_ip(obj),
            _service_ports(spec), _age(obj, now), format_labels(_dict(spec.get("selector")))]


NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def node_roles(node: Obj) -> list[str]:
    roles = set()
    for key, value in _dict(_meta(node).get("labels")).items():
        if key.startswith(NODE_ROLE_PREFIX):
            role = key[len(NODE_ROLE_PREFIX):]
            if role:
                roles.add(role)
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: Obj, kind: str) -> str:
    for address in _list(_get(node, "status", "addresses")):
        if _dict(address).get("type") == kind:
            return _str(_dict(address).get("address"))
    return "<none>"


def _node(obj: Obj, now: float) -> list[Any]:
    status: list[str] = []
    ready = None
    for condition in _list(_get(obj, "status", "conditions")):
        if _dict(condition).get("type") == "Ready":
            ready = _dict(condition)  # the last one wins, as in kube's map
    if ready is not None:
        status.append("Ready" if ready.get("status") == "True" else "NotReady")
    else:
        status.append("Unknown")
    if _get(obj, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    info = _dict(_get(obj, "status", "nodeInfo"))
    return [_name(obj), ",".join(status), ",".join(node_roles(obj)) or "<none>", _age(obj, now),
            _str(info.get("kubeletVersion")),
            _node_address(obj, "InternalIP"), _node_address(obj, "ExternalIP"),
            _str(info.get("osImage")) or "<unknown>",
            _str(info.get("kernelVersion")) or "<unknown>",
            _str(info.get("containerRuntimeVersion")) or "<unknown>"]


# --- pods ------------------------------------------------------------------------------------


def _condition_true(status: Mapping[str, Any], kind: str) -> bool:
    return any(_dict(c).get("type") == kind and _dict(c).get("status") == "True"
               for c in _list(status.get("conditions")))


def _terminated_reason(terminated: Mapping[str, Any], prefix: str) -> str:
    reason = _str(terminated.get("reason"))
    if reason:
        return prefix + reason
    signal = _int(terminated.get("signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


def _finished_at(status: Mapping[str, Any]) -> float | None:
    return parse_timestamp(_get(status, "lastState", "terminated", "finishedAt"))


def _later(current: float | None, candidate: float | None) -> float | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def pod_cells(pod: Obj, now: float) -> list[Any]:
    """Ready, the STATUS reason, restarts with the last restart's age, kube's way."""
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    containers = _list(spec.get("containers"))
    init_specs = [_dict(c) for c in _list(spec.get("initContainers"))]
    restartable = {_str(c.get("name")) for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(containers) + sum(1 for c in init_specs if c.get("restartPolicy") == "Always")
    ready = 0
    restarts = restartable_restarts = 0
    last_restart: float | None = None
    last_restartable_restart: float | None = None

    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    for condition in _list(status.get("conditions")):
        condition = _dict(condition)
        if condition.get("type") == "PodScheduled" and \
                condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    for index, container in enumerate(_list(status.get("initContainerStatuses"))):
        container = _dict(container)
        count = _int(container.get("restartCount"))
        restarts += count
        last_restart = _later(last_restart, _finished_at(container))
        is_restartable = _str(container.get("name")) in restartable
        if is_restartable:
            restartable_restarts += count
            last_restartable_restart = _later(last_restartable_restart,
                                              _finished_at(container))
        state = _dict(container.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, Mapping) and _int(terminated.get("exitCode")) == 0:
            continue
        if is_restartable and container.get("started") is True:
            if container.get("ready") is True:
                ready += 1
            continue
        if isinstance(terminated, Mapping):
            reason = _terminated_reason(terminated, "Init:")
        elif isinstance(waiting, Mapping) and _str(waiting.get("reason")) and \
                waiting.get("reason") != "PodInitializing":
            reason = "Init:" + _str(waiting.get("reason"))
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for container in reversed(_list(status.get("containerStatuses"))):
            container = _dict(container)
            restarts += _int(container.get("restartCount"))
            last_restart = _later(last_restart, _finished_at(container))
            state = _dict(container.get("state"))
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if isinstance(waiting, Mapping) and _str(waiting.get("reason")):
                reason = _str(waiting.get("reason"))
            elif isinstance(terminated, Mapping):
                reason = _terminated_reason(terminated, "")
            elif container.get("ready") is True and isinstance(state.get("running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = _list(status.get("podIPs"))
    pod_ip = _str(_dict(pod_ips[0]).get("ip")) if pod_ips else ""
    gates = _list(spec.get("readinessGates"))
    gates_text = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            wanted = _dict(gate).get("conditionType")
            for condition in _list(status.get("conditions")):
                if _dict(condition).get("type") == wanted:
                    true_count += _dict(condition).get("status") == "True"
                    break
        gates_text = f"{true_count}/{len(gates)}"
    return [_name(pod), f"{ready}/{total}", reason, restarts_text, _age(pod, now),
            pod_ip or "<none>", _str(spec.get("nodeName")) or "<none>",
            _str(status.get("nominatedNodeName")) or "<none>", gates_text]


_PRINTERS: dict[tuple[str, str], Callable[[Obj, float], list[Any]]] = {
    ("", "namespaces"): _namespace,
    ("", "configmaps"): _configmap,
    ("", "secrets"): _secret,
    ("", "serviceaccounts"): _serviceaccount,
    ("", "events"): _event,
    ("events.k8s.io", "events"): _events_k8s_io,
    ("", "pods"): pod_cells,
    ("", "services"): _service,
    ("", "endpoints"): _endpoints,
    ("", "nodes"): _node,
    ("coordination.k8s.io", "leases"): _lease,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _crd,
    ("rbac.authorization.k8s.io", "roles"): _role,
    ("rbac.authorization.k8s.io", "clusterroles"): _role,
    ("rbac.authorization.k8s.io", "rolebindings"): _role_binding,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _role_binding,
}


# --- CRD additionalPrinterColumns ------------------------------------------------------------


class JSONPathError(ValueError):
    """A printer-column path outside the subset served here."""


_Step = tuple[str, Any]  # ("field", name) | ("index", n) | ("all", None) | ("filter", (...))
_FIELD_NAME = re.compile(r"[A-Za-z0-9_\-$/]+")
_FILTER = re.compile(
    r"\?\(\s*@((?:\.[A-Za-z0-9_\-$/]+)+)\s*"  # ?(@.a.b
    r"""(?:(==|!=)\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^)\s]+)\s*)?\)\Z""")  # == "v")


def parse_json_path(text: str) -> list[_Step]:
    """The JSONPath subset CRD columns use: `.a.b`, `[0]`, `['x.y']`, `[*]`, `[?(@.k=="v")]`."""
    path = text.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1].strip()
    if path.startswith("$"):
        path = path[1:]
    steps: list[_Step] = []
    position = 0
    while position < len(path):
        char = path[position]
        if char == ".":
            position += 1
            if path.startswith("*", position):
                steps.append(("all", None))
                position += 1
                continue
            match = _FIELD_NAME.match(path, position)
            if not match:
                raise JSONPathError(f"unrecognized path {text!r}")
            steps.append(("field", match.group()))
            position = match.end()
        elif char == "[":
            end = _closing_bracket(path, position)
            inner = path[position + 1:end].strip()
            position = end + 1
            steps.append(_bracket_step(inner, text))
        else:
            raise JSONPathError(f"unrecognized path {text!r}")
    return steps


def _closing_bracket(path: str, start: int) -> int:
    quote = ""
    for index in range(start + 1, len(path)):
        char = path[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "]":
            return index
    raise JSONPathError(f"unclosed bracket in {path!r}")


def _bracket_step(inner: str, text: str) -> _Step:
    if inner == "*":
        return ("all", None)
    if re.fullmatch(r"-?[0-9]+", inner):
        return ("index", int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("field", inner[1:-1])
    match = _FILTER.match(inner)
    if match:
        keys = match.group(1).split(".")[1:]
        operator = match.group(2)
        literal = _literal(match.group(3)) if operator else None
        return ("filter", (keys, operator, literal))
    raise JSONPathError(f"unsupported expression [{inner}] in {text!r}")


def _literal(token: str) -> Any:
    if token[0] in "'\"":
        return token[1:-1] if token[0] == "'" else json.loads(token)
    if token in ("true", "false"):
        return token == "true"
    try:
        return json.loads(token)
    except ValueError:
        return token


def evaluate_json_path(steps: list[_Step], obj: Any) -> list[Any]:
    """Every value the path reaches; missing keys give no result (kube allows missing keys)."""
    current = [obj]
    for kind, arg in steps:
        following: list[Any] = []
        for value in current:
            if kind == "field":
                if isinstance(value, Mapping) and arg in value:
                    following.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    following.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, Mapping):
                    following.extend(value[k] for k in sorted(value))
            else:
                items = value if isinstance(value, list) else []
                following.extend(item for item in items if _filter_matches(item, arg))
        current = following
    return current


def _filter_matches(item: Any, condition: tuple[list[str], str | None, Any]) -> bool:
    keys, operator, literal = condition
    value: Any = item
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return False
        value = value[key]
    if operator is None:
        return value is not None
    equal = value == literal and isinstance(value, bool) == isinstance(literal, bool)
    return equal if operator == "==" else not equal


def _go_text(value: Any) -> str | None:
    """How kube's JSONPath printer writes a value: Go's fmt for the decoded JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{k}:{_go_text(value[k]) or '<nil>'}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v) or "<nil>" for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's %v of a float64: shortest form, exponent past 1e21 or below 1e-4."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


def _typed_cell(column_type: str, value: Any, now: float) -> Any:
    """Kube's cellForJSONValue: the JSON value if it fits the column's type, else null."""
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if column_type == "integer" and is_number:
        return int(value)
    if column_type == "number" and is_number:
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        if parse_timestamp(value) is None:
            return "<invalid>"
        return age(value, now)
    return None


@dataclass(frozen=True, slots=True)
class _CustomColumn:
    column: Column
    steps: list[_Step]


class CustomColumns:
    """A custom resource's printer: Name, then its CRD's additionalPrinterColumns."""

    def __init__(self, columns: list[_CustomColumn], *, fallback: bool = False):
        self._columns = columns
        self._fallback = fallback
        self.columns: list[Column] = (
            columns_for("customresourcedefinitions", "apiextensions.k8s.io") if fallback
            else [NAME, *(c.column for c in columns)])

    def cells(self, obj: Obj, now: float) -> list[Any]:
        if self._fallback:
            return _crd(obj, now)
        cells: list[Any] = [_name(obj)]
        for custom in self._columns:
            results = evaluate_json_path(custom.steps, obj)
            if not results:
                cells.append(None)
                continue
            value = results[0]
            if custom.column.type == "string":
                cells.append(_go_text(value))
            else:
                cells.append(_typed_cell(custom.column.type, value, now))
        return cells


_DEFAULT_PRINTER_COLUMNS = [{"name": "Age", "type": "date", "description": AGE_DESCRIPTION,
                             "jsonPath": ".metadata.creationTimestamp"}]


def custom_columns(printer_columns: list[Mapping[str, Any]] | None) -> CustomColumns:
    """Columns from a CRD version's additionalPrinterColumns; none means a single Age column.

    A path outside the supported subset does not fail the request: like kube with a printer it
    cannot build, the resource falls back to the default Name and Created At columns.
    """
    specs = list(printer_columns or []) or _DEFAULT_PRINTER_COLUMNS
    columns = []
    for spec in specs:
        json_path = _str(spec.get("jsonPath"))
        description = _str(spec.get("description")) or (
            f"Custom resource definition column (in JSONPath format): {json_path}")
        column = Column(_str(spec.get("name")), _str(spec.get("type")), _str(spec.get("format")),
                        description, _int(spec.get("priority")))
        try:
            steps = parse_json_path(json_path)
        except JSONPathError:
            return CustomColumns([], fallback=True)
        columns.append(_CustomColumn(column, steps))
    return CustomColumns(columns)
