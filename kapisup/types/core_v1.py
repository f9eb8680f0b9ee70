"""core/v1 (group "", version v1): the served kinds and every type they reference.

Field numbers follow k8s.io/api core/v1 generated.proto. Where Go embeds a struct (Probe embeds
ProbeHandler, Volume embeds VolumeSource, the selectors embed LocalObjectReference), the parent
declares `inline` and the embedded fields carry no numbers of their own.

Volume sources: the deprecated in-tree cloud and cluster-filesystem drivers (gcePersistentDisk,
awsElasticBlockStore, glusterfs, rbd, flexVolume, cinder, cephfs, flocker, azureFile, azureDisk,
vsphereVolume, quobyte, photonPersistentDisk, portworxVolume, scaleIO, storageos) are not
declared, so strict decoding rejects them.
"""

from __future__ import annotations

from kapisup.types.dsl import (
    CONDITION,
    CORE,
    LABEL_SELECTOR,
    OBJECT_META,
    Schema,
    array,
    boolean,
    bytes_map,
    embedded,
    int64,
    int_or_string,
    integer,
    kind,
    list_of,
    micro_time,
    obj,
    quantity,
    quantity_map,
    ref,
    string,
    string_list,
    string_map,
    time,
)

LOCAL_REF = CORE + "LocalObjectReference"


def c(name: str) -> str:
    """Component name of a core/v1 type."""
    return CORE + name


def _local_name(what: str) -> Schema:
    """The `name` a struct gains by embedding LocalObjectReference (inline field 1)."""
    return string(f"Name of the {what}.", default="")


# --- references -------------------------------------------------------------------------------

REFERENCES: dict[str, Schema] = {
    c("LocalObjectReference"): obj(
        "Names an object in the same namespace.",
        {"name": string("Name of the referent.", 1, default="")},
        map_type="atomic"),
    c("ObjectReference"): obj(
        "Points at an object, or a part of one, anywhere in the cluster.",
        {
            "kind": string("Kind of the referent.", 1),
            "namespace": string("Namespace of the referent.", 2),
            "name": string("Name of the referent.", 3),
            "uid": string("UID of the referent.", 4),
            "apiVersion": string("API version of the referent.", 5),
            "resourceVersion": string("resourceVersion the reference was taken at.", 6),
            "fieldPath": string("Part of the object meant, e.g. spec.containers{web}.", 7),
        },
        map_type="atomic"),
    c("TypedLocalObjectReference"): obj(
        "Names an object of a given kind in the same namespace.",
        {
            "apiGroup": string("API group of the referent; empty for the core group.", 1),
            "kind": string("Kind of the referent.", 2),
            "name": string("Name of the referent.", 3),
        },
        required=["kind", "name"], map_type="atomic"),
    c("TypedObjectReference"): obj(
        "Names an object of a given kind, possibly in another namespace.",
        {
            "apiGroup": string("API group of the referent; empty for the core group.", 1),
            "kind": string("Kind of the referent.", 2),
            "name": string("Name of the referent.", 3),
            "namespace": string("Namespace of the referent.", 4),
        },
        required=["kind", "name"]),
    c("SecretReference"): obj(
        "Names a Secret in any namespace.",
        {
            "name": string("Name of the Secret.", 1),
            "namespace": string("Namespace of the Secret.", 2),
        },
        map_type="atomic"),
}

# --- environment ------------------------------------------------------------------------------

ENVIRONMENT: dict[str, Schema] = {
    c("ObjectFieldSelector"): obj(
        "Selects a field of the pod.",
        {
            "apiVersion": string("Schema version the path is written against; default v1.", 1),
            "fieldPath": string("Path of the field, e.g. metadata.name.", 2),
        },
        required=["fieldPath"], map_type="atomic"),
    c("ResourceFieldSelector"): obj(
        "Selects a container resource limit or request.",
        {
            "containerName": string("Container whose resources are read.", 1),
            "resource": string("Resource to read, e.g. limits.cpu.", 2),
            "divisor": quantity("Unit the value is expressed in; default 1.", 3),
        },
        required=["resource"], map_type="atomic"),
    c("ConfigMapKeySelector"): obj(
        "Selects one key of a ConfigMap.",
        {
            "name": _local_name("ConfigMap"),
            "key": string("Key to read.", 2),
            "optional": boolean("Whether the ConfigMap or key may be missing.", 3),
        },
        required=["key"], map_type="atomic", inline={1: LOCAL_REF}),
    c("SecretKeySelector"): obj(
        "Selects one key of a Secret.",
        {
            "name": _local_name("Secret"),
            "key": string("Key to read.", 2),
            "optional": boolean("Whether the Secret or key may be missing.", 3),
        },
        required=["key"], map_type="atomic", inline={1: LOCAL_REF}),
    c("FileKeySelector"): obj(
        "Selects one key of an env file inside a volume.",
        {
            "volumeName": string("Volume mount holding the file.", 1),
            "path": string("Path of the file within the volume.", 2),
            "key": string("Key to read.", 3),
            "optional": boolean("Whether the file or key may be missing.", 4),
        },
        required=["volumeName", "path", "key"], map_type="atomic"),
    c("EnvVarSource"): obj(
        "Where an environment variable's value comes from.",
        {
            "fieldRef": ref(c("ObjectFieldSelector"), "A field of the pod.", 1),
            "resourceFieldRef": ref(c("ResourceFieldSelector"), "A container resource.", 2),
            "configMapKeyRef": ref(c("ConfigMapKeySelector"), "A key of a ConfigMap.", 3),
            "secretKeyRef": ref(c("SecretKeySelector"), "A key of a Secret.", 4),
            "fileKeyRef": ref(c("FileKeySelector"), "A key of an env file.", 5),
        }),
    c("EnvVar"): obj(
        "One environment variable of a container.",
        {
            "name": string("Variable name.", 1),
            "value": string("Literal value; $(VAR) references are expanded.", 2),
            "valueFrom": ref(c("EnvVarSource"), "Source of the value when value is empty.", 3),
        },
        required=["name"]),
    c("ConfigMapEnvSource"): obj(
        "A ConfigMap whose keys all become environment variables.",
        {
            "name": _local_name("ConfigMap"),
            "optional": boolean("Whether the ConfigMap may be missing.", 2),
        },
        inline={1: LOCAL_REF}),
    c("SecretEnvSource"): obj(
        "A Secret whose keys all become environment variables.",
        {
            "name": _local_name("Secret"),
            "optional": boolean("Whether the Secret may be missing.", 2),
        },
        inline={1: LOCAL_REF}),
    c("EnvFromSource"): obj(
        "A source of many environment variables.",
        {
            "prefix": string("Text prepended to every variable name.", 1),
            "configMapRef": ref(c("ConfigMapEnvSource"), "ConfigMap to read.", 2),
            "secretRef": ref(c("SecretEnvSource"), "Secret to read.", 3),
        }),
}

# --- container pieces ------------------------------------------------------------------------

