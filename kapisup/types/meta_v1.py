"""meta/v1 and the shared wire types: object metadata, Status, options, watch events, discovery.

Field numbers follow apimachinery's generated.proto for meta/v1, intstr and resource.
"""

from __future__ import annotations

from kapisup.types.dsl import (
    INT_OR_STRING,
    LABEL_SELECTOR,
    LIST_META,
    META,
    MICRO_TIME,
    OBJECT_META,
    PROTO_KIND,
    QUANTITY,
    RAW_EXTENSION,
    TIME,
    Schema,
    boolean,
    free_object,
    int64,
    integer,
    list_of,
    obj,
    ref,
    string,
    string_list,
    string_map,
    time,
    wrapped_string_list,
)


def _time_schema(description: str) -> Schema:
    return {"description": description, "type": "string", "format": "date-time",
            PROTO_KIND: "time"}


OWNER_REFERENCE = obj(
    "Names an object that owns this one; the garbage collector follows these links.",
    {
        "apiVersion": string("API version of the owner.", 5),
        "kind": string("Kind of the owner.", 1),
        "name": string("Name of the owner.", 3),
        "uid": string("UID of the owner.", 4),
        "controller": boolean("True when the owner is the managing controller.", 6),
        "blockOwnerDeletion": boolean(
            "When true, foreground deletion of the owner waits for this object.", 7),
    },
    required=["apiVersion", "kind", "name", "uid"],
    map_type="atomic",
)

MANAGED_FIELDS_ENTRY = obj(
    "Which fields one manager owns, recorded for server-side apply.",
    {
        "manager": string("Identifies the workflow managing these fields.", 1),
        "operation": string("Operation that recorded this entry: Apply or Update.", 2),
        "apiVersion": string("Group/version the field set is expressed in.", 3),
        "time": time("When the entry last changed.", 4),
        "fieldsType": string("Format of the field set; only FieldsV1 exists.", 6),
        "fieldsV1": ref(META + "FieldsV1", "The owned field set.", 7),
        "subresource": string("Subresource the update went through, if any.", 8),
    },
)

OBJECT_META_SCHEMA = obj(
    "Metadata every persisted object carries.",
    {
        "name": string("Name, unique within the namespace (or cluster for cluster-scoped kinds).",
                       1),
        "generateName": string("Prefix the server completes into a unique name when name is empty.",
                               2),
        "namespace": string("Namespace the object lives in.", 3),
        "selfLink": string("Legacy field; no longer set.", 4),
        "uid": string("Unique id assigned by the server at creation.", 5),
        "resourceVersion": string("Opaque version for optimistic concurrency and watches.", 6),
        "generation": int64("Sequence number of the desired state.", 7),
        "creationTimestamp": time("When the server created the object.", 8),
        "deletionTimestamp": time("When graceful deletion was requested to finish.", 9),
        "deletionGracePeriodSeconds": int64("Grace period granted for deletion, in seconds.", 10),
        "labels": string_map("Key/value pairs for selecting and grouping objects.", 11),
        "annotations": string_map("Arbitrary key/value metadata kept for tools.", 12),
        "ownerReferences": list_of(
            META + "OwnerReference", "Objects this one depends on.", 13,
            list_type="map", map_keys=["uid"], merge_key="uid", strategy="merge"),
        "finalizers": string_list("Tokens that must be removed before the object is deleted.", 14,
                                  list_type="set", strategy="merge"),
        "managedFields": list_of(META + "ManagedFieldsEntry",
                                 "Field ownership per manager (server-side apply).", 17,
                                 list_type="atomic"),
    },
)

LIST_META_SCHEMA = obj(
    "Metadata of a list or other synthetic response.",
    {
        "selfLink": string("Legacy field; no longer set.", 1),
        "resourceVersion": string("Version of the collection at the time of the list.", 2),
        "continue": string("Token to fetch the next page, when a limit cut the list short.", 3),
        "remainingItemCount": int64("Estimated number of items after this page.", 4),
    },
)

LABEL_SELECTOR_REQUIREMENT = obj(
    "One selector clause: a key, an operator and values.",
    {
        "key": string("Label key the clause tests.", 1),
        "operator": string("In, NotIn, Exists or DoesNotExist.", 2),
        "values": string_list("Values for In and NotIn; empty for Exists and DoesNotExist.", 3),
    },
    required=["key", "operator"],
)

LABEL_SELECTOR_SCHEMA = obj(
    "Selects objects by labels; all clauses must hold. Empty matches all, null matches none.",
    {
        "matchLabels": string_map("Exact key/value pairs, each one an In clause.", 1),
        "matchExpressions": list_of(META + "LabelSelectorRequirement",
                                    "Clauses that must all hold.", 2, list_type="atomic"),
    },
    map_type="atomic",
)

