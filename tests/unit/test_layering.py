"""The architecture's one-way dependencies, checked on the source: a layer that starts to import
what it must not know about fails here, not in a review."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kapisup"

# package -> packages of kapisup it must never import
FORBIDDEN = {
    "process": {"server", "http", "mux", "filters", "routes", "endpoints", "auth", "cmd",
                "options", "wsgi"},
    "http": {"server", "mux", "filters", "routes", "endpoints", "auth", "cmd", "process",
             "options"},
    "filters": {"server", "http", "routes", "cmd", "process", "options", "storage", "registry",
                "controlplane"},
    "mux": {"server", "http", "filters", "routes", "auth", "cmd", "process", "options"},
    # pure identity and policy decisions: whoever feeds them (RBAC objects) lives above
    "auth": {"server", "http", "mux", "filters", "routes", "cmd", "process", "options",
             "endpoints", "storage", "registry", "controlplane"},
    "endpoints": {"server", "http", "mux", "filters", "routes", "cmd", "process", "options",
                  "controlplane"},
    "options": {"server", "http", "mux", "filters", "routes", "endpoints", "auth", "cmd",
                "process", "observability"},
    "observability": {"server", "http", "mux", "filters", "routes", "auth", "cmd", "process",
                      "options"},
    # storage knows nothing of HTTP or of the API's types and semantics
    "storage": {"server", "http", "mux", "filters", "routes", "endpoints", "auth", "cmd",
                "process", "options", "registry", "controlplane", "types", "apimachinery"},
    # pure object machinery: no HTTP, no storage
    "apimachinery": {"server", "http", "mux", "filters", "routes", "endpoints", "auth", "cmd",
                     "process", "options", "registry", "controlplane", "storage"},
    "types": {"server", "http", "mux", "filters", "routes", "endpoints", "auth", "cmd",
              "process", "options", "registry", "controlplane", "storage"},
    # the registry knows storage but not HTTP
    "registry": {"server", "http", "mux", "filters", "routes", "endpoints", "cmd", "process",
                 "options", "controlplane"},
}


def _kapisup_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "kapisup" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_layers_import_only_downwards():
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            bad = _kapisup_imports(path) & forbidden
            if bad:
                problems.append(f"{path.relative_to(PACKAGE.parent)} imports {sorted(bad)}")
    assert problems == []


def test_the_master_side_never_imports_gevent_or_the_api():
    """The master forks workers that patch gevent first: it must not have imported gevent,
    the HTTP server, the filters or prometheus_client itself (workers would inherit them
    unpatched)."""
    script = ("import sys, kapisup.cmd.apiserver; print(' '.join(sorted(m for m in sys.modules "
              "if m.split('.')[0] in ('gevent', 'prometheus_client') or m.startswith("
              "('kapisup.http.server', 'kapisup.filters', 'kapisup.server.genericapiserver')))))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent).stdout.split()
    assert out == []
