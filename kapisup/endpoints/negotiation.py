"""Media types in and out: request bodies (JSON, YAML, protobuf), patch types, Accept.

The Python client sends bodies without a Content-Type (JSON is assumed); kubectl 1.32 sends
protobuf for typed creates and never retries after a 415, so protobuf bodies are decoded.
Responses are JSON (or YAML when asked); Tables when the Accept header asks for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from kapisup.apimachinery import errors

MAX_BODY_BYTES = 3 * 1024 * 1024
JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
BODY_TYPES = [JSON, YAML, PROTOBUF]
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


class _YAMLLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML whose scalars stay JSON's: an unquoted date is a string, as in sigs.k8s.io/yaml
    (PyYAML would make it a datetime, which JSON cannot carry)."""


_YAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YAML_LOADER = _YAMLLoader


def media_type(header: str) -> tuple[str, dict[str, str]]:
    """`application/json; charset=utf-8` -> ("application/json", {"charset": "utf-8"})."""
    parts = [p.strip() for p in header.split(";")]
    params = {}
    for part in parts[1:]:
        if "=" in part:
            key, value = part.split("=", 1)
            params[key.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), params


def read_body(environ: dict[str, Any], limit: int = MAX_BODY_BYTES) -> bytes:
    length_text = environ.get("CONTENT_LENGTH") or ""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise errors.bad_request("invalid Content-Length") from None
        if length > limit:
            raise errors.too_large(limit)
        return stream.read(length) if length else b""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise errors.too_large(limit)
    return data


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") \
            from None


def decode_yaml(body: bytes) -> Any:
    try:
        return _as_json(yaml.load(body, Loader=_YAML_LOADER))
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


def _as_json(node: Any) -> Any:
    """What sigs.k8s.io/yaml makes of a YAML tree: string keys, JSON values only."""
    if isinstance(node, dict):
        return {_key(k): _as_json(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_json(v) for v in node]
    if isinstance(node, float) and (node != node or node in (float("inf"), float("-inf"))):
        raise ValueError(f"{node} is not valid JSON")
    if node is None or isinstance(node, (str, int, float, bool)):
        return node
    raise ValueError(f"a value of YAML type {type(node).__name__} has no JSON form")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    raise ValueError(f"a key of YAML type {type(key).__name__} has no JSON form")


def decode_object(environ: dict[str, Any], body: bytes,
                  protobuf: Callable[[bytes], dict[str, Any]]) -> dict[str, Any]:
    """The request body as an object, by its Content-Type (none means JSON)."""
    kind, _ = media_type(environ.get("CONTENT_TYPE") or JSON)
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    if kind in (JSON, "text/plain", "application/*", "*/*"):
        obj = decode_json(body)
    elif kind in (YAML, "application/x-yaml", "text/yaml"):
        obj = decode_yaml(body)
    elif kind == PROTOBUF:
        obj = protobuf(body)
    else:
        raise errors.unsupported_media_type(kind, BODY_TYPES)
    if not isinstance(obj, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    return obj


def decode_patch(environ: dict[str, Any], body: bytes) -> tuple[str, Any]:
    kind, _ = media_type(environ.get("CONTENT_TYPE") or "")
    patch_type = PATCH_TYPES.get(kind)
    if patch_type is None:
        raise errors.unsupported_media_type(kind, list(PATCH_TYPES))
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    patch = decode_yaml(body) if patch_type == "apply" else decode_json(body)
    if patch_type == "json" and not isinstance(patch, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type "
                                 "jsonpatch.Patch")
    if patch_type != "json" and not isinstance(patch, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    return patch_type, patch


@dataclass(frozen=True, slots=True)
class Output:
    """What the client accepts: Table (and which version), YAML or JSON."""

    table: str = ""  # "" | "v1" | "v1beta1"
    yaml: bool = False


_JSONISH = (JSON, "*/*", "application/*", "application/json;stream=watch")


def negotiate(accept: str) -> Output:
    """First acceptable entry of Accept wins; 406 when nothing is acceptable."""
    if not accept:
        return Output()
    for entry in accept.split(","):
        kind, params = media_type(entry)
        if not kind:
            continue
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and \
                params.get("v") in ("v1", "v1beta1") and kind == JSON:
            return Output(table=params["v"])
        if params.get("as"):
            continue  # PartialObjectMetadata and other conversions are not offered
        if kind in _JSONISH or kind == JSON:
            return Output()
        if kind in (YAML, "application/x-yaml"):
            return Output(yaml=True)
    if PROTOBUF in accept:
        return Output()  # kubectl lists protobuf first and JSON after; answer JSON anyway
    raise errors.not_acceptable(accept, [JSON, YAML])


def encode(obj: Any, output: Output) -> tuple[bytes, str]:
    if output.yaml:
        return yaml.safe_dump(obj, sort_keys=False).encode(), YAML
    return json.dumps(obj, separators=(",", ":")).encode(), JSON
