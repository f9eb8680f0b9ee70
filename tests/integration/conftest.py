"""Fixtures the API test modules share: one real kapisup per module, a namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.integration.kubectl import Kubectl, namespace_for
from tests.integration.server import Kapisup, running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    """A kapisup master with 2 workers on plain HTTP, shared by one test module."""
    with running(tmp_path_factory.mktemp("kapisup"), workers=2, secure=False) as started:
        yield started


@pytest.fixture
def ns(server: Kapisup, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test, so leftovers say where they came from."""
    name = f"{namespace_for(request)[:48].strip('-')}-{uuid.uuid4().hex[:6]}"
    made = requests.post(f"{server.url}/api/v1/namespaces",
                         json={"metadata": {"name": name}}, timeout=10)
    assert made.status_code == 201, made.text
    return name


@pytest.fixture(scope="module")
def kubectl(server: Kapisup, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """The machine's kubectl pointed at the module's server, with its own cache dir."""
    return Kubectl(server.url, tmp_path_factory.mktemp("kubectl"))
