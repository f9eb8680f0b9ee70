"""The backends the conformance suite runs against: SQLite (a fresh file per test) and etcd (one
session-wide single-member cluster, a fresh key prefix per test, so every test starts empty)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kapisup.storage import Storage
from tests.etcd_cluster import EtcdCluster, etcd_single  # noqa: F401  (a fixture)

# factory(tmp_path, etcd_cluster_or_None, watch_queue_limit=...) -> a fresh, empty Storage
StorageFactory = Callable[..., Storage]


def _sqlite(tmp_path: Path, cluster: Any, *, watch_queue_limit: int = 1000) -> Storage:
    from kapisup.storage.sqlite import SQLiteStorage

    return SQLiteStorage(str(tmp_path / "store.db"), poll_interval=0.005, compact_interval=None,
                         watch_queue_limit=watch_queue_limit)


def _etcd(tmp_path: Path, cluster: EtcdCluster, *, watch_queue_limit: int = 1000) -> Storage:
    from kapisup.storage.etcd import EtcdStorage

    # storages made in one test share the test's prefix, as SQLite ones share the file
    prefix = f"/kapisup-test/{tmp_path.name}-{_prefix_token(tmp_path)}"
    return EtcdStorage(cluster.client_urls, prefix=prefix, compact_interval=None,
                       watch_queue_limit=watch_queue_limit)


_tokens: dict[Path, str] = {}


def _prefix_token(tmp_path: Path) -> str:
    return _tokens.setdefault(tmp_path, uuid.uuid4().hex[:12])


BACKENDS: dict[str, Callable[..., Storage]] = {"sqlite": _sqlite, "etcd": _etcd}
NEEDS_ETCD = {"etcd"}


@pytest.fixture(params=sorted(BACKENDS))
def make_storage(request, tmp_path) -> Iterator[StorageFactory]:
    """Builds storages of one backend (several may share the backend's data); all are closed
    at the end of the test."""
    made: list[Storage] = []
    cluster = request.getfixturevalue("etcd_single") if request.param in NEEDS_ETCD else None

    def make(**options) -> Storage:
        storage = BACKENDS[request.param](tmp_path, cluster, **options)
        made.append(storage)
        return storage

    yield make
    for storage in reversed(made):
        storage.close()


@pytest.fixture
def storage(make_storage) -> Storage:
    return make_storage()
