"""A small, kube-shaped schema set (Pod, ConfigMap, Deployment bits) for the patch tests."""

from kapisup.apimachinery.schema import SchemaSet, ref

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
POD = "io.k8s.api.core.v1.Pod"
CONFIGMAP = "io.k8s.api.core.v1.ConfigMap"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def _wrap(name: str, **extra) -> dict:
    return {"allOf": [ref(name)], **extra}


STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEMAS = SchemaSet({
    META: {"type": "object", "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"},
                       "x-kubernetes-patch-strategy": "merge",
                       "x-kubernetes-list-type": "set"},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "resourceVersion": {"type": "string"},
        "uid": {"type": "string"},
    }},
    CONFIGMAP: {"type": "object", "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": _wrap(META),
        "data": STRING_MAP,
    }},
    "io.k8s.api.core.v1.ContainerPort": {"type": "object", "properties": {
        "containerPort": {"type": "integer"},
        "name": {"type": "string"},
        "protocol": {"type": "string", "default": "TCP"},
    }},
    "io.k8s.api.core.v1.EnvVar": {"type": "object", "properties": {
        "name": {"type": "string"}, "value": {"type": "string"}}},
    "io.k8s.api.core.v1.Container": {"type": "object", "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"},
        "args": {"type": "array", "items": {"type": "string"},
                 "x-kubernetes-list-type": "atomic"},
        "env": {"type": "array", "items": ref("io.k8s.api.core.v1.EnvVar"),
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        "ports": {"type": "array", "items": ref("io.k8s.api.core.v1.ContainerPort"),
                  "x-kubernetes-patch-merge-key": "containerPort",
                  "x-kubernetes-patch-strategy": "merge",
                  "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["containerPort", "protocol"]},
    }},
    "io.k8s.api.core.v1.Volume": {"type": "object", "properties": {
        "name": {"type": "string"},
        "emptyDir": {"type": "object", "properties": {"medium": {"type": "string"}}},
        "hostPath": {"type": "object", "properties": {"path": {"type": "string"}}},
    }},
    "io.k8s.api.core.v1.PodSpec": {"type": "object", "properties": {
        "containers": {"type": "array", "items": ref("io.k8s.api.core.v1.Container"),
                       "x-kubernetes-patch-merge-key": "name",
                       "x-kubernetes-patch-strategy": "merge",
                       "x-kubernetes-list-type": "map",
                       "x-kubernetes-list-map-keys": ["name"]},
        "volumes": {"type": "array", "items": ref("io.k8s.api.core.v1.Volume"),
                    "x-kubernetes-patch-merge-key": "name",
                    "x-kubernetes-patch-strategy": "merge,retainKeys",
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        "nodeSelector": {**STRING_MAP, "x-kubernetes-map-type": "atomic"},
        "tolerations": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}}}, "x-kubernetes-list-type": "atomic"},
        "affinity": _wrap("io.k8s.api.core.v1.Affinity",
                          **{"x-kubernetes-patch-strategy": "replace"}),
    }},
    "io.k8s.api.core.v1.Affinity": {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "string"}}},
    POD: {"type": "object", "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": _wrap(META),
        "spec": _wrap("io.k8s.api.core.v1.PodSpec"),
    }},
    "io.k8s.api.apps.v1.DeploymentStrategy": {"type": "object", "properties": {
        "type": {"type": "string"},
        "rollingUpdate": {"type": "object", "properties": {
            "maxSurge": {"x-kubernetes-int-or-string": True},
            "maxUnavailable": {"x-kubernetes-int-or-string": True}}},
    }},
    DEPLOYMENT: {"type": "object", "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": _wrap(META),
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                         "properties": {"matchLabels": STRING_MAP}},
            "strategy": _wrap("io.k8s.api.apps.v1.DeploymentStrategy",
                              **{"x-kubernetes-patch-strategy": "retainKeys"}),
            "template": {"type": "object", "properties": {
                "metadata": _wrap(META), "spec": _wrap("io.k8s.api.core.v1.PodSpec")}},
        }},
    }},
})


def schema(name: str) -> dict:
    return SCHEMAS.get(name)
