"""Fixtures the API test modules share: one real kapisup per module, a namespace per test."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.integration.server import Kapisup, running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kapisup]:
    """A kapisup master with 2 workers on plain HTTP, shared by one test module."""
    with running(tmp_path_factory.mktemp("kapisup"), workers=2, secure=False) as started:
        yield started


@pytest.fixture
def ns(server: Kapisup, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test, so leftovers say where they came from."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))
    name = f"{base.strip('-')[:48].strip('-')}-{uuid.uuid4().hex[:6]}"
    made = requests.post(f"{server.url}/api/v1/namespaces",
                         json={"metadata": {"name": name}}, timeout=10)
    assert made.status_code == 201, made.text
    return name