CONTAINER_PARTS: dict[str, Schema] = {
    c("ContainerPort"): obj(
        "A network port a container listens on.",
        {
            "name": string("Port name, unique in the pod, usable by Services.", 1),
            "hostPort": integer("Port to expose on the node.", 2),
            "containerPort": integer("Port on the pod's IP address.", 3),
            "protocol": string("TCP, UDP or SCTP; default TCP.", 4, default="TCP"),
            "hostIP": string("Host IP the host port binds to.", 5),
        },
        required=["containerPort"]),
    c("ResourceClaim"): obj(
        "A resource claim of the pod that a container uses.",
        {
            "name": string("Name of an entry of pod.spec.resourceClaims.", 1),
            "request": string("One request of that claim; empty for all of it.", 2),
        },
        required=["name"]),
    c("ResourceRequirements"): obj(
        "Compute resources a container (or pod) asks for and may not exceed.",
        {
            "limits": quantity_map("Most of each resource allowed.", 1),
            "requests": quantity_map("Least of each resource required.", 2),
            "claims": list_of(c("ResourceClaim"), "Resource claims used.", 3,
                              list_type="map", map_keys=["name"]),
        }),
    c("VolumeResourceRequirements"): obj(
        "Storage a volume asks for and may not exceed.",
        {
            "limits": quantity_map("Most of each resource allowed.", 1),
            "requests": quantity_map("Least of each resource required.", 2),
        }),
    c("ContainerResizePolicy"): obj(
        "What happens to a container when one of its resources is resized.",
        {
            "resourceName": string("cpu or memory.", 1),
            "restartPolicy": string("NotRequired or RestartContainer.", 2),
        },
        required=["resourceName", "restartPolicy"]),
    c("ContainerRestartRuleOnExitCodes"): obj(
        "Exit codes a restart rule matches.",
        {
            "operator": string("In or NotIn.", 1),
            "values": array(integer(), "Exit codes to compare with.", 2, list_type="set"),
        },
        required=["operator"]),
    c("ContainerRestartRule"): obj(
        "What to do when a container exits in a given way.",
        {
            "action": string("The action; only Restart exists.", 1),
            "exitCodes": ref(c("ContainerRestartRuleOnExitCodes"), "Exit codes matched.", 2),
        },
        required=["action"]),
    c("VolumeMount"): obj(
        "A pod volume mounted into a container.",
        {
            "name": string("Name of the pod volume.", 1),
            "readOnly": boolean("Mount read-only.", 2),
            "recursiveReadOnly": string("Disabled, IfPossible or Enabled.", 7),
            "mountPath": string("Path in the container.", 3),
            "subPath": string("Path within the volume to mount instead of its root.", 4),
            "mountPropagation": string("None, HostToContainer or Bidirectional.", 5),
            "subPathExpr": string("Like subPath, with $(VAR) expansion.", 6),
        },
        required=["name", "mountPath"]),
    c("VolumeDevice"): obj(
        "A raw block volume mapped into a container.",
        {
            "name": string("Name of a persistentVolumeClaim volume of the pod.", 1),
            "devicePath": string("Device path in the container.", 2),
        },
        required=["name", "devicePath"]),
    c("ExecAction"): obj(
        "Runs a command in the container.",
        {"command": string_list("Command line, run without a shell.", 1)}),
    c("HTTPHeader"): obj(
        "One HTTP header of a probe request.",
        {
            "name": string("Header name.", 1),
            "value": string("Header value.", 2),
        },
        required=["name", "value"]),
    c("HTTPGetAction"): obj(
        "Performs an HTTP GET.",
        {
            "path": string("Request path.", 1),
            "port": int_or_string("Port number or name.", 2),
            "host": string("Host to connect to; default the pod IP.", 3),
            "scheme": string("HTTP or HTTPS.", 4, enum=["HTTP", "HTTPS"]),
            "httpHeaders": list_of(c("HTTPHeader"), "Extra request headers.", 5,
                                   list_type="atomic"),
        },
        required=["port"]),
    c("TCPSocketAction"): obj(
        "Opens a TCP connection.",
        {
            "port": int_or_string("Port number or name.", 1),
            "host": string("Host to connect to; default the pod IP.", 2),
        },
        required=["port"]),
    c("GRPCAction"): obj(
        "Calls the gRPC health service.",
        {
            "port": integer("Port of the gRPC server.", 1),
            "service": string("Service name sent in the health request.", 2, default=""),
        },
        required=["port"]),
    c("SleepAction"): obj(
        "Waits a number of seconds.",
        {"seconds": int64("Seconds to sleep.", 1)},
        required=["seconds"]),
    c("ProbeHandler"): obj(
        "The action of a probe; exactly one is set.",
        {
            "exec": ref(c("ExecAction"), "Run a command.", 1),
            "httpGet": ref(c("HTTPGetAction"), "Send an HTTP GET.", 2),
            "tcpSocket": ref(c("TCPSocketAction"), "Open a TCP connection.", 3),
            "grpc": ref(c("GRPCAction"), "Call the gRPC health service.", 4),
        }),
    c("Probe"): obj(
        "A periodic health check of a container.",
        {
            "exec": ref(c("ExecAction"), "Run a command."),
            "httpGet": ref(c("HTTPGetAction"), "Send an HTTP GET."),
            "tcpSocket": ref(c("TCPSocketAction"), "Open a TCP connection."),
            "grpc": ref(c("GRPCAction"), "Call the gRPC health service."),
            "initialDelaySeconds": integer("Seconds after start before the first probe.", 2),
            "timeoutSeconds": integer("Seconds before a probe times out; default 1.", 3),
            "periodSeconds": integer("Seconds between probes; default 10.", 4),
            "successThreshold": integer("Successes in a row that count as healthy.", 5),
            "failureThreshold": integer("Failures in a row that count as unhealthy.", 6),
            "terminationGracePeriodSeconds": int64(
                "Grace period when a failed probe kills the container.", 7),
        },
        inline={1: c("ProbeHandler")}),
    c("LifecycleHandler"): obj(
        "An action run at a lifecycle hook.",
        {
            "exec": ref(c("ExecAction"), "Run a command.", 1),
            "httpGet": ref(c("HTTPGetAction"), "Send an HTTP GET.", 2),
            "tcpSocket": ref(c("TCPSocketAction"), "Deprecated and never run.", 3),
            "sleep": ref(c("SleepAction"), "Wait a while.", 4),
        }),
    c("Lifecycle"): obj(
        "Actions run when a container starts and before it stops.",
        {
            "postStart": ref(c("LifecycleHandler"), "Run right after the container starts.", 1),
            "preStop": ref(c("LifecycleHandler"), "Run before the container is stopped.", 2),
            "stopSignal": string("Signal sent to stop the container.", 3),
        }),
    c("Capabilities"): obj(
        "POSIX capabilities added to or dropped from a container.",
        {
            "add": string_list("Capabilities to add.", 1),
            "drop": string_list("Capabilities to drop.", 2),
        }),
    c("SELinuxOptions"): obj(
        "SELinux labels of a container.",
        {
            "user": string("SELinux user.", 1),
            "role": string("SELinux role.", 2),
            "type": string("SELinux type.", 3),
            "level": string("SELinux level.", 4),
        }),
    c("WindowsSecurityContextOptions"): obj(
        "Windows-specific security settings.",
        {
            "gmsaCredentialSpecName": string("Name of the GMSA credential spec.", 1),
            "gmsaCredentialSpec": string("Contents of the GMSA credential spec.", 2),
            "runAsUserName": string("Windows user the entrypoint runs as.", 3),
            "hostProcess": boolean("Run as a Windows host process.", 4),
        }),
    c("SeccompProfile"): obj(
        "The seccomp profile applied.",
        {
            "type": string("Localhost, RuntimeDefault or Unconfined.", 1),
            "localhostProfile": string("Profile file on the node, for Localhost.", 2),
        },
        required=["type"]),
    c("AppArmorProfile"): obj(
        "The AppArmor profile applied.",
        {
            "type": string("Localhost, RuntimeDefault or Unconfined.", 1),
            "localhostProfile": string("Profile loaded on the node, for Localhost.", 2),
        },
        required=["type"]),
    c("Ulimit"): obj(
        "One ulimit of a container.",
        {
            "name": string("Ulimit name, e.g. nofile.", 1),
            "hard": int64("Hard limit.", 2),
            "soft": int64("Soft limit.", 3),
        },
        required=["name", "hard", "soft"]),
    c("SecurityContext"): obj(
        "Security settings of one container; they override the pod's.",
        {
            "capabilities": ref(c("Capabilities"), "Capabilities to add or drop.", 1),
            "privileged": boolean("Run privileged.", 2),
            "seLinuxOptions": ref(c("SELinuxOptions"), "SELinux labels.", 3),
            "windowsOptions": ref(c("WindowsSecurityContextOptions"), "Windows settings.", 10),
            "runAsUser": int64("UID the entrypoint runs as.", 4),
            "runAsGroup": int64("GID the entrypoint runs as.", 8),
            "runAsNonRoot": boolean("Refuse to start as UID 0.", 5),
            "readOnlyRootFilesystem": boolean("Mount the root filesystem read-only.", 6),
            "allowPrivilegeEscalation": boolean("Allow gaining more privileges than the parent.",
                                                7),
            "procMount": string("Default or Unmasked.", 9),
            "seccompProfile": ref(c("SeccompProfile"), "Seccomp profile.", 11),
            "appArmorProfile": ref(c("AppArmorProfile"), "AppArmor profile.", 12),
            "ulimits": list_of(c("Ulimit"), "Ulimits applied.", 13, list_type="map",
                               map_keys=["name"]),
        }),
}


