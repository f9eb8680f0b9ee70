"""The single declaration of every served type, as OpenAPI v3 component schemas.

`builtin_schemas()` gives every component by kube's name; `KINDS` lists the top-level kinds as
(group, version, kind, component name). List kinds are derived elsewhere.
"""

from __future__ import annotations

import copy

from kapisup.types import (
    apiextensions_v1,
    authentication_v1,
    authorization_v1,
    coordination_v1,
    core_v1,
    meta_v1,
    rbac_v1,
)
from kapisup.types.dsl import Schema

_MODULES = (meta_v1, core_v1, coordination_v1, apiextensions_v1, authorization_v1,
            authentication_v1, rbac_v1)

KINDS: list[tuple[str, str, str, str]] = [
    *core_v1.KINDS, *coordination_v1.KINDS, *apiextensions_v1.KINDS, *authorization_v1.KINDS,
    *authentication_v1.KINDS, *rbac_v1.KINDS,
]


def _collect() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    for module in _MODULES:
        clash = schemas.keys() & module.SCHEMAS.keys()
        if clash:
            raise ValueError(f"component declared twice: {sorted(clash)}")
        schemas.update(module.SCHEMAS)
    return schemas


_SCHEMAS = _collect()


def builtin_schemas() -> dict[str, Schema]:
    """Every built-in component schema; a deep copy, so callers may change it freely."""
    return copy.deepcopy(_SCHEMAS)


__all__ = ["KINDS", "builtin_schemas"]