CONDITION_SCHEMA = obj(
    "One observed aspect of an object's state.",
    {
        "type": string("Condition type in CamelCase.", 1),
        "status": string("True, False or Unknown.", 2, enum=["True", "False", "Unknown"]),
        "observedGeneration": int64("metadata.generation the condition was computed from.", 3),
        "lastTransitionTime": time("When status last changed.", 4),
        "reason": string("Machine-readable CamelCase cause of the last transition.", 5),
        "message": string("Human-readable detail of the last transition.", 6),
    },
    required=["type", "status", "lastTransitionTime", "reason", "message"],
)

STATUS_CAUSE = obj(
    "One cause of a failure, often one invalid field.",
    {
        "reason": string("Machine-readable cause.", 1),
        "message": string("Human-readable description.", 2),
        "field": string("Path of the offending field, e.g. spec.containers[0].name.", 3),
    },
)

STATUS_DETAILS = obj(
    "Extra data about the object a Status concerns.",
    {
        "name": string("Name of the object concerned.", 1),
        "group": string("API group of the object concerned.", 2),
        "kind": string("Kind (or resource) of the object concerned.", 3),
        "uid": string("UID of the object concerned.", 6),
        "causes": list_of(META + "StatusCause", "Individual causes of the failure.", 4,
                          list_type="atomic"),
        "retryAfterSeconds": integer("Seconds to wait before retrying.", 5),
    },
)

STATUS = obj(
    "Result of a call that returns no object, and the shape of every API error.",
    {
        "apiVersion": string("Versioned schema of this object, here v1."),
        "kind": string("Kind of this object, here Status."),
        "metadata": ref(LIST_META, "List metadata.", 1),
        "status": string("Success or Failure.", 2),
        "message": string("Human-readable description of the outcome.", 3),
        "reason": string("Machine-readable reason for a failure.", 4),
        "details": ref(META + "StatusDetails", "Extra data tied to the reason.", 5),
        "code": integer("Suggested HTTP status code.", 6),
    },
    gvk=("", "v1", "Status"),
)

PRECONDITIONS = obj(
    "Conditions the stored object must meet before the operation proceeds.",
    {
        "uid": string("Required UID of the object.", 1),
        "resourceVersion": string("Required resourceVersion of the object.", 2),
    },
)

DELETE_OPTIONS = obj(
    "Options of a delete request.",
    {
        "apiVersion": string("Versioned schema of this object."),
        "kind": string("Kind of this object, here DeleteOptions."),
        "gracePeriodSeconds": int64("Seconds before the object is deleted; 0 means now.", 1),
        "preconditions": ref(META + "Preconditions", "Must hold or the delete is refused.", 2),
        "orphanDependents": boolean("Deprecated: orphan dependents instead of deleting them.", 3),
        "propagationPolicy": string("Orphan, Background or Foreground garbage collection.", 4),
        "dryRun": string_list("When All, nothing is persisted.", 5),
    },
    gvk=("", "v1", "DeleteOptions"),
)

WATCH_EVENT = obj(
    "One change seen by a watch.",
    {
        "type": string("ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.", 1),
        "object": ref(RAW_EXTENSION, "The object after the change (before it, for deletions).", 2),
    },
    required=["type", "object"],
    gvk=("", "v1", "WatchEvent"),
)

GROUP_VERSION_FOR_DISCOVERY = obj(
    "One version of a group, as discovery lists it.",
    {
        "groupVersion": string("group/version, or just the version for the core group.", 1),
        "version": string("The version alone.", 2),
    },
    required=["groupVersion", "version"],
)

SERVER_ADDRESS_BY_CLIENT_CIDR = obj(
    "Server address a client in a given network should use.",
    {
        "clientCIDR": string("Client network the address applies to.", 1),
        "serverAddress": string("host, host:port, IP or IP:port of the server.", 2),
    },
    required=["clientCIDR", "serverAddress"],
)

API_RESOURCE = obj(
    "One resource served by a group version.",
    {
        "name": string("Plural resource name.", 1),
        "singularName": string("Singular resource name.", 6),
        "namespaced": boolean("Whether objects live in namespaces.", 2),
        "group": string("Preferred group when it differs from the list's group.", 8),
        "version": string("Preferred version when it differs from the list's version.", 9),
        "kind": string("Kind of the objects.", 3),
        # protobuf wraps the list in a message {repeated string items = 1}
        "verbs": wrapped_string_list("Verbs the resource supports.", 4),
        "shortNames": string_list("Short aliases for the CLI.", 5, list_type=None),
        "categories": string_list("Groups of resources this one belongs to, like all.", 7,
                                  list_type=None),
        "storageVersionHash": string("Opaque hash of the storage version.", 10),
    },
    required=["name", "singularName", "namespaced", "kind", "verbs"],
)

