"""Server-side Table columns and cells for each served type, against realistic objects."""

from __future__ import annotations

import copy

import pytest

from kapisup.apimachinery.duration import parse_timestamp
from kapisup.registry.printers import (
    Column,
    JSONPathError,
    cells_for,
    columns_for,
    custom_columns,
    evaluate_json_path,
    parse_json_path,
    row_conditions,
)

NOW = parse_timestamp("2026-03-01T12:00:00Z")
CREATED = "2026-02-26T08:00:00Z"  # 3d4h before NOW
CREATED_AGE = "3d4h"


def names(columns: list[Column]) -> list[str]:
    return [c.name for c in columns]


def check_shape(resource: str, group: str, obj: dict) -> list:
    """Every row has one cell per column; returns the cells."""
    cells = cells_for(resource, group, obj, NOW)
    assert len(cells) == len(columns_for(resource, group))
    return cells


def test_column_definition_json() -> None:
    name = columns_for("pods", "")[0]
    assert name.as_dict()["format"] == "name"
    assert name.as_dict()["priority"] == 0
    assert name.as_dict()["type"] == "string"
    assert name.description.startswith("Name must be unique within a namespace.")
    assert set(name.as_dict()) == {"name", "type", "format", "description", "priority"}


@pytest.mark.parametrize(("resource", "group", "normal", "wide"), [
    ("namespaces", "", ["Name", "Status", "Age"], []),
    ("configmaps", "", ["Name", "Data", "Age"], []),
    ("secrets", "", ["Name", "Type", "Data", "Age"], []),
    ("serviceaccounts", "", ["Name", "Secrets", "Age"], []),
    ("events", "", ["Last Seen", "Type", "Reason", "Object", "Message"],
     ["Subobject", "Source", "First Seen", "Count", "Name"]),
    ("pods", "", ["Name", "Ready", "Status", "Restarts", "Age"],
     ["IP", "Node", "Nominated Node", "Readiness Gates"]),
    ("services", "", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"],
     ["Selector"]),
    ("endpoints", "", ["Name", "Endpoints", "Age"], []),
    ("nodes", "", ["Name", "Status", "Roles", "Age", "Version"],
     ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]),
    ("leases", "coordination.k8s.io", ["Name", "Holder", "Age"], []),
    ("customresourcedefinitions", "apiextensions.k8s.io", ["Name", "Created At"], []),
    ("widgets", "example.com", ["Name", "Age"], []),
    ("leases", "", ["Name", "Age"], []),  # group matters
])
def test_columns(resource: str, group: str, normal: list[str], wide: list[str]) -> None:
    columns = columns_for(resource, group)
    assert [c.name for c in columns if c.priority == 0] == normal
    assert [c.name for c in columns if c.priority == 1] == wide
    assert all(c.priority in (0, 1) for c in columns)
    name_columns = [c for c in columns if c.name == "Name"]
    assert [c.format for c in name_columns] == ["name"]


def test_event_columns_keep_kubes_order() -> None:
    assert names(columns_for("events", "")) == [
        "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen",
        "Count", "Name"]


def test_columns_for_returns_a_copy() -> None:
    columns_for("pods", "").clear()
    assert len(columns_for("pods", "")) == 9


# --- simple types ----------------------------------------------------------------------------


def test_namespace() -> None:
    ns = {"metadata": {"name": "kube-system", "creationTimestamp": CREATED},
          "status": {"phase": "Active"}}
    assert check_shape("namespaces", "", ns) == ["kube-system", "Active", CREATED_AGE]
    terminating = {"metadata": {"name": "old"}, "status": {"phase": "Terminating"}}
    assert check_shape("namespaces", "", terminating) == ["old", "Terminating", "<unknown>"]


def test_configmap_counts_data_and_binary_data() -> None:
    cm = {"metadata": {"name": "cfg", "creationTimestamp": "2026-03-01T11:55:00Z"},
          "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AAE="}}
    assert check_shape("configmaps", "", cm) == ["cfg", 3, "5m"]
    assert check_shape("configmaps", "", {"metadata": {"name": "e"}}) == ["e", 0, "<unknown>"]