def _container_properties(entity: str) -> dict[str, Schema]:
    """Fields shared by Container and EphemeralContainer (same names, same field numbers)."""
    return {
        "name": string(f"Name of the {entity}, unique in the pod.", 1),
        "image": string("Container image reference.", 2),
        "command": string_list("Entrypoint; the image's ENTRYPOINT when empty.", 3),
        "args": string_list("Arguments to the entrypoint; the image's CMD when empty.", 4),
        "workingDir": string("Working directory.", 5),
        "ports": list_of(c("ContainerPort"), "Ports the container listens on.", 6,
                         list_type="map", map_keys=["containerPort", "protocol"],
                         merge_key="containerPort", strategy="merge"),
        "envFrom": list_of(c("EnvFromSource"), "Sources of many environment variables.", 19,
                           list_type="atomic"),
        "env": list_of(c("EnvVar"), "Environment variables.", 7, list_type="map",
                       map_keys=["name"], merge_key="name", strategy="merge"),
        "resources": ref(c("ResourceRequirements"), "Compute resources.", 8),
        "resizePolicy": list_of(c("ContainerResizePolicy"), "How resource resizes apply.", 23,
                                list_type="atomic"),
        "restartPolicy": string("Restart behaviour of this container, overriding the pod's.", 24),
        "restartPolicyRules": list_of(c("ContainerRestartRule"),
                                      "Rules deciding restarts by exit code.", 25,
                                      list_type="atomic"),
        "volumeMounts": list_of(c("VolumeMount"), "Volumes mounted into the container.", 9,
                                list_type="map", map_keys=["mountPath"], merge_key="mountPath",
                                strategy="merge"),
        "volumeDevices": list_of(c("VolumeDevice"), "Block devices mapped into the container.",
                                 21, list_type="map", map_keys=["devicePath"],
                                 merge_key="devicePath", strategy="merge"),
        "livenessProbe": ref(c("Probe"), "Restarts the container when it fails.", 10),
        "readinessProbe": ref(c("Probe"), "Removes the pod from endpoints when it fails.", 11),
        "startupProbe": ref(c("Probe"), "Holds other probes back until it succeeds.", 22),
        "lifecycle": ref(c("Lifecycle"), "Hooks run at start and stop.", 12),
        "terminationMessagePath": string("File the termination message is read from.", 13),
        "terminationMessagePolicy": string("File or FallbackToLogsOnError.", 20,
                                           enum=["File", "FallbackToLogsOnError"]),
        "imagePullPolicy": string("Always, Never or IfNotPresent.", 14,
                                  enum=["Always", "IfNotPresent", "Never"]),
        "securityContext": ref(c("SecurityContext"), "Security settings.", 15),
        "stdin": boolean("Allocate a stdin buffer.", 16),
        "stdinOnce": boolean("Close stdin after the first attach ends.", 17),
        "tty": boolean("Allocate a TTY.", 18),
    }


CONTAINERS: dict[str, Schema] = {
    c("Container"): obj("One application container of a pod.", _container_properties("container"),
                        required=["name"]),
    c("EphemeralContainerCommon"): obj(
        "The Container fields of an ephemeral container (embedded as its field 1).",
        _container_properties("ephemeral container"), required=["name"]),
    c("EphemeralContainer"): obj(
        "A debugging container added to a running pod.",
        {**embedded(_container_properties("ephemeral container")),
         "targetContainerName": string("Container whose namespaces it joins.", 2)},
        required=["name"], inline={1: c("EphemeralContainerCommon")}),
}

# --- volumes ----------------------------------------------------------------------------------

_KEY_TO_PATH_ITEMS = "Keys to project and their file paths; all keys when empty."

VOLUMES: dict[str, Schema] = {
    c("KeyToPath"): obj(
        "Projects one key to a file path.",
        {
            "key": string("Key to project.", 1),
            "path": string("Relative file path.", 2),
            "mode": integer("File mode bits.", 3),
        },
        required=["key", "path"]),
    c("HostPathVolumeSource"): obj(
        "A file or directory of the node.",
        {
            "path": string("Path on the node.", 1),
            "type": string("Expected kind of path, e.g. Directory or FileOrCreate.", 2),
        },
        required=["path"]),
    c("EmptyDirVolumeSource"): obj(
        "An empty directory living as long as the pod.",
        {
            "medium": string("Storage medium: empty for the node default, or Memory.", 1),
            "sizeLimit": quantity("Most storage the directory may use.", 2),
        }),
    c("SecretVolumeSource"): obj(
        "A Secret's keys as files.",
        {
            "secretName": string("Name of the Secret.", 1),
            "items": list_of(c("KeyToPath"), _KEY_TO_PATH_ITEMS, 2, list_type="atomic"),
            "defaultMode": integer("Mode bits of the files.", 3),
            "optional": boolean("Whether the Secret may be missing.", 4),
        }),
    c("ConfigMapVolumeSource"): obj(
        "A ConfigMap's keys as files.",
        {
            "name": _local_name("ConfigMap"),
            "items": list_of(c("KeyToPath"), _KEY_TO_PATH_ITEMS, 2, list_type="atomic"),
            "defaultMode": integer("Mode bits of the files.", 3),
            "optional": boolean("Whether the ConfigMap may be missing.", 4),
        },
        inline={1: LOCAL_REF}),
    c("NFSVolumeSource"): obj(
        "An NFS export.",
        {
            "server": string("NFS server host or IP.", 1),
            "path": string("Exported path.", 2),
            "readOnly": boolean("Mount read-only.", 3),
        },
        required=["server", "path"]),
    c("PersistentVolumeClaimVolumeSource"): obj(
        "The volume bound to a PersistentVolumeClaim of the namespace.",
        {
            "claimName": string("Name of the claim.", 1),
            "readOnly": boolean("Mount read-only.", 2),
        },
        required=["claimName"]),
    c("DownwardAPIVolumeFile"): obj(
        "One file holding a pod field or container resource.",
        {
            "path": string("Relative file path.", 1),
            "fieldRef": ref(c("ObjectFieldSelector"), "Pod field to write.", 2),
            "resourceFieldRef": ref(c("ResourceFieldSelector"), "Container resource to write.",
                                    3),
            "mode": integer("File mode bits.", 4),
        },
        required=["path"]),
    c("DownwardAPIVolumeSource"): obj(
        "Pod fields and container resources as files.",
        {
            "items": list_of(c("DownwardAPIVolumeFile"), "Files to write.", 1,
                             list_type="atomic"),
            "defaultMode": integer("Mode bits of the files.", 2),
        }),
    c("DownwardAPIProjection"): obj(
        "Pod fields and container resources projected as files.",
        {"items": list_of(c("DownwardAPIVolumeFile"), "Files to write.", 1,
                          list_type="atomic")}),
    c("ConfigMapProjection"): obj(
        "A ConfigMap's keys projected as files.",
        {
            "name": _local_name("ConfigMap"),
            "items": list_of(c("KeyToPath"), _KEY_TO_PATH_ITEMS, 2, list_type="atomic"),
            "optional": boolean("Whether the ConfigMap may be missing.", 4),
        },
        inline={1: LOCAL_REF}),
    c("SecretProjection"): obj(
        "A Secret's keys projected as files.",
        {
            "name": _local_name("Secret"),
            "items": list_of(c("KeyToPath"), _KEY_TO_PATH_ITEMS, 2, list_type="atomic"),
            "optional": boolean("Whether the Secret may be missing.", 4),
        },
        inline={1: LOCAL_REF}),
    c("ServiceAccountTokenProjection"): obj(
        "A service account token projected as a file and kept fresh.",
        {
            "audience": string("Intended audience of the token.", 1),
            "expirationSeconds": int64("Requested lifetime in seconds.", 2),
            "path": string("Relative file path.", 3),
        },
        required=["path"]),
    c("ClusterTrustBundleProjection"): obj(
        "ClusterTrustBundle certificates projected as a file.",
        {
            "name": string("One bundle by name.", 1),
            "signerName": string("All bundles of this signer.", 2),
            "labelSelector": ref(LABEL_SELECTOR, "Narrows bundles chosen by signer.", 3),
            "optional": boolean("Whether missing bundles are tolerated.", 5),
            "path": string("Relative file path.", 4),
        },
        required=["path"]),
    c("PodCertificateProjection"): obj(
        "A private key and certificate chain issued for the pod, projected as files.",
        {
            "signerName": string("Signer the requests are sent to.", 1),
            "keyType": string("Key algorithm, e.g. ED25519.", 2),
            "maxExpirationSeconds": integer("Longest certificate lifetime allowed.", 3),
            "credentialBundlePath": string("File with key and chain together.", 4),
            "keyPath": string("File with the private key.", 5),
            "certificateChainPath": string("File with the certificate chain.", 6),
            "userAnnotations": string_map("Extra data passed to the signer.", 7),
        },
        required=["signerName", "keyType"]),
    c("VolumeProjection"): obj(
        "One source of a projected volume; exactly one is set.",
        {
            "secret": ref(c("SecretProjection"), "Keys of a Secret.", 1),
            "downwardAPI": ref(c("DownwardAPIProjection"), "Pod fields.", 2),
            "configMap": ref(c("ConfigMapProjection"), "Keys of a ConfigMap.", 3),
            "serviceAccountToken": ref(c("ServiceAccountTokenProjection"),
                                       "A service account token.", 4),
            "clusterTrustBundle": ref(c("ClusterTrustBundleProjection"),
                                      "Trust bundle certificates.", 5),
            "podCertificate": ref(c("PodCertificateProjection"), "A pod certificate.", 6),
        }),
    c("ProjectedVolumeSource"): obj(
        "Several sources merged into one directory.",
        {
            "sources": list_of(c("VolumeProjection"), "The sources.", 1, list_type="atomic"),
            "defaultMode": integer("Mode bits of the files.", 2),
        }),
    c("CSIVolumeSource"): obj(
        "An ephemeral volume served by a CSI driver.",
        {
            "driver": string("Name of the CSI driver.", 1),
            "readOnly": boolean("Mount read-only.", 2),
            "fsType": string("Filesystem type.", 3),
            "volumeAttributes": string_map("Driver-specific settings.", 4),
            "nodePublishSecretRef": ref(LOCAL_REF, "Secret passed to the driver.", 5),
        },
        required=["driver"]),
    c("ImageVolumeSource"): obj(
        "An OCI image or artifact mounted read-only.",
        {
            "reference": string("Image or artifact reference.", 1),
            "pullPolicy": string("Always, Never or IfNotPresent.", 2),
        }),
    c("GitRepoVolumeSource"): obj(
        "Deprecated: a git repository cloned into the volume.",
        {
            "repository": string("Repository URL.", 1),
            "revision": string("Commit to check out.", 2),
            "directory": string("Target directory name.", 3),
        },
        required=["repository"]),
    c("ISCSIVolumeSource"): obj(
        "An iSCSI disk.",
        {
            "targetPortal": string("Target portal, IP or IP:port.", 1),
            "iqn": string("Target iSCSI qualified name.", 2),
            "lun": integer("Target LUN.", 3),
            "iscsiInterface": string("iSCSI interface name.", 4, default="default"),
            "fsType": string("Filesystem type.", 5),
            "readOnly": boolean("Mount read-only.", 6),
            "portals": string_list("More target portals.", 7),
            "chapAuthDiscovery": boolean("Use CHAP for discovery.", 8),
            "chapAuthSession": boolean("Use CHAP for the session.", 11),
            "secretRef": ref(LOCAL_REF, "Secret with CHAP credentials.", 10),
            "initiatorName": string("Custom initiator name.", 12),
        },
        required=["targetPortal", "iqn", "lun"]),
    c("FCVolumeSource"): obj(
        "A Fibre Channel disk.",
        {
            "targetWWNs": string_list("Target world wide names.", 1),
            "lun": integer("Target LUN.", 2),
            "fsType": string("Filesystem type.", 3),
            "readOnly": boolean("Mount read-only.", 4),
            "wwids": string_list("Volume world wide identifiers.", 5),
        }),
    c("PersistentVolumeClaimSpec"): obj(
        "What storage a claim asks for.",
        {
            "accessModes": string_list("Access modes wanted.", 1),
            "selector": ref(LABEL_SELECTOR, "Label query over volumes to bind.", 4),
            "resources": ref(c("VolumeResourceRequirements"), "Storage wanted.", 2),
            "volumeName": string("Volume to bind to.", 3),
            "storageClassName": string("StorageClass wanted.", 5),
            "volumeMode": string("Filesystem or Block.", 6),
            "dataSource": ref(c("TypedLocalObjectReference"), "Object to copy data from.", 7),
            "dataSourceRef": ref(c("TypedObjectReference"), "Object to populate data from.", 8),
            "volumeAttributesClassName": string("VolumeAttributesClass wanted.", 9),
        }),
    c("PersistentVolumeClaimTemplate"): obj(
        "A claim created for one pod and deleted with it.",
        {
            "metadata": ref(OBJECT_META, "Labels and annotations copied to the claim.", 1),
            "spec": ref(c("PersistentVolumeClaimSpec"), "Spec of the claim.", 2),
        },
        required=["spec"]),
    c("EphemeralVolumeSource"): obj(
        "A volume provisioned through a claim that lives as long as the pod.",
        {"volumeClaimTemplate": ref(c("PersistentVolumeClaimTemplate"), "Claim to create.", 1)}),
}

