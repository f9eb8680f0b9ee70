"""apiextensions.k8s.io/v1: CustomResourceDefinition.

Field numbers follow apiextensions-apiserver's v1 generated.proto. JSONSchemaProps is recursive and
free-form in practice, so it keeps unknown fields; its main properties are declared for explain and
for protobuf. Four of its wire shapes are special and named by `x-kapisup-proto-kind`: JSON (a
message holding raw JSON bytes, like RawExtension: "raw"), and the unions `schema-or-array`
({1 schema, 2 repeated schemas}), `schema-or-bool` ({1 allows bool, 2 schema}) and
`schema-or-string-array` ({1 schema, 2 repeated string}). `$schema` and `$ref` (fields 2 and 3)
are not declared: structural CRD schemas may not use them.
"""

from __future__ import annotations

from kapisup.types.dsl import (
    PROTO_KIND,
    Schema,
    array,
    boolean,
    byte_string,
    int64,
    integer,
    kind,
    list_of,
    map_of,
    number,
    obj,
    plain_ref,
    ref,
    string,
    string_list,
    time,
)

GROUP = "apiextensions.k8s.io"
PREFIX = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
PROPS = PREFIX + "JSONSchemaProps"
JSON = PREFIX + "JSON"

def x(name: str) -> str:
    """Component name of an apiextensions/v1 type."""
    return PREFIX + name

def _union(description: str, proto_kind: str) -> Schema:
    return {"description": description, "x-kubernetes-preserve-unknown-fields": True,
            PROTO_KIND: proto_kind}

_SCHEMA_LIST = "Schemas that {}."

JSON_SCHEMA_PROPS = obj(
    "A JSON schema (OpenAPI v3 subset) validating one value of a custom resource.",
    {
        "id": string("Schema id.", 1),
        "description": string("Human-readable description.", 4),
        "type": string("JSON type: object, array, string, integer, number or boolean.", 5),
        "format": string("Format of the value, e.g. date-time or int32.", 6),
        "title": string("Short title.", 7),
        "default": ref(JSON, "Value used when the field is absent.", 8),
        "maximum": number("Largest allowed number.", 9),
        "exclusiveMaximum": boolean("Whether maximum itself is excluded.", 10),
        "minimum": number("Smallest allowed number.", 11),
        "exclusiveMinimum": boolean("Whether minimum itself is excluded.", 12),
        "maxLength": int64("Longest allowed string.", 13),
        "minLength": int64("Shortest allowed string.", 14),
        "pattern": string("Regular expression strings must match.", 15),
        "maxItems": int64("Most items allowed.", 16),
        "minItems": int64("Fewest items allowed.", 17),
        "uniqueItems": boolean("Whether items must differ.", 18),
        "multipleOf": number("Numbers must be a multiple of this.", 19),
        "enum": array(plain_ref(JSON), "Allowed values.", 20),
        "maxProperties": int64("Most properties allowed.", 21),
        "minProperties": int64("Fewest properties allowed.", 22),
        "required": string_list("Properties that must be present.", 23, list_type=None),
        "items": ref(x("JSONSchemaPropsOrArray"), "Schema of the items.", 24),
        "allOf": list_of(PROPS, _SCHEMA_LIST.format("must all hold"), 25),
        "oneOf": list_of(PROPS, _SCHEMA_LIST.format("exactly one must hold"), 26),
        "anyOf": list_of(PROPS, _SCHEMA_LIST.format("at least one must hold"), 27),
        "not": ref(PROPS, "Schema that must not hold.", 28),
        "properties": map_of(plain_ref(PROPS), "Schemas of the known properties.", 29),
        "additionalProperties": ref(x("JSONSchemaPropsOrBool"),
                                    "Schema of other properties, or whether they are allowed.",
                                    30),
        "patternProperties": map_of(plain_ref(PROPS), "Schemas by property-name pattern.", 31),
        "dependencies": map_of(plain_ref(x("JSONSchemaPropsOrStringArray")),
                               "Requirements triggered by a property's presence.", 32),
        "additionalItems": ref(x("JSONSchemaPropsOrBool"), "Schema of extra items.", 33),
        "definitions": map_of(plain_ref(PROPS), "Named schemas.", 34),
        "externalDocs": ref(x("ExternalDocumentation"), "Further documentation.", 35),
        "example": ref(JSON, "An example value.", 36),
        "nullable": boolean("Whether null is allowed.", 37),
        "x-kubernetes-preserve-unknown-fields": boolean("Keep fields the schema does not name.",
                                                        38),
        "x-kubernetes-embedded-resource": boolean("The value is a whole Kubernetes object.", 39),
        "x-kubernetes-int-or-string": boolean("The value is an integer or a string.", 40),
        "x-kubernetes-list-map-keys": string_list("Keys identifying items of a map list.", 41,
                                                  list_type=None),
        "x-kubernetes-list-type": string("atomic, set or map.", 42),
        "x-kubernetes-map-type": string("granular or atomic.", 43),
        "x-kubernetes-validations": list_of(
            x("ValidationRule"), "CEL rules the value must satisfy.", 44, list_type="map",
            map_keys=["rule"], merge_key="rule", strategy="merge"),
    },
    preserve_unknown=True,
)

