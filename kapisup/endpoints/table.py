"""meta.k8s.io Table responses: the columns kubectl prints, computed on the server."""

from __future__ import annotations

import time
from typing import Any

from kapisup.registry.printers import cells_for, columns_for, custom_columns, row_conditions
from kapisup.registry.resource import ResourceDef

Obj = dict[str, Any]


def _partial(obj: Obj, version: str) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}


class TablePrinter:
    """Builds Tables for one resource; custom resources use their additionalPrinterColumns."""

    def __init__(self, resource: ResourceDef, version: str, include: str = "Metadata"):
        self.resource = resource
        self.version = version
        self.include = include
        if resource.printer_columns is not None:
            self._custom = custom_columns(resource.printer_columns)
        else:
            self._custom = None

    def column_definitions(self) -> list[dict[str, Any]]:
        if self._custom is not None:
            columns = self._custom.columns
        else:
            columns = columns_for(self.resource.plural, self.resource.group)
        return [{"name": c.name, "type": c.type, "format": c.format,
                 "description": c.description, "priority": c.priority} for c in columns]

    def row(self, obj: Obj, now: float) -> Obj:
        if self._custom is not None:
            cells = self._custom.cells(obj, now)
        else:
            cells = cells_for(self.resource.plural, self.resource.group, obj, now)
        row: Obj = {"cells": cells}
        conditions = row_conditions(self.resource.plural, self.resource.group, obj)
        if conditions:
            row["conditions"] = conditions
        if self.include == "Object":
            row["object"] = obj
        elif self.include != "None":
            row["object"] = _partial(obj, self.version)
        return row

    def table(self, items: list[Obj], list_meta: Obj | None = None,
              with_columns: bool = True) -> Obj:
        now = time.time()
        return {"kind": "Table", "apiVersion": f"meta.k8s.io/{self.version}",
                "metadata": list_meta or {},
                "columnDefinitions": self.column_definitions() if with_columns else None,
                "rows": [self.row(item, now) for item in items]}