_VOLUME_SOURCES: dict[str, tuple[str, int, str]] = {
    "hostPath": ("HostPathVolumeSource", 1, "A path of the node."),
    "emptyDir": ("EmptyDirVolumeSource", 2, "A scratch directory living as long as the pod."),
    "gitRepo": ("GitRepoVolumeSource", 5, "Deprecated: a cloned git repository."),
    "secret": ("SecretVolumeSource", 6, "A Secret's keys as files."),
    "nfs": ("NFSVolumeSource", 7, "An NFS export."),
    "iscsi": ("ISCSIVolumeSource", 8, "An iSCSI disk."),
    "persistentVolumeClaim": ("PersistentVolumeClaimVolumeSource", 10,
                              "A PersistentVolumeClaim of the namespace."),
    "downwardAPI": ("DownwardAPIVolumeSource", 16, "Pod fields as files."),
    "fc": ("FCVolumeSource", 17, "A Fibre Channel disk."),
    "configMap": ("ConfigMapVolumeSource", 19, "A ConfigMap's keys as files."),
    "projected": ("ProjectedVolumeSource", 26, "Several sources in one directory."),
    "csi": ("CSIVolumeSource", 28, "An ephemeral CSI volume."),
    "ephemeral": ("EphemeralVolumeSource", 29, "A claim provisioned for this pod."),
    "image": ("ImageVolumeSource", 30, "An OCI image or artifact."),
}


def _volume_source_properties(numbered: bool) -> dict[str, Schema]:
    return {name: ref(c(component), description, number if numbered else None)
            for name, (component, number, description) in _VOLUME_SOURCES.items()}


VOLUMES[c("VolumeSource")] = obj("Where a volume's data comes from; exactly one is set.",
                                 _volume_source_properties(numbered=True))
VOLUMES[c("Volume")] = obj(
    "A named volume the pod's containers can mount.",
    {"name": string("Volume name, unique in the pod.", 1), **_volume_source_properties(False)},
    required=["name"], inline={2: c("VolumeSource")})

# --- scheduling -------------------------------------------------------------------------------

SCHEDULING: dict[str, Schema] = {
    c("NodeSelectorRequirement"): obj(
        "One clause over node labels or fields.",
        {
            "key": string("Label or field key.", 1),
            "operator": string("In, NotIn, Exists, DoesNotExist, Gt or Lt.", 2),
            "values": string_list("Values to compare with.", 3),
        },
        required=["key", "operator"]),
    c("NodeSelectorTerm"): obj(
        "Clauses that must all hold for a node.",
        {
            "matchExpressions": list_of(c("NodeSelectorRequirement"), "Clauses on labels.", 1,
                                        list_type="atomic"),
            "matchFields": list_of(c("NodeSelectorRequirement"), "Clauses on fields.", 2,
                                   list_type="atomic"),
        },
        map_type="atomic"),
    c("NodeSelector"): obj(
        "Terms of which at least one must hold for a node.",
        {"nodeSelectorTerms": list_of(c("NodeSelectorTerm"), "The terms, ORed.", 1,
                                      list_type="atomic")},
        required=["nodeSelectorTerms"], map_type="atomic"),
    c("PreferredSchedulingTerm"): obj(
        "A weighted node preference.",
        {
            "weight": integer("Weight, 1 to 100.", 1),
            "preference": ref(c("NodeSelectorTerm"), "The preferred nodes.", 2),
        },
        required=["weight", "preference"]),
    c("NodeAffinity"): obj(
        "Rules choosing nodes by their labels.",
        {
            "requiredDuringSchedulingIgnoredDuringExecution": ref(
                c("NodeSelector"), "Nodes the pod must run on.", 1),
            "preferredDuringSchedulingIgnoredDuringExecution": list_of(
                c("PreferredSchedulingTerm"), "Nodes the pod would rather run on.", 2,
                list_type="atomic"),
        }),
    c("PodAffinityTerm"): obj(
        "Pods a pod should (or should not) share a topology domain with.",
        {
            "labelSelector": ref(LABEL_SELECTOR, "The pods meant.", 1),
            "namespaces": string_list("Namespaces searched.", 2),
            "topologyKey": string("Node label defining the domain.", 3),
            "namespaceSelector": ref(LABEL_SELECTOR, "Namespaces searched, by label.", 4),
            "matchLabelKeys": string_list("Own label keys added to the selector with In.", 5),
            "mismatchLabelKeys": string_list("Own label keys added to the selector with NotIn.",
                                             6),
        },
        required=["topologyKey"]),
    c("WeightedPodAffinityTerm"): obj(
        "A weighted pod affinity term.",
        {
            "weight": integer("Weight, 1 to 100.", 1),
            "podAffinityTerm": ref(c("PodAffinityTerm"), "The term.", 2),
        },
        required=["weight", "podAffinityTerm"]),
    c("PodAffinity"): obj(
        "Rules placing the pod near other pods.",
        {
            "requiredDuringSchedulingIgnoredDuringExecution": list_of(
                c("PodAffinityTerm"), "Terms that must hold.", 1, list_type="atomic"),
            "preferredDuringSchedulingIgnoredDuringExecution": list_of(
                c("WeightedPodAffinityTerm"), "Terms preferred.", 2, list_type="atomic"),
        }),
    c("PodAntiAffinity"): obj(
        "Rules keeping the pod away from other pods.",
        {
            "requiredDuringSchedulingIgnoredDuringExecution": list_of(
                c("PodAffinityTerm"), "Terms that must hold.", 1, list_type="atomic"),
            "preferredDuringSchedulingIgnoredDuringExecution": list_of(
                c("WeightedPodAffinityTerm"), "Terms preferred.", 2, list_type="atomic"),
        }),
    c("Affinity"): obj(
        "Scheduling constraints of a pod.",
        {
            "nodeAffinity": ref(c("NodeAffinity"), "Node affinity rules.", 1),
            "podAffinity": ref(c("PodAffinity"), "Pod affinity rules.", 2),
            "podAntiAffinity": ref(c("PodAntiAffinity"), "Pod anti-affinity rules.", 3),
        }),
    c("Toleration"): obj(
        "Lets the pod run on nodes with a matching taint.",
        {
            "key": string("Taint key matched; empty matches all keys.", 1),
            "operator": string("Exists, Equal, Lt or Gt; default Equal.", 2),
            "value": string("Taint value matched.", 3),
            "effect": string("Taint effect matched; empty matches all.", 4),
            "tolerationSeconds": int64("How long a NoExecute taint is tolerated.", 5),
        }),
    c("TopologySpreadConstraint"): obj(
        "How evenly matching pods spread over a topology.",
        {
            "maxSkew": integer("Largest allowed difference in pod counts between domains.", 1),
            "topologyKey": string("Node label defining the domains.", 2),
            "whenUnsatisfiable": string("DoNotSchedule or ScheduleAnyway.", 3),
            "labelSelector": ref(LABEL_SELECTOR, "Pods counted.", 4),
            "minDomains": integer("Least number of eligible domains.", 5),
            "nodeAffinityPolicy": string("Honor or Ignore the pod's node affinity.", 6),
            "nodeTaintsPolicy": string("Honor or Ignore node taints.", 7),
            "matchLabelKeys": string_list("Own label keys added to the selector.", 8),
        },
        required=["maxSkew", "topologyKey", "whenUnsatisfiable"]),
}