def test_secret() -> None:
    secret = {"metadata": {"name": "tls", "creationTimestamp": "2026-03-01T11:59:30Z"},
              "type": "kubernetes.io/tls", "data": {"tls.crt": "eA==", "tls.key": "eQ=="}}
    assert check_shape("secrets", "", secret) == ["tls", "kubernetes.io/tls", 2, "30s"]


def test_serviceaccount() -> None:
    sa = {"metadata": {"name": "default", "creationTimestamp": CREATED},
          "secrets": [{"name": "default-token"}]}
    assert check_shape("serviceaccounts", "", sa) == ["default", 1, CREATED_AGE]
    assert check_shape("serviceaccounts", "", {"metadata": {"name": "x"}})[1] == 0


def test_lease() -> None:
    lease = {"metadata": {"name": "kube-scheduler", "creationTimestamp": CREATED},
             "spec": {"holderIdentity": "node-1_0f3c", "leaseDurationSeconds": 15}}
    assert check_shape("leases", "coordination.k8s.io", lease) == [
        "kube-scheduler", "node-1_0f3c", CREATED_AGE]
    unheld = {"metadata": {"name": "free", "creationTimestamp": CREATED}, "spec": {}}
    assert check_shape("leases", "coordination.k8s.io", unheld)[1] == ""


def test_crd_prints_created_at_in_utc() -> None:
    crd = {"metadata": {"name": "widgets.example.com",
                        "creationTimestamp": "2026-02-26T09:00:00+01:00"}}
    assert check_shape("customresourcedefinitions", "apiextensions.k8s.io", crd) == [
        "widgets.example.com", "2026-02-26T08:00:00Z"]
    assert columns_for("customresourcedefinitions", "apiextensions.k8s.io")[1].type == "date"


def test_default_printer_for_unknown_types() -> None:
    obj = {"metadata": {"name": "thing", "creationTimestamp": CREATED}}
    assert check_shape("widgets", "example.com", obj) == ["thing", CREATED_AGE]
    assert check_shape("widgets", "example.com", {"metadata": {"name": "t"}}) == ["t", "<unknown>"]


# --- endpoints, services, nodes --------------------------------------------------------------


def test_endpoints() -> None:
    ep = {"metadata": {"name": "web", "creationTimestamp": CREATED},
          "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                       "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}
    assert check_shape("endpoints", "", ep) == ["web", "10.0.0.1:80,10.0.0.2:80", CREATED_AGE]


def test_endpoints_truncate_after_three_and_bracket_ipv6() -> None:
    ep = {"metadata": {"name": "big"},
          "subsets": [{"addresses": [{"ip": "fd00::1"}, {"ip": "10.0.0.2"}],
                       "ports": [{"port": 80}, {"port": 443}]}]}
    assert cells_for("endpoints", "", ep, NOW)[1] == \
        "[fd00::1]:80,10.0.0.2:80,[fd00::1]:443 + 1 more..."
    headless = {"metadata": {"name": "h"}, "subsets": [{"addresses": [{"ip": "10.1.1.1"}]}]}
    assert cells_for("endpoints", "", headless, NOW)[1] == "10.1.1.1"
    assert cells_for("endpoints", "", {"metadata": {"name": "n"}}, NOW)[1] == "<none>"


def service(**spec: object) -> dict:
    return {"metadata": {"name": "web", "creationTimestamp": CREATED}, "spec": dict(spec)}


def test_cluster_ip_service() -> None:
    svc = service(type="ClusterIP", clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"],
                  ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                         {"name": "dns-tcp", "port": 53, "protocol": "TCP"}],
                  selector={"k8s-app": "kube-dns", "a": "b"})
    assert check_shape("services", "", svc) == [
        "web", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", CREATED_AGE,
        "a=b,k8s-app=kube-dns"]


def test_headless_and_portless_service() -> None:
    svc = service(type="ClusterIP", clusterIP="None", clusterIPs=["None"])
    assert check_shape("services", "", svc)[2:7] == [
        "None", "<none>", "<none>", CREATED_AGE, "<none>"]


