"""/version: kube's version.Info; GET only, like the go-restful route it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kapisup.endpoints.status import method_not_allowed
from kapisup.version import version_info


def version_handler() -> Callable[..., list[bytes]]:
    body = json.dumps(version_info(), indent=2).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return method_not_allowed(start_response)
        start_response("200 OK", headers)
        return [body]

    return handle