# --- pod ------------------------------------------------------------------------------------

POD: dict[str, Schema] = {
    c("Sysctl"): obj(
        "One namespaced kernel parameter.",
        {
            "name": string("Parameter name.", 1),
            "value": string("Parameter value.", 2),
        },
        required=["name", "value"]),
    c("PodSecurityContext"): obj(
        "Security settings of the whole pod.",
        {
            "seLinuxOptions": ref(c("SELinuxOptions"), "SELinux labels.", 1),
            "windowsOptions": ref(c("WindowsSecurityContextOptions"), "Windows settings.", 8),
            "runAsUser": int64("UID the entrypoints run as.", 2),
            "runAsGroup": int64("GID the entrypoints run as.", 6),
            "runAsNonRoot": boolean("Refuse to start containers as UID 0.", 3),
            "supplementalGroups": array(int64(), "Extra groups of the first process.", 4,
                                        list_type="atomic"),
            "supplementalGroupsPolicy": string("Merge or Strict.", 12),
            "fsGroup": int64("Group owning the pod's volumes.", 5),
            "sysctls": list_of(c("Sysctl"), "Namespaced kernel parameters.", 7,
                               list_type="atomic"),
            "fsGroupChangePolicy": string("OnRootMismatch or Always.", 9),
            "seccompProfile": ref(c("SeccompProfile"), "Seccomp profile.", 10),
            "appArmorProfile": ref(c("AppArmorProfile"), "AppArmor profile.", 11),
            "seLinuxChangePolicy": string("MountOption or Recursive.", 13),
        }),
    c("HostAlias"): obj(
        "An extra /etc/hosts entry.",
        {
            "ip": string("IP address.", 1),
            "hostnames": string_list("Host names for the address.", 2),
        },
        required=["ip"]),
    c("PodDNSConfigOption"): obj(
        "One resolver option.",
        {
            "name": string("Option name.", 1),
            "value": string("Option value.", 2),
        }),
    c("PodDNSConfig"): obj(
        "DNS settings added to those the DNS policy gives.",
        {
            "nameservers": string_list("Name server IPs.", 1),
            "searches": string_list("Search domains.", 2),
            "options": list_of(c("PodDNSConfigOption"), "Resolver options.", 3,
                               list_type="atomic"),
        }),
    c("PodReadinessGate"): obj(
        "A pod condition that must be True for the pod to be ready.",
        {"conditionType": string("Condition type.", 1)},
        required=["conditionType"]),
    c("PodOS"): obj(
        "Operating system of the pod's containers.",
        {"name": string("linux or windows.", 1)},
        required=["name"]),
    c("PodSchedulingGate"): obj(
        "A gate that holds scheduling back while present.",
        {"name": string("Gate name.", 1)},
        required=["name"]),
    c("PodResourceClaim"): obj(
        "A ResourceClaim the pod uses, named for its containers.",
        {
            "name": string("Name used by containers.", 1),
            "resourceClaimName": string("Existing ResourceClaim.", 3),
            "resourceClaimTemplateName": string("Template a claim is created from.", 4),
        },
        required=["name"]),
    c("WorkloadReference"): obj(
        "The Workload and pod group a pod belongs to.",
        {
            "name": string("Workload name.", 1),
            "podGroup": string("Pod group within the workload.", 2),
            "podGroupReplicaKey": string("Replica of the pod group.", 3),
        },
        required=["name", "podGroup"]),
    c("PodSpec"): obj(
        "Desired state of a pod.",
        {
            "volumes": list_of(c("Volume"), "Volumes the containers may mount.", 1,
                               list_type="map", map_keys=["name"], merge_key="name",
                               strategy="merge,retainKeys"),
            "initContainers": list_of(c("Container"), "Containers run in order before the "
                                      "others.", 20, list_type="map", map_keys=["name"],
                                      merge_key="name", strategy="merge"),
            "containers": list_of(c("Container"), "The pod's containers; at least one.", 2,
                                  list_type="map", map_keys=["name"], merge_key="name",
                                  strategy="merge"),
            "ephemeralContainers": list_of(c("EphemeralContainer"),
                                           "Debugging containers added later.", 34,
                                           list_type="map", map_keys=["name"],
                                           merge_key="name", strategy="merge"),
            "restartPolicy": string("Always, OnFailure or Never.", 3,
                                    enum=["Always", "Never", "OnFailure"]),
            "terminationGracePeriodSeconds": int64("Seconds given to stop gracefully.", 4),
            "activeDeadlineSeconds": int64("Seconds the pod may run before it is failed.", 5),
            "dnsPolicy": string("ClusterFirst, ClusterFirstWithHostNet, Default or None.", 6,
                                enum=["ClusterFirst", "ClusterFirstWithHostNet", "Default",
                                      "None"]),
            "nodeSelector": string_map("Labels a node must have.", 7, map_type="atomic"),
            "serviceAccountName": string("ServiceAccount the pod runs as.", 8),
            "serviceAccount": string("Deprecated alias of serviceAccountName.", 9),
            "automountServiceAccountToken": boolean("Mount a service account token.", 21),
            "nodeName": string("Node the pod is bound to.", 10),
            "hostNetwork": boolean("Use the node's network namespace.", 11),
            "hostPID": boolean("Use the node's PID namespace.", 12),
            "hostIPC": boolean("Use the node's IPC namespace.", 13),
            "shareProcessNamespace": boolean("Share one PID namespace between containers.", 27),
            "securityContext": ref(c("PodSecurityContext"), "Pod-wide security settings.", 14),
            "imagePullSecrets": list_of(LOCAL_REF, "Secrets used to pull images.", 15,
                                        list_type="map", map_keys=["name"], merge_key="name",
                                        strategy="merge"),
            "hostname": string("Host name of the pod.", 16),
            "subdomain": string("Subdomain forming the pod's FQDN.", 17),
            "affinity": ref(c("Affinity"), "Scheduling constraints.", 18),
            "schedulerName": string("Scheduler that places the pod.", 19),
            "tolerations": list_of(c("Toleration"), "Taints the pod tolerates.", 22,
                                   list_type="atomic"),
            "hostAliases": list_of(c("HostAlias"), "Extra /etc/hosts entries.", 23,
                                   list_type="map", map_keys=["ip"], merge_key="ip",
                                   strategy="merge"),
            "priorityClassName": string("PriorityClass of the pod.", 24),
            "priority": integer("Priority value, set from the PriorityClass.", 25),
            "dnsConfig": ref(c("PodDNSConfig"), "Extra DNS settings.", 26),
            "readinessGates": list_of(c("PodReadinessGate"), "Extra readiness conditions.", 28,
                                      list_type="atomic"),
            "runtimeClassName": string("RuntimeClass the pod runs with.", 29),
            "enableServiceLinks": boolean("Inject Service environment variables.", 30),
            "preemptionPolicy": string("PreemptLowerPriority or Never.", 31),
            "overhead": quantity_map("Resources the runtime itself uses for the pod.", 32),
            "topologySpreadConstraints": list_of(
                c("TopologySpreadConstraint"), "How the pod spreads over topology domains.", 33,
                list_type="map", map_keys=["topologyKey", "whenUnsatisfiable"],
                merge_key="topologyKey", strategy="merge"),
            "setHostnameAsFQDN": boolean("Use the FQDN as the host name.", 35),
            "os": ref(c("PodOS"), "Operating system of the containers.", 36),
            "hostUsers": boolean("Use the node's user namespace.", 37),
            "schedulingGates": list_of(c("PodSchedulingGate"), "Gates holding scheduling back.",
                                       38, list_type="map", map_keys=["name"], merge_key="name",
                                       strategy="merge"),
            "resourceClaims": list_of(c("PodResourceClaim"), "ResourceClaims the pod uses.", 39,
                                      list_type="map", map_keys=["name"], merge_key="name",
                                      strategy="merge,retainKeys"),
            "resources": ref(c("ResourceRequirements"), "Pod-level compute resources.", 40),
            "hostnameOverride": string("Host name the pod sees, overriding the others.", 41),
            "workloadRef": ref(c("WorkloadReference"), "Workload the pod belongs to.", 42),
        },
        required=["containers"]),
    c("PodCondition"): obj(
        "One observed aspect of a pod's state.",
        {
            "type": string("Condition type, e.g. Ready.", 1),
            "observedGeneration": int64("metadata.generation the condition reflects.", 7),
            "status": string("True, False or Unknown.", 2),
            "lastProbeTime": time("When the condition was last probed.", 3),
            "lastTransitionTime": time("When status last changed.", 4),
            "reason": string("CamelCase cause of the last transition.", 5),
            "message": string("Human-readable detail.", 6),
        },
        required=["type", "status"]),
    c("HostIP"): obj("One IP address of the pod's node.",
                     {"ip": string("The address.", 1)}, required=["ip"]),
    c("PodIP"): obj("One IP address of the pod.", {"ip": string("The address.", 1)},
                    required=["ip"]),
    c("ContainerStateWaiting"): obj(
        "A container not yet running.",
        {
            "reason": string("Why it is waiting.", 1),
            "message": string("Detail of the wait.", 2),
        }),
    c("ContainerStateRunning"): obj(
        "A running container.",
        {"startedAt": time("When it last started.", 1)}),
    c("ContainerStateTerminated"): obj(
        "A container that has exited.",
        {
            "exitCode": integer("Exit status.", 1),
            "signal": integer("Signal that ended it.", 2),
            "reason": string("Brief reason.", 3),
            "message": string("Detail of the termination.", 4),
            "startedAt": time("When that run started.", 5),
            "finishedAt": time("When it ended.", 6),
            "containerID": string("Container id, <type>://<id>.", 7),
        },
        required=["exitCode"]),
    c("ContainerState"): obj(
        "State of a container; at most one member is set.",
        {
            "waiting": ref(c("ContainerStateWaiting"), "Waiting to run.", 1),
            "running": ref(c("ContainerStateRunning"), "Running.", 2),
            "terminated": ref(c("ContainerStateTerminated"), "Exited.", 3),
        }),
    c("ImageVolumeStatus"): obj("Status of an image volume.",
                                {"imageRef": string("Digest of the image used.", 1)},
                                required=["imageRef"]),
    c("VolumeStatus"): obj("Type-specific status of a mounted volume.",
                           {"image": ref(c("ImageVolumeStatus"), "Image volume status.", 1)}),
    c("VolumeMountStatus"): obj(
        "Status of one volume mount.",
        {
            "name": string("Name of the volume mount.", 1),
            "mountPath": string("Path of the mount.", 2),
            "readOnly": boolean("Mounted read-only.", 3),
            "recursiveReadOnly": string("Disabled or Enabled.", 4),
            "volumeStatus": ref(c("VolumeStatus"), "Type-specific status.", 5),
        },
        required=["name", "mountPath"]),
    c("LinuxContainerUser"): obj(
        "Identity of a Linux container's first process.",
        {
            "uid": int64("Primary UID.", 1),
            "gid": int64("Primary GID.", 2),
            "supplementalGroups": array(int64(), "Supplemental groups.", 3, list_type="atomic"),
        },
        required=["uid", "gid"]),
    c("ContainerUser"): obj("Identity of a container's first process.",
                            {"linux": ref(c("LinuxContainerUser"), "Linux identity.", 1)}),
    c("ResourceHealth"): obj(
        "Health of one allocated device.",
        {
            "resourceID": string("Id of the device.", 1),
            "health": string("Healthy, Unhealthy or Unknown.", 2),
            "message": string("Detail of the health.", 6),
        },
        required=["resourceID"]),
    c("ResourceStatus"): obj(
        "Health of the devices behind one resource.",
        {
            "name": string("Resource name.", 1),
            "resources": list_of(c("ResourceHealth"), "Per-device health.", 2,
                                 list_type="map", map_keys=["resourceID"]),
        },
        required=["name"]),
    c("ContainerStatus"): obj(
        "Observed state of one container.",
        {
            "name": string("Container name.", 1),
            "state": ref(c("ContainerState"), "Current state.", 2),
            "lastState": ref(c("ContainerState"), "State of the previous run.", 3),
            "ready": boolean("Passing its readiness check.", 4),
            "restartCount": integer("Number of restarts.", 5),
            "image": string("Image running.", 6),
            "imageID": string("Id of the image running.", 7),
            "containerID": string("Container id, <type>://<id>.", 8),
            "started": boolean("Started and past its startup probe.", 9),
            "allocatedResources": quantity_map("Resources the node allocated.", 10),
            "resources": ref(c("ResourceRequirements"), "Resources in effect.", 11),
            "volumeMounts": list_of(c("VolumeMountStatus"), "Status of volume mounts.", 12,
                                    list_type="map", map_keys=["mountPath"],
                                    merge_key="mountPath", strategy="merge"),
            "user": ref(c("ContainerUser"), "Identity of the first process.", 13),
            "allocatedResourcesStatus": list_of(c("ResourceStatus"),
                                                "Health of allocated resources.", 14,
                                                list_type="map", map_keys=["name"],
                                                merge_key="name", strategy="merge"),
            "stopSignal": string("Signal that stops the container.", 15),
        },
        required=["name", "ready", "restartCount", "image", "imageID"]),
    c("PodResourceClaimStatus"): obj(
        "The ResourceClaim generated for one pod resource claim.",
        {
            "name": string("Name of the pod resource claim.", 1),
            "resourceClaimName": string("Name of the generated ResourceClaim.", 2),
        },
        required=["name"]),
    c("ContainerExtendedResourceRequest"): obj(
        "Maps a container's extended resource to a request of a claim.",
        {
            "containerName": string("Container name.", 1),
            "resourceName": string("Extended resource name.", 2),
            "requestName": string("Request in the generated claim.", 3),
        },
        required=["containerName", "resourceName", "requestName"]),
    c("PodExtendedResourceClaimStatus"): obj(
        "The claim generated for extended resources backed by dynamic allocation.",
        {
            "requestMappings": list_of(c("ContainerExtendedResourceRequest"),
                                       "Which request serves which container resource.", 1,
                                       list_type="atomic"),
            "resourceClaimName": string("Name of the generated claim.", 2),
        },
        required=["requestMappings", "resourceClaimName"]),
    c("PodStatus"): obj(
        "Observed state of a pod.",
        {
            "observedGeneration": int64("metadata.generation the status reflects.", 17),
            "phase": string("Pending, Running, Succeeded, Failed or Unknown.", 1,
                            enum=["Failed", "Pending", "Running", "Succeeded", "Unknown"]),
            "conditions": list_of(c("PodCondition"), "Observed conditions.", 2,
                                  list_type="map", map_keys=["type"], merge_key="type",
                                  strategy="merge"),
            "message": string("Why the pod is in this state.", 3),
            "reason": string("Brief CamelCase reason, e.g. Evicted.", 4),
            "nominatedNodeName": string("Node the pod may run on after preemption.", 11),
            "hostIP": string("IP of the node.", 5),
            "hostIPs": list_of(c("HostIP"), "IPs of the node.", 16, list_type="atomic",
                               merge_key="ip", strategy="merge"),
            "podIP": string("IP of the pod.", 6),
            "podIPs": list_of(c("PodIP"), "IPs of the pod.", 12, list_type="map",
                              map_keys=["ip"], merge_key="ip", strategy="merge"),
            "startTime": time("When the kubelet accepted the pod.", 7),
            "initContainerStatuses": list_of(c("ContainerStatus"), "Init container states.", 10,
                                             list_type="atomic"),
            "containerStatuses": list_of(c("ContainerStatus"), "Container states.", 8,
                                         list_type="atomic"),
            "qosClass": string("Guaranteed, Burstable or BestEffort.", 9,
                               enum=["BestEffort", "Burstable", "Guaranteed"]),
            "ephemeralContainerStatuses": list_of(c("ContainerStatus"),
                                                  "Ephemeral container states.", 13,
                                                  list_type="atomic"),
            "resize": string("Deprecated resize status.", 14),
            "resourceClaimStatuses": list_of(c("PodResourceClaimStatus"),
                                             "Generated ResourceClaims.", 15, list_type="map",
                                             map_keys=["name"], merge_key="name",
                                             strategy="merge,retainKeys"),
            "extendedResourceClaimStatus": ref(c("PodExtendedResourceClaimStatus"),
                                               "Claim for extended resources.", 18),
            "allocatedResources": quantity_map("Requests the node allocated to the pod.", 19),
            "resources": ref(c("ResourceRequirements"), "Pod-level resources in effect.", 20),
        }),
}