def test_node_port_and_load_balancer_services() -> None:
    node_port = service(type="NodePort", clusterIPs=["10.96.1.1"], externalIPs=["1.2.3.4"],
                        ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}])
    cells = check_shape("services", "", node_port)
    assert cells[3:5] == ["1.2.3.4", "80:30080/TCP"]
    pending = service(type="LoadBalancer", clusterIPs=["10.96.1.2"],
                      ports=[{"port": 443, "nodePort": 31443, "protocol": "TCP"}])
    assert check_shape("services", "", pending)[3] == "<pending>"
    ready = copy.deepcopy(pending)
    ready["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"},
                                                    {"hostname": "lb.example.com"}]}}
    assert check_shape("services", "", ready)[3] == "203.0.113.9,lb.example.com"
    ready["spec"]["externalIPs"] = ["198.51.100.1"]
    assert check_shape("services", "", ready)[3] == "203.0.113.9,lb.example.com,198.51.100.1"


def test_external_name_service() -> None:
    svc = service(type="ExternalName", externalName="db.example.com")
    assert check_shape("services", "", svc)[1:5] == [
        "ExternalName", "<none>", "db.example.com", "<none>"]


def node(**extra: object) -> dict:
    base: dict = {
        "metadata": {"name": "node-1", "creationTimestamp": CREATED,
                     "labels": {"node-role.kubernetes.io/control-plane": "",
                                "node-role.kubernetes.io/worker": "",
                                "kubernetes.io/role": "infra",
                                "kubernetes.io/hostname": "node-1"}},
        "spec": {},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                          {"type": "Hostname", "address": "node-1"}],
            "nodeInfo": {"kubeletVersion": "v1.31.2", "osImage": "Debian GNU/Linux 12",
                         "kernelVersion": "6.1.0-26-amd64",
                         "containerRuntimeVersion": "containerd://1.7.22"},
        },
    }
    for key, value in extra.items():
        base[key].update(value)
    return base


def test_node() -> None:
    assert check_shape("nodes", "", node()) == [
        "node-1", "Ready", "control-plane,infra,worker", CREATED_AGE, "v1.31.2", "192.168.1.10",
        "<none>", "Debian GNU/Linux 12", "6.1.0-26-amd64", "containerd://1.7.22"]


def test_node_status_variants() -> None:
    cordoned = node(spec={"unschedulable": True})
    cordoned["status"]["conditions"][1]["status"] = "Unknown"
    assert cells_for("nodes", "", cordoned, NOW)[1] == "NotReady,SchedulingDisabled"
    fresh = {"metadata": {"name": "new"}, "status": {}}
    assert cells_for("nodes", "", fresh, NOW) == [
        "new", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>",
        "<unknown>", "<unknown>"]


# --- events ----------------------------------------------------------------------------------


def test_core_event() -> None:
    event = {
        "metadata": {"name": "web-7d4.17f", "creationTimestamp": CREATED},
        "involvedObject": {"kind": "Pod", "name": "web-7d4", "fieldPath": "spec.containers{web}"},
        "reason": "BackOff", "type": "Warning",
        "message": "  Back-off restarting failed container\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2026-03-01T11:00:00Z", "lastTimestamp": "2026-03-01T11:58:00Z",
        "count": 12,
    }
    assert check_shape("events", "", event) == [
        "2m", "Warning", "BackOff", "pod/web-7d4", "spec.containers{web}", "kubelet, node-1",
        "Back-off restarting failed container", "60m", 12, "web-7d4.17f"]


def test_new_style_event_uses_event_time_series_and_reporting_controller() -> None:
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Node"},
        "reason": "Starting", "type": "Normal", "message": "Starting kubelet.",
        "eventTime": "2026-03-01T11:59:50.123456Z",
        "reportingController": "kubelet", "reportingInstance": "node-1",
    }
    cells = check_shape("events", "", event)
    assert cells == ["9s", "Normal", "Starting", "node", "", "kubelet, node-1",
                     "Starting kubelet.", "9s", 1, "e1"]
    event["series"] = {"count": 4, "lastObservedTime": "2026-03-01T11:59:58.000000Z"}
    cells = check_shape("events", "", event)
    assert (cells[0], cells[8]) == ("2s", 4)