API_RESOURCE_LIST = obj(
    "The resources of one group version.",
    {
        "apiVersion": string("Versioned schema of this object, here v1."),
        "kind": string("Kind of this object, here APIResourceList."),
        "groupVersion": string("The group version described.", 1),
        "resources": list_of(META + "APIResource", "Resources served.", 2),
    },
    required=["groupVersion", "resources"],
    gvk=("", "v1", "APIResourceList"),
)

API_GROUP = obj(
    "A group, its versions and the preferred one.",
    {
        "apiVersion": string("Versioned schema of this object, here v1."),
        "kind": string("Kind of this object, here APIGroup."),
        "name": string("Group name.", 1),
        "versions": list_of(META + "GroupVersionForDiscovery", "Versions served.", 2),
        "preferredVersion": ref(META + "GroupVersionForDiscovery", "Version clients should use.",
                                3),
        "serverAddressByClientCIDRs": list_of(META + "ServerAddressByClientCIDR",
                                              "Where clients in each network reach the server.",
                                              4),
    },
    required=["name", "versions"],
    gvk=("", "v1", "APIGroup"),
)

API_GROUP_LIST = obj(
    "Every group served under /apis.",
    {
        "apiVersion": string("Versioned schema of this object, here v1."),
        "kind": string("Kind of this object, here APIGroupList."),
        "groups": list_of(META + "APIGroup", "The groups.", 1),
    },
    required=["groups"],
    gvk=("", "v1", "APIGroupList"),
)

API_VERSIONS = obj(
    "Versions of the core group served under /api.",
    {
        "apiVersion": string("Versioned schema of this object, here v1."),
        "kind": string("Kind of this object, here APIVersions."),
        "versions": string_list("Versions available.", 1, list_type=None),
        "serverAddressByClientCIDRs": list_of(META + "ServerAddressByClientCIDR",
                                              "Where clients in each network reach the server.",
                                              2),
    },
    required=["versions", "serverAddressByClientCIDRs"],
    gvk=("", "v1", "APIVersions"),
)

SCHEMAS: dict[str, Schema] = {
    TIME: _time_schema("A point in time, RFC 3339 with whole seconds."),
    MICRO_TIME: _time_schema("A point in time, RFC 3339 with microseconds."),
    QUANTITY: {
        "description": "A fixed-point amount such as 100m, 1Gi or 0.5.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
        PROTO_KIND: "quantity",
    },
    INT_OR_STRING: {
        "description": "Either an integer or a string, such as a port number or port name.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        PROTO_KIND: "int-or-string",
    },
    RAW_EXTENSION: {**free_object("An embedded object of any kind, kept as JSON."),
                    PROTO_KIND: "raw"},
    META + "FieldsV1": {**free_object("A set of field paths in the structured-merge-diff form."),
                        PROTO_KIND: "raw"},
    META + "OwnerReference": OWNER_REFERENCE,
    META + "ManagedFieldsEntry": MANAGED_FIELDS_ENTRY,
    OBJECT_META: OBJECT_META_SCHEMA,
    LIST_META: LIST_META_SCHEMA,
    META + "LabelSelectorRequirement": LABEL_SELECTOR_REQUIREMENT,
    LABEL_SELECTOR: LABEL_SELECTOR_SCHEMA,
    META + "Condition": CONDITION_SCHEMA,
    META + "StatusCause": STATUS_CAUSE,
    META + "StatusDetails": STATUS_DETAILS,
    META + "Status": STATUS,
    META + "Preconditions": PRECONDITIONS,
    META + "DeleteOptions": DELETE_OPTIONS,
    META + "WatchEvent": WATCH_EVENT,
    # What PATCH bodies are in OpenAPI: any of the four patch media types' documents.
    META + "Patch": {"type": "object",
                     "description": "A JSON patch, merge patch, strategic merge patch or apply "
                                    "configuration, by the request's Content-Type."},
    META + "GroupVersionForDiscovery": GROUP_VERSION_FOR_DISCOVERY,
    META + "ServerAddressByClientCIDR": SERVER_ADDRESS_BY_CLIENT_CIDR,
    META + "APIResource": API_RESOURCE,
    META + "APIResourceList": API_RESOURCE_LIST,
    META + "APIGroup": API_GROUP,
    META + "APIGroupList": API_GROUP_LIST,
    META + "APIVersions": API_VERSIONS,
}