# --- namespace, config, accounts, events -------------------------------------------------------

SIMPLE_KINDS: dict[str, Schema] = {
    c("NamespaceSpec"): obj(
        "Desired state of a namespace.",
        {"finalizers": string_list("Tokens that must be gone before the namespace is removed.",
                                   1)}),
    c("NamespaceCondition"): obj(
        "One observed aspect of a namespace's state.",
        {
            "type": string("Condition type.", 1),
            "status": string("True, False or Unknown.", 2),
            "lastTransitionTime": time("When status last changed.", 4),
            "reason": string("CamelCase cause of the last transition.", 5),
            "message": string("Human-readable detail.", 6),
        },
        required=["type", "status"]),
    c("NamespaceStatus"): obj(
        "Observed state of a namespace.",
        {
            "phase": string("Active or Terminating.", 1, enum=["Active", "Terminating"]),
            "conditions": list_of(c("NamespaceCondition"), "Observed conditions.", 2,
                                  list_type="map", map_keys=["type"], merge_key="type",
                                  strategy="merge"),
        }),
    c("Namespace"): kind("", "v1", "Namespace", "A scope for names.", {
        "spec": ref(c("NamespaceSpec"), "Desired state.", 2),
        "status": ref(c("NamespaceStatus"), "Observed state.", 3),
    }),
    c("ConfigMap"): kind("", "v1", "ConfigMap", "Configuration data for pods.", {
        "immutable": boolean("When true, data and binaryData can no longer change.", 4),
        "data": string_map("UTF-8 configuration values by key.", 2),
        "binaryData": bytes_map("Binary values by key, base64 in JSON.", 3),
    }),
    c("Secret"): kind("", "v1", "Secret", "Sensitive data for pods.", {
        "immutable": boolean("When true, data can no longer change.", 5),
        "data": bytes_map("Secret values by key, base64 in JSON.", 2),
        "stringData": string_map("Write-only plain-text values merged into data.", 4),
        "type": string("Type of the secret, e.g. Opaque or kubernetes.io/tls.", 3),
    }),
    c("ServiceAccount"): kind("", "v1", "ServiceAccount", "An identity for processes in pods.", {
        "secrets": list_of(c("ObjectReference"), "Secrets pods of this account may use.", 2,
                           list_type="map", map_keys=["name"], merge_key="name",
                           strategy="merge"),
        "imagePullSecrets": list_of(LOCAL_REF, "Secrets used to pull images.", 3,
                                    list_type="atomic"),
        "automountServiceAccountToken": boolean("Mount a token into pods by default.", 4),
    }),
    c("EventSource"): obj(
        "Who reported an event.",
        {
            "component": string("Reporting component.", 1),
            "host": string("Node the event came from.", 2),
        }),
    c("EventSeries"): obj(
        "A repeating event.",
        {
            "count": integer("Occurrences so far.", 1),
            "lastObservedTime": micro_time("Last occurrence.", 2),
        }),
    c("Event"): kind("", "v1", "Event", "A report of something that happened in the cluster.", {
        "involvedObject": ref(c("ObjectReference"), "Object the event is about.", 2),
        "reason": string("Short machine-readable reason.", 3),
        "message": string("Human-readable description.", 4),
        "source": ref(c("EventSource"), "Reporting component.", 5),
        "firstTimestamp": time("When first recorded.", 6),
        "lastTimestamp": time("When last recorded.", 7),
        "count": integer("Times it happened.", 8),
        "type": string("Normal or Warning.", 9),
        "eventTime": micro_time("When first observed.", 10),
        "series": ref(c("EventSeries"), "Series data for a repeating event.", 11),
        "action": string("Action taken or failed.", 12),
        "related": ref(c("ObjectReference"), "A second object involved.", 13),
        "reportingComponent": string("Controller that emitted it.", 14),
        "reportingInstance": string("Instance of that controller.", 15),
    }, required=["metadata", "involvedObject"]),
    c("Pod"): kind("", "v1", "Pod", "A group of containers run together on one node.", {
        "spec": ref(c("PodSpec"), "Desired state.", 2),
        "status": ref(c("PodStatus"), "Observed state.", 3),
    }),
}