SCHEMAS: dict[str, Schema] = {
    JSON: _union("Any JSON value.", "raw"),
    x("JSONSchemaPropsOrArray"): _union("One schema, or one schema per position.",
                                        "schema-or-array"),
    x("JSONSchemaPropsOrBool"): _union("A schema, or true/false to allow/forbid.",
                                       "schema-or-bool"),
    x("JSONSchemaPropsOrStringArray"): _union("A schema, or a list of property names.",
                                              "schema-or-string-array"),
    x("ExternalDocumentation"): obj("A link to more documentation.", {
        "description": string("What the link holds.", 1),
        "url": string("The link.", 2),
    }),
    x("ValidationRule"): obj("A CEL validation rule.", {
        "rule": string("CEL expression that must be true.", 1),
        "message": string("Message shown when the rule fails.", 2),
        "messageExpression": string("CEL expression producing the failure message.", 3),
        "reason": string("Reason reported on failure, e.g. FieldValueInvalid.", 4),
        "fieldPath": string("Field reported on failure.", 5),
        "optionalOldSelf": boolean("Run the rule on create too, with oldSelf absent.", 6),
    }, required=["rule"]),
    PROPS: JSON_SCHEMA_PROPS,
    x("CustomResourceValidation"): obj("How custom resources of a version are validated.", {
        "openAPIV3Schema": ref(PROPS, "Schema used for validation, pruning and defaults.", 1),
    }),
    x("CustomResourceSubresourceStatus"): obj(
        "Enables the status subresource; it has no settings.", {}),
    x("CustomResourceSubresourceScale"): obj("Enables the scale subresource.", {
        "specReplicasPath": string("JSON path of the desired replica count.", 1),
        "statusReplicasPath": string("JSON path of the observed replica count.", 2),
        "labelSelectorPath": string("JSON path of the serialized label selector.", 3),
    }, required=["specReplicasPath", "statusReplicasPath"]),
    x("CustomResourceSubresources"): obj("Subresources a version serves.", {
        "status": ref(x("CustomResourceSubresourceStatus"), "Serve /status.", 1),
        "scale": ref(x("CustomResourceSubresourceScale"), "Serve /scale.", 2),
    }),
    x("CustomResourceColumnDefinition"): obj("An extra column of table output.", {
        "name": string("Column header.", 1),
        "type": string("OpenAPI type of the values.", 2),
        "format": string("OpenAPI format of the values.", 3),
        "description": string("What the column shows.", 4),
        "priority": integer("0 for always shown; higher for wide output only.", 5),
        "jsonPath": string("JSON path of the value in each object.", 6),
    }, required=["name", "type", "jsonPath"]),
    x("SelectableField"): obj("A field usable in field selectors.", {
        "jsonPath": string("JSON path of the field.", 1),
    }, required=["jsonPath"]),
    x("CustomResourceDefinitionVersion"): obj("One version of a custom resource.", {
        "name": string("Version name, e.g. v1.", 1),
        "served": boolean("Whether the version is served.", 2),
        "storage": boolean("Whether objects are stored in this version; exactly one is.", 3),
        "deprecated": boolean("Whether requests get a deprecation warning.", 7),
        "deprecationWarning": string("Warning text replacing the default one.", 8),
        "schema": ref(x("CustomResourceValidation"), "Validation schema.", 4),
        "subresources": ref(x("CustomResourceSubresources"), "Subresources served.", 5),
        "additionalPrinterColumns": list_of(x("CustomResourceColumnDefinition"),
                                            "Extra columns of table output.", 6,
                                            list_type="atomic"),
        "selectableFields": list_of(x("SelectableField"), "Fields usable in field selectors.",
                                    9, list_type="atomic"),
    }, required=["name", "served", "storage"]),
    x("CustomResourceDefinitionNames"): obj("Names a custom resource is served under.", {
        "plural": string("Plural resource name, used in URLs.", 1),
        "singular": string("Singular name.", 2),
        "shortNames": string_list("Short aliases for the CLI.", 3),
        "kind": string("Kind of the objects.", 4),
        "listKind": string("Kind of the lists.", 5),
        "categories": string_list("Groups the resource belongs to, like all.", 6),
    }, required=["plural", "kind"]),
    x("ServiceReference"): obj("A Service reached for a webhook.", {
        "namespace": string("Namespace of the Service.", 1),
        "name": string("Name of the Service.", 2),
        "path": string("URL path of the webhook.", 3),
        "port": integer("Port of the Service; default 443.", 4),
    }, required=["namespace", "name"]),
    x("WebhookClientConfig"): obj("How to reach a webhook.", {
        "url": string("https URL of the webhook.", 3),
        "service": ref(x("ServiceReference"), "In-cluster Service of the webhook.", 1),
        "caBundle": byte_string("PEM CA bundle trusted for the webhook.", 2),
    }),
    x("WebhookConversion"): obj("A conversion webhook.", {
        "clientConfig": ref(x("WebhookClientConfig"), "How to reach the webhook.", 2),
        "conversionReviewVersions": string_list("ConversionReview versions it accepts.", 3),
    }, required=["conversionReviewVersions"]),
    x("CustomResourceConversion"): obj("How objects convert between versions.", {
        "strategy": string("None or Webhook.", 1, enum=["None", "Webhook"]),
        "webhook": ref(x("WebhookConversion"), "The webhook, for strategy Webhook.", 2),
    }, required=["strategy"]),
    x("CustomResourceDefinitionSpec"): obj("How a custom resource is served.", {
        "group": string("API group of the resource.", 1),
        "names": ref(x("CustomResourceDefinitionNames"), "Resource and kind names.", 3),
        "scope": string("Cluster or Namespaced.", 4, enum=["Cluster", "Namespaced"]),
        "versions": list_of(x("CustomResourceDefinitionVersion"), "Versions served.", 7,
                            list_type="atomic"),
        "conversion": ref(x("CustomResourceConversion"), "Conversion between versions.", 9),
        "preserveUnknownFields": boolean("Deprecated: keep fields the schema does not name.", 10),
    }, required=["group", "names", "scope", "versions"]),
    x("CustomResourceDefinitionCondition"): obj("One observed aspect of a CRD's state.", {
        "type": string("Established, NamesAccepted, Terminating and so on.", 1),
        "status": string("True, False or Unknown.", 2),
        "lastTransitionTime": time("When status last changed.", 3),
        "reason": string("CamelCase cause of the last transition.", 4),
        "message": string("Human-readable detail.", 5),
    }, required=["type", "status"]),
    x("CustomResourceDefinitionStatus"): obj("Observed state of a CRD.", {
        "conditions": list_of(x("CustomResourceDefinitionCondition"), "Observed conditions.",
                              1, list_type="map", map_keys=["type"]),
        "acceptedNames": ref(x("CustomResourceDefinitionNames"), "Names actually served.", 2),
        "storedVersions": string_list("Every version objects were ever stored in.", 3),
    }),
    x("CustomResourceDefinition"): kind(
        GROUP, "v1", "CustomResourceDefinition", "Declares a custom resource to serve.", {
            "spec": ref(x("CustomResourceDefinitionSpec"), "How the resource is served.", 2),
            "status": ref(x("CustomResourceDefinitionStatus"), "Observed state.", 3),
        }, required=["spec"]),
}

KINDS: list[tuple[str, str, str, str]] = [
    (GROUP, "v1", "CustomResourceDefinition", x("CustomResourceDefinition")),
]

