"""A kapisup on its defaults (RBAC, anonymous on) with a token file, and HTTPS helpers per user,
for the RBAC and `kubectl auth` tests."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import InsecureRequestWarning

from tests.integration.kubectl import Kubectl, Result
from tests.integration.server import Kapisup, running

#: user -> (token, uid, groups)
TOKENS = {
    "admin": ("admin-token", "1", "system:masters"),
    "viewer": ("viewer-token", "2", ""),
    "delegate": ("delegate-token", "3", ""),
    "imp": ("imp-token", "4", ""),
    "editor": ("editor-token", "5", "devs"),
}
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@contextlib.contextmanager
def rbac_server(tmp_path: Path) -> Iterator[Kapisup]:
    """Two workers, the default authorization mode, every user of TOKENS known."""
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("".join(f'{token},{user},{uid},"{groups}"\n'
                              for user, (token, uid, groups) in TOKENS.items()))
    with running(tmp_path, "--token-auth-file", str(tokens), workers=2) as server:
        yield server


class Client:
    """HTTPS requests as one user (or anonymous), each on a fresh connection, so the kernel
    spreads them over the workers."""

    def __init__(self, server: Kapisup, user: str | None):
        self.base = f"https://127.0.0.1:{server.secure_port}"
        self.headers = {"Authorization": f"Bearer {TOKENS[user][0]}"} if user else {}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return requests.request(method, self.base + path, headers=headers, verify=False,
                                    **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return response.json()


def kubectl_as(kubectl: Kubectl, user: str, *args: str, stdin: str | None = None) -> Result:
    """kubectl with the user's bearer token against the secure port (its certificate is not
    checked: the test is about authorization)."""
    return kubectl.run("--token", TOKENS[user][0], "--insecure-skip-tls-verify", *args,
                       stdin=stdin)


def binding(name: str, role_kind: str, role: str, subjects: list[dict[str, str]],
            kind: str = "RoleBinding") -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role},
            "subjects": subjects}


def user(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def group(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}