# --- service and endpoints ---------------------------------------------------------------------

SERVICES: dict[str, Schema] = {
    c("ServicePort"): obj(
        "One port of a service.",
        {
            "name": string("Port name, unique in the service.", 1),
            "protocol": string("TCP, UDP or SCTP; default TCP.", 2, default="TCP",
                               enum=["SCTP", "TCP", "UDP"]),
            "appProtocol": string("Application protocol hint.", 6),
            "port": integer("Port the service exposes.", 3),
            "targetPort": int_or_string("Pod port number or name; default port.", 4),
            "nodePort": integer("Port opened on every node for NodePort and LoadBalancer.", 5),
        },
        required=["port"]),
    c("ClientIPConfig"): obj(
        "Settings of client-IP session affinity.",
        {"timeoutSeconds": integer("Seconds a session sticks; default 10800.", 1)}),
    c("SessionAffinityConfig"): obj(
        "Settings of session affinity.",
        {"clientIP": ref(c("ClientIPConfig"), "Client-IP affinity settings.", 1)}),
    c("ServiceSpec"): obj(
        "Desired state of a service.",
        {
            "ports": list_of(c("ServicePort"), "Ports exposed.", 1, list_type="map",
                             map_keys=["port", "protocol"], merge_key="port", strategy="merge"),
            "selector": string_map("Labels of the pods that back the service.", 2,
                                   map_type="atomic"),
            "clusterIP": string("Virtual IP; None for a headless service.", 3),
            "clusterIPs": string_list("Virtual IPs, one per family.", 18),
            "type": string("ClusterIP, NodePort, LoadBalancer or ExternalName.", 4,
                           enum=["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]),
            "externalIPs": string_list("Extra IPs nodes accept traffic for.", 5),
            "sessionAffinity": string("ClientIP or None.", 7, enum=["ClientIP", "None"]),
            "loadBalancerIP": string("Deprecated requested load-balancer IP.", 8),
            "loadBalancerSourceRanges": string_list("Client CIDRs the load balancer admits.", 9),
            "externalName": string("DNS name an ExternalName service aliases.", 10),
            "externalTrafficPolicy": string("Cluster or Local.", 11,
                                            enum=["Cluster", "Local"]),
            "healthCheckNodePort": integer("Health-check node port for Local traffic.", 12),
            "publishNotReadyAddresses": boolean("Publish endpoints that are not ready.", 13),
            "sessionAffinityConfig": ref(c("SessionAffinityConfig"), "Affinity settings.", 14),
            "ipFamilies": string_list("IPv4 and/or IPv6.", 19),
            "ipFamilyPolicy": string("SingleStack, PreferDualStack or RequireDualStack.", 17),
            "allocateLoadBalancerNodePorts": boolean("Allocate node ports for LoadBalancer.",
                                                     20),
            "loadBalancerClass": string("Load-balancer implementation.", 21),
            "internalTrafficPolicy": string("Cluster or Local.", 22, enum=["Cluster", "Local"]),
            "trafficDistribution": string("Preference for routing, e.g. PreferClose.", 23),
        }),
    c("PortStatus"): obj(
        "Error state of one service port.",
        {
            "port": integer("Port number.", 1),
            "protocol": string("TCP, UDP or SCTP.", 2),
            "error": string("Problem with the port.", 3),
        },
        required=["port", "protocol"]),
    c("LoadBalancerIngress"): obj(
        "One ingress point of a load balancer.",
        {
            "ip": string("IP of the ingress point.", 1),
            "hostname": string("DNS name of the ingress point.", 2),
            "ipMode": string("VIP or Proxy.", 3),
            "ports": list_of(c("PortStatus"), "Per-port status.", 4, list_type="atomic"),
        }),
    c("LoadBalancerStatus"): obj(
        "State of a load balancer.",
        {"ingress": list_of(c("LoadBalancerIngress"), "Ingress points.", 1,
                            list_type="atomic")}),
    c("ServiceStatus"): obj(
        "Observed state of a service.",
        {
            "loadBalancer": ref(c("LoadBalancerStatus"), "Load balancer, if any.", 1),
            "conditions": list_of(CONDITION, "Observed conditions.", 2, list_type="map",
                                  map_keys=["type"], merge_key="type", strategy="merge"),
        }),
    c("Service"): kind("", "v1", "Service", "A stable address for a set of pods.", {
        "spec": ref(c("ServiceSpec"), "Desired state.", 2),
        "status": ref(c("ServiceStatus"), "Observed state.", 3),
    }),
    c("EndpointAddress"): obj(
        "One endpoint IP.",
        {
            "ip": string("The IP.", 1),
            "hostname": string("Host name of the endpoint.", 3),
            "nodeName": string("Node hosting the endpoint.", 4),
            "targetRef": ref(c("ObjectReference"), "Object providing the endpoint.", 2),
        },
        required=["ip"], map_type="atomic"),
    c("EndpointPort"): obj(
        "One endpoint port.",
        {
            "name": string("Name matching a service port.", 1),
            "port": integer("Port number.", 2),
            "protocol": string("TCP, UDP or SCTP.", 3, enum=["SCTP", "TCP", "UDP"]),
            "appProtocol": string("Application protocol hint.", 4),
        },
        required=["port"], map_type="atomic"),
    c("EndpointSubset"): obj(
        "Addresses that share a set of ports.",
        {
            "addresses": list_of(c("EndpointAddress"), "Ready addresses.", 1,
                                 list_type="atomic"),
            "notReadyAddresses": list_of(c("EndpointAddress"), "Addresses not ready.", 2,
                                         list_type="atomic"),
            "ports": list_of(c("EndpointPort"), "Ports on those addresses.", 3,
                             list_type="atomic"),
        }),
    c("Endpoints"): kind("", "v1", "Endpoints", "The addresses behind a service (legacy API).", {
        "subsets": list_of(c("EndpointSubset"), "Groups of addresses and ports.", 2,
                           list_type="atomic"),
    }),
}

# --- node -------------------------------------------------------------------------------------

NODES: dict[str, Schema] = {
    c("Taint"): obj(
        "Repels pods that do not tolerate it.",
        {
            "key": string("Taint key.", 1),
            "value": string("Taint value.", 2),
            "effect": string("NoSchedule, PreferNoSchedule or NoExecute.", 3,
                             enum=["NoExecute", "NoSchedule", "PreferNoSchedule"]),
            "timeAdded": time("When the taint was added.", 4),
        },
        required=["key", "effect"]),
    c("ConfigMapNodeConfigSource"): obj(
        "Deprecated: a ConfigMap holding node configuration.",
        {
            "namespace": string("Namespace of the ConfigMap.", 1),
            "name": string("Name of the ConfigMap.", 2),
            "uid": string("UID of the ConfigMap.", 3),
            "resourceVersion": string("resourceVersion of the ConfigMap.", 4),
            "kubeletConfigKey": string("Key holding the kubelet configuration.", 5),
        },
        required=["namespace", "name", "kubeletConfigKey"]),
    c("NodeConfigSource"): obj(
        "Deprecated: source of node configuration.",
        {"configMap": ref(c("ConfigMapNodeConfigSource"), "A ConfigMap source.", 2)}),
    c("NodeSpec"): obj(
        "Desired state of a node.",
        {
            "podCIDR": string("Pod IP range of the node.", 1),
            "podCIDRs": string_list("Pod IP ranges, one per family.", 7, list_type="set",
                                    strategy="merge"),
            "providerID": string("Cloud provider id of the node.", 3),
            "unschedulable": boolean("Keep new pods off the node.", 4),
            "taints": list_of(c("Taint"), "Taints of the node.", 5, list_type="atomic"),
            "configSource": ref(c("NodeConfigSource"), "Deprecated configuration source.", 6),
            "externalID": string("Deprecated external id.", 2),
        }),
    c("NodeCondition"): obj(
        "One observed aspect of a node's state.",
        {
            "type": string("Condition type, e.g. Ready.", 1),
            "status": string("True, False or Unknown.", 2),
            "lastHeartbeatTime": time("Last update of the condition.", 3),
            "lastTransitionTime": time("When status last changed.", 4),
            "reason": string("Brief reason of the last transition.", 5),
            "message": string("Human-readable detail.", 6),
        },
        required=["type", "status"]),
    c("NodeAddress"): obj(
        "One address of a node.",
        {
            "type": string("Hostname, InternalIP, ExternalIP and so on.", 1),
            "address": string("The address.", 2),
        },
        required=["type", "address"]),
    c("DaemonEndpoint"): obj("Port of a daemon on the node.",
                             {"Port": integer("Port number.", 1)}, required=["Port"]),
    c("NodeDaemonEndpoints"): obj(
        "Ports of daemons on the node.",
        {"kubeletEndpoint": ref(c("DaemonEndpoint"), "Kubelet port.", 1)}),
    c("NodeSwapStatus"): obj("Swap memory of the node.",
                             {"capacity": int64("Total swap in bytes.", 1)}),
    c("NodeSystemInfo"): obj(
        "Ids and versions reported by the node.",
        {
            "machineID": string("Machine id.", 1),
            "systemUUID": string("System UUID.", 2),
            "bootID": string("Boot id.", 3),
            "kernelVersion": string("Kernel version.", 4),
            "osImage": string("OS image.", 5),
            "containerRuntimeVersion": string("Container runtime and version.", 6),
            "kubeletVersion": string("Kubelet version.", 7),
            "kubeProxyVersion": string("Deprecated kube-proxy version.", 8),
            "operatingSystem": string("Operating system.", 9),
            "architecture": string("CPU architecture.", 10),
            "swap": ref(c("NodeSwapStatus"), "Swap information.", 11),
        },
        required=["machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                  "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                  "operatingSystem", "architecture"]),
    c("ContainerImage"): obj(
        "An image present on the node.",
        {
            "names": string_list("Names of the image.", 1),
            "sizeBytes": int64("Size in bytes.", 2),
        }),
    c("AttachedVolume"): obj(
        "A volume attached to the node.",
        {
            "name": string("Volume name.", 1),
            "devicePath": string("Device path of the volume.", 2),
        },
        required=["name", "devicePath"]),
    c("NodeConfigStatus"): obj(
        "Deprecated: status of dynamic node configuration.",
        {
            "assigned": ref(c("NodeConfigSource"), "Configuration assigned.", 1),
            "active": ref(c("NodeConfigSource"), "Configuration in use.", 2),
            "lastKnownGood": ref(c("NodeConfigSource"), "Fallback configuration.", 3),
            "error": string("Problem applying configuration.", 4),
        }),
    c("NodeRuntimeHandlerFeatures"): obj(
        "Features of a runtime handler.",
        {
            "recursiveReadOnlyMounts": boolean("Supports recursive read-only mounts.", 1),
            "userNamespaces": boolean("Supports user namespaces.", 2),
        }),
    c("NodeRuntimeHandler"): obj(
        "A runtime handler of the node.",
        {
            "name": string("Handler name; empty for the default.", 1),
            "features": ref(c("NodeRuntimeHandlerFeatures"), "Supported features.", 2),
        }),
    c("NodeFeatures"): obj(
        "Features of the node's container runtime.",
        {
            "supplementalGroupsPolicy": boolean("Supports supplementalGroupsPolicy.", 1),
            "containerUlimits": boolean("Supports per-container ulimits.", 2),
        }),
    c("NodeStatus"): obj(
        "Observed state of a node.",
        {
            "capacity": quantity_map("Total resources of the node.", 1),
            "allocatable": quantity_map("Resources available to pods.", 2),
            "phase": string("Deprecated and never set.", 3),
            "conditions": list_of(c("NodeCondition"), "Observed conditions.", 4,
                                  list_type="map", map_keys=["type"], merge_key="type",
                                  strategy="merge"),
            "addresses": list_of(c("NodeAddress"), "Addresses of the node.", 5,
                                 list_type="map", map_keys=["type"], merge_key="type",
                                 strategy="merge"),
            "daemonEndpoints": ref(c("NodeDaemonEndpoints"), "Ports of node daemons.", 6),
            "nodeInfo": ref(c("NodeSystemInfo"), "Ids and versions.", 7),
            "images": list_of(c("ContainerImage"), "Images on the node.", 8,
                              list_type="atomic"),
            "volumesInUse": string_list("Volumes mounted on the node.", 9),
            "volumesAttached": list_of(c("AttachedVolume"), "Volumes attached to the node.", 10,
                                       list_type="atomic"),
            "config": ref(c("NodeConfigStatus"), "Deprecated configuration status.", 11),
            "runtimeHandlers": list_of(c("NodeRuntimeHandler"), "Runtime handlers.", 12,
                                       list_type="atomic"),
            "features": ref(c("NodeFeatures"), "Runtime features.", 13),
            "declaredFeatures": string_list("Feature-gate features the node declares.", 14),
        }),
    c("Node"): kind("", "v1", "Node", "A machine that runs pods.", {
        "spec": ref(c("NodeSpec"), "Desired state.", 2),
        "status": ref(c("NodeStatus"), "Observed state.", 3),
    }),
}

SCHEMAS: dict[str, Schema] = {
    **REFERENCES, **ENVIRONMENT, **CONTAINER_PARTS, **CONTAINERS, **VOLUMES, **SCHEDULING,
    **POD, **SIMPLE_KINDS, **SERVICES, **NODES,
}

KINDS: list[tuple[str, str, str, str]] = [
    ("", "v1", name, c(name))
    for name in ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "Event", "Pod", "Service",
                 "Endpoints", "Node")
]
