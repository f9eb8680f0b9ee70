"""The backends the conformance suite runs against: adding one (etcd) is one more factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kapisup.storage import Storage

# factory(tmp_path, watch_queue_limit) -> a fresh, empty Storage
StorageFactory = Callable[..., Storage]


def _sqlite(tmp_path: Path, *, watch_queue_limit: int = 1000) -> Storage:
    from kapisup.storage.sqlite import SQLiteStorage

    return SQLiteStorage(str(tmp_path / "store.db"), poll_interval=0.005, compact_interval=None,
                         watch_queue_limit=watch_queue_limit)


BACKENDS: dict[str, Callable[..., Storage]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def make_storage(request, tmp_path) -> Iterator[StorageFactory]:
    """Builds storages of one backend (several may share the backend's data); all are closed
    at the end of the test."""
    made: list[Storage] = []

    def make(**options) -> Storage:
        storage = BACKENDS[request.param](tmp_path, **options)
        made.append(storage)
        return storage

    yield make
    for storage in reversed(made):
        storage.close()


@pytest.fixture
def storage(make_storage) -> Storage:
    return make_storage()