def test_events_k8s_io_event_prints_like_core() -> None:
    event = {
        "metadata": {"name": "e2", "creationTimestamp": CREATED},
        "regarding": {"kind": "Deployment", "name": "web"},
        "reason": "ScalingReplicaSet", "type": "Normal", "note": "Scaled up to 3",
        "eventTime": "2026-03-01T11:30:00.000000Z", "reportingController":
            "deployment-controller", "reportingInstance": "",
        "deprecatedCount": 2,
    }
    assert check_shape("events", "events.k8s.io", event) == [
        "30m", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
        "Scaled up to 3", "30m", 2, "e2"]


# --- pods ------------------------------------------------------------------------------------


def running_container(name: str, restarts: int = 0, ready: bool = True) -> dict:
    return {"name": name, "ready": ready, "restartCount": restarts, "started": True,
            "state": {"running": {"startedAt": "2026-03-01T10:00:00Z"}}}


def pod(containers: int = 1, status: dict | None = None, **meta: object) -> dict:
    return {
        "metadata": {"name": "web-7d4", "namespace": "default", "creationTimestamp": CREATED,
                     **meta},
        "spec": {"nodeName": "node-1",
                 "containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]},
        "status": status or {},
    }


def test_running_pod_with_wide_columns() -> None:
    p = pod(2, {"phase": "Running", "podIP": "10.244.1.5",
                "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [running_container("c0"), running_container("c1")]})
    assert check_shape("pods", "", p) == [
        "web-7d4", "2/2", "Running", "0", CREATED_AGE, "10.244.1.5", "node-1", "<none>",
        "<none>"]
    assert row_conditions("pods", "", p) is None


def test_pending_pod() -> None:
    p = pod(1, {"phase": "Pending"})
    p["spec"].pop("nodeName")
    assert check_shape("pods", "", p) == [
        "web-7d4", "0/1", "Pending", "0", CREATED_AGE, "<none>", "<none>", "<none>", "<none>"]


def test_scheduling_gated_pod() -> None:
    p = pod(1, {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
    assert cells_for("pods", "", p, NOW)[2] == "SchedulingGated"


def test_crash_looping_pod_shows_restarts_with_last_restart_age() -> None:
    status = {"phase": "Running", "containerStatuses": [{
        "name": "c0", "ready": False, "restartCount": 7,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                     "finishedAt": "2026-03-01T11:57:00Z"}}}]}
    cells = cells_for("pods", "", pod(1, status), NOW)
    assert cells[1:4] == ["0/1", "CrashLoopBackOff", "7 (3m ago)"]


def test_completed_pod_and_row_condition() -> None:
    status = {"phase": "Succeeded", "containerStatuses": [{
        "name": "c0", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    p = pod(1, status)
    assert cells_for("pods", "", p, NOW)[1:4] == ["0/1", "Completed", "0"]
    assert row_conditions("pods", "", p) == [{
        "type": "Completed", "status": "True", "reason": "Succeeded",
        "message": "The pod has completed successfully."}]
    failed = pod(1, {"phase": "Failed"})
    assert row_conditions("pods", "", failed)[0]["reason"] == "Failed"
    assert row_conditions("configmaps", "", failed) is None


def test_terminated_without_reason_shows_signal_or_exit_code() -> None:
    signalled = {"phase": "Failed", "containerStatuses": [{
        "name": "c0", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}
    assert cells_for("pods", "", pod(1, signalled), NOW)[2] == "Signal:9"
    exited = {"phase": "Failed", "containerStatuses": [{
        "name": "c0", "state": {"terminated": {"exitCode": 2}}}]}
    assert cells_for("pods", "", pod(1, exited), NOW)[2] == "ExitCode:2"


def test_completed_container_beside_a_running_one_reads_running_or_not_ready() -> None:
    statuses = [running_container("c0"),
                {"name": "c1", "ready": False,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    ready = {"phase": "Running", "containerStatuses": statuses,
             "conditions": [{"type": "Ready", "status": "True"}]}
    assert cells_for("pods", "", pod(2, ready), NOW)[1:3] == ["1/2", "Running"]
    not_ready = {"phase": "Running", "containerStatuses": statuses,
                 "conditions": [{"type": "Ready", "status": "False"}]}
    assert cells_for("pods", "", pod(2, not_ready), NOW)[2] == "NotReady"


def test_init_containers() -> None:
    p = pod(1, {"phase": "Pending", "initContainerStatuses": [
        {"name": "migrate", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "warm", "ready": False, "restartCount": 0,
         "state": {"running": {"startedAt": "2026-03-01T11:59:00Z"}}}]})
    p["spec"]["initContainers"] = [{"name": "migrate"}, {"name": "warm"}]
    assert cells_for("pods", "", p, NOW)[1:3] == ["0/1", "Init:1/2"]

    failing = pod(1, {"phase": "Pending", "initContainerStatuses": [
        {"name": "migrate", "restartCount": 3,
         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-03-01T11:50:00Z"}}}]})
    failing["spec"]["initContainers"] = [{"name": "migrate"}]
    assert cells_for("pods", "", failing, NOW)[1:4] == [
        "0/1", "Init:CrashLoopBackOff", "3 (10m ago)"]

    errored = pod(1, {"phase": "Failed", "initContainerStatuses": [
        {"name": "migrate", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]})
    errored["spec"]["initContainers"] = [{"name": "migrate"}]
    assert cells_for("pods", "", errored, NOW)[2] == "Init:Error"


def test_sidecar_init_container_counts_towards_ready() -> None:
    p = pod(1, {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"},
                               {"type": "Ready", "status": "True"}],
                "initContainerStatuses": [{
                    "name": "proxy", "ready": True, "started": True, "restartCount": 1,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1,
                                                 "finishedAt": "2026-03-01T11:00:00Z"}}}],
                "containerStatuses": [running_container("c0")]})
    p["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}]
    assert cells_for("pods", "", p, NOW)[1:4] == ["2/2", "Running", "1 (60m ago)"]


def test_terminating_and_node_lost_pods() -> None:
    running = {"phase": "Running", "containerStatuses": [running_container("c0")]}
    deleting = pod(1, running, deletionTimestamp="2026-03-01T11:59:00Z")
    assert cells_for("pods", "", deleting, NOW)[2] == "Terminating"
    lost = pod(1, dict(running, reason="NodeLost"), deletionTimestamp="2026-03-01T11:59:00Z")
    assert cells_for("pods", "", lost, NOW)[2] == "Unknown"
    finished = pod(1, {"phase": "Succeeded"}, deletionTimestamp="2026-03-01T11:59:00Z")
    assert cells_for("pods", "", finished, NOW)[2] == "Succeeded"


def test_evicted_pod_shows_status_reason() -> None:
    p = pod(1, {"phase": "Failed", "reason": "Evicted", "message": "low on memory"})
    assert cells_for("pods", "", p, NOW)[2] == "Evicted"


def test_readiness_gates_and_nominated_node() -> None:
    p = pod(1, {"phase": "Running", "nominatedNodeName": "node-2",
                "conditions": [{"type": "example.com/lb-ready", "status": "True"},
                               {"type": "example.com/dns", "status": "False"}]})
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/lb-ready"},
                                   {"conditionType": "example.com/dns"},
                                   {"conditionType": "example.com/absent"}]
    cells = cells_for("pods", "", p, NOW)
    assert cells[7:9] == ["node-2", "1/3"]


# --- custom resources ------------------------------------------------------------------------

CERT = {
    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
    "metadata": {"name": "site-tls", "creationTimestamp": "2026-03-01T11:00:00Z"},
    "spec": {"secretName": "site-tls", "replicas": 3, "ratio": 2.5, "paused": False,
             "dnsNames": ["a.example.com", "b.example.com"], "issuerRef": {"name": "le"}},
    "status": {"conditions": [{"type": "Issuing", "status": "False"},
                              {"type": "Ready", "status": "True", "message": "up to date"}],
               "notAfter": "2026-05-30T11:00:00Z"},
}


def test_custom_columns_from_printer_columns() -> None:
    printer = custom_columns([
        {"name": "Ready", "type": "string", "jsonPath":
            '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Secret", "type": "string", "jsonPath": ".spec.secretName"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "Status", "type": "string", "priority": 1, "description": "Why",
         "jsonPath": ".status.conditions[?(@.type=='Ready')].message"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ])
    assert names(printer.columns) == [
        "Name", "Ready", "Secret", "Replicas", "Ratio", "Paused", "Status", "Age"]
    assert printer.columns[0].format == "name"
    assert printer.columns[6].priority == 1
    assert printer.columns[6].description == "Why"
    assert printer.columns[2].description == (
        "Custom resource definition column (in JSONPath format): .spec.secretName")
    assert printer.cells(CERT, NOW) == [
        "site-tls", "True", "site-tls", 3, 2.5, False, "up to date", "60m"]


def test_custom_column_cells_for_missing_and_mistyped_values() -> None:
    printer = custom_columns([
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
        {"name": "Int", "type": "integer", "jsonPath": ".spec.secretName"},
        {"name": "Ratio", "type": "integer", "jsonPath": ".spec.ratio"},
        {"name": "Names", "type": "string", "jsonPath": ".spec.dnsNames"},
        {"name": "First", "type": "string", "jsonPath": ".spec.dnsNames[0]"},
        {"name": "Last", "type": "string", "jsonPath": ".spec.dnsNames[-1]"},
        {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuerRef"},
        {"name": "Expires", "type": "date", "jsonPath": ".status.notAfter"},
        {"name": "BadDate", "type": "date", "jsonPath": ".spec.secretName"},
        {"name": "Bracket", "type": "string", "jsonPath": ".metadata['name']"},
        {"name": "Paused", "type": "string", "jsonPath": ".spec.paused"},
    ])
    # A date in the future is a negative age: kube prints "<invalid>" for it too.
    assert printer.cells(CERT, NOW) == [
        "site-tls", None, None, 2, "[a.example.com b.example.com]", "a.example.com",
        "b.example.com", "map[name:le]", "<invalid>", "<invalid>", "site-tls", "false"]


def test_custom_columns_default_to_age() -> None:
    printer = custom_columns([])
    assert names(printer.columns) == ["Name", "Age"]
    assert printer.columns[1].type == "date"
    assert printer.cells(CERT, NOW) == ["site-tls", "60m"]
    assert custom_columns(None).cells({"metadata": {"name": "x"}}, NOW) == ["x", None]


def test_unsupported_printer_path_falls_back_to_name_and_created_at() -> None:
    printer = custom_columns([{"name": "X", "type": "string", "jsonPath": ".spec.a[?(@.b ~ 1)]"}])
    assert names(printer.columns) == ["Name", "Created At"]
    assert printer.cells(CERT, NOW) == ["site-tls", "2026-03-01T11:00:00Z"]


def test_json_path_subset() -> None:
    doc = {"items": [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}],
           "m": {"x.y": 5}}
    assert evaluate_json_path(parse_json_path(".items[*].v"), doc) == [1, 2, 3]
    assert evaluate_json_path(parse_json_path('.items[?(@.k=="a")].v'), doc) == [1, 3]
    assert evaluate_json_path(parse_json_path('.items[?(@.k!="a")].v'), doc) == [2]
    assert evaluate_json_path(parse_json_path(".items[?(@.v==2)].k"), doc) == ["b"]
    assert evaluate_json_path(parse_json_path(".items[?(@.v)].k"), doc) == ["a", "b", "a"]
    assert evaluate_json_path(parse_json_path("{.m['x.y']}"), doc) == [5]
    assert evaluate_json_path(parse_json_path(".items[5].v"), doc) == []
    for bad in ("spec", ".a[", ".a[?(@.b ~ 1)]", ".a..b"):
        with pytest.raises(JSONPathError):
            parse_json_path(bad)
