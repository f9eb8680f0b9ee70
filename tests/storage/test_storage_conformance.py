"""What every storage backend must do, run against each backend in conftest.BACKENDS."""

from __future__ import annotations

import json

import gevent
import pytest

from kapisup.storage import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    Preconditions,
    Storage,
    TooLargeRevisionError,
    WatchClosed,
)

WAIT = 5.0  # seconds any single event may take to arrive


def _cm(name: str, namespace: str = "demo", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
            "data": dict(data)}


def _rv(obj: dict) -> int:
    return int(obj["metadata"]["resourceVersion"])


def _names(items: list[dict]) -> list[str]:
    return [item["metadata"]["name"] for item in items]


def _set_data(**data: str):
    def update(obj: dict) -> dict:
        obj["data"] = {**obj.get("data", {}), **data}
        return obj
    return update


def _events(watcher, count: int) -> list:
    events = []
    for _ in range(count):
        event = watcher.next(timeout=WAIT)
        assert event is not None, f"only {len(events)} of {count} events arrived"
        events.append(event)
    return events


# --- create / get ----------------------------------------------------------------------------


def test_create_sets_the_revision_and_get_returns_the_stored_object(storage: Storage):
    before = storage.current_revision()
    created = storage.create("/registry/configmaps/demo/a", _cm("a", x="1"))
    assert _rv(created) > before
    assert storage.current_revision() == _rv(created)
    assert storage.get("/registry/configmaps/demo/a") == created


def test_create_of_an_existing_key_fails_and_changes_nothing(storage: Storage):
    first = storage.create("/registry/configmaps/demo/a", _cm("a", x="1"))
    with pytest.raises(KeyExistsError) as caught:
        storage.create("/registry/configmaps/demo/a", _cm("a", x="2"))
    assert caught.value.key == "/registry/configmaps/demo/a"
    assert storage.get("/registry/configmaps/demo/a") == first
    assert storage.current_revision() == _rv(first)


def test_get_of_a_missing_key_is_not_found(storage: Storage):
    with pytest.raises(KeyNotFoundError) as caught:
        storage.get("/registry/configmaps/demo/missing")
    assert caught.value.key == "/registry/configmaps/demo/missing"


def test_resource_version_given_by_the_caller_is_replaced(storage: Storage):
    obj = _cm("a")
    obj["metadata"]["resourceVersion"] = "999999"
    created = storage.create("/registry/configmaps/demo/a", obj)
    assert created["metadata"]["resourceVersion"] != "999999"
    assert obj["metadata"]["resourceVersion"] == "999999"  # the caller's dict is untouched


def test_returned_objects_are_the_callers_to_mutate(storage: Storage):
    created = storage.create("/registry/configmaps/demo/a", _cm("a", x="1"))
    created["data"]["x"] = "changed"
    fetched = storage.get("/registry/configmaps/demo/a")
    assert fetched["data"] == {"x": "1"}
    fetched["data"]["x"] = "changed again"
    assert storage.get("/registry/configmaps/demo/a")["data"] == {"x": "1"}


# --- list ------------------------------------------------------------------------------------


def _fill(storage: Storage, namespace: str, names: list[str]) -> None:
    for name in names:
        storage.create(f"/registry/configmaps/{namespace}/{name}", _cm(name, namespace))


def test_list_returns_the_keys_under_the_prefix_in_key_order(storage: Storage):
    _fill(storage, "a", ["c", "a", "b"])
    _fill(storage, "ab", ["x"])
    _fill(storage, "b", ["y"])
    result = storage.list("/registry/configmaps/a/")
    assert _names(result.items) == ["a", "b", "c"]
    assert result.revision == storage.current_revision()
    assert result.continue_key is None
    assert _names(storage.list("/registry/configmaps/").items) == ["a", "b", "c", "x", "y"]
    assert storage.count("/registry/configmaps/a/") == 3
    assert storage.count("/registry/configmaps/") == 5
    assert storage.list("/registry/secrets/").items == []


def test_raw_reads_give_the_stored_text_and_its_revision(storage: Storage):
    created = storage.create("/registry/configmaps/demo/raw", _cm("raw", a="1"))
    text, revision = storage.get_raw("/registry/configmaps/demo/raw")
    assert revision == _rv(created)
    stored = json.loads(text)
    assert "resourceVersion" not in stored["metadata"]
    assert stored["data"] == {"a": "1"}
    with pytest.raises(KeyNotFoundError):
        storage.get_raw("/registry/configmaps/demo/nope")
    _fill(storage, "demo", ["r1", "r2"])
    page = storage.list_raw("/registry/configmaps/demo/", limit=2)
    assert [json.loads(t)["metadata"]["name"] for t, _ in page.items] == ["r1", "r2"]
    assert page.continue_key is not None
    assert all(rev > revision for _, rev in page.items)
    assert page.revision == storage.current_revision()


def test_list_pages_with_limit_and_start_after(storage: Storage):
    _fill(storage, "demo", [f"cm{i}" for i in range(7)])
    prefix = "/registry/configmaps/demo/"
    seen: list[str] = []
    remaining_counts: list[int | None] = []
    start_after = None
    for _ in range(10):
        page = storage.list(prefix, limit=3, start_after=start_after)
        seen += _names(page.items)
        remaining_counts.append(page.remaining)
        if page.continue_key is None:
            break
        assert page.continue_key == prefix + page.items[-1]["metadata"]["name"]
        start_after = page.continue_key
    assert seen == [f"cm{i}" for i in range(7)]
    assert remaining_counts == [4, 1, None]


def test_list_predicate_filters_before_the_limit_counts(storage: Storage):
    _fill(storage, "demo", [f"cm{i}" for i in range(10)])
    def even(obj: dict) -> bool:
        return int(obj["metadata"]["name"][2:]) % 2 == 0
    page = storage.list("/registry/configmaps/demo/", limit=3, predicate=even)
    assert _names(page.items) == ["cm0", "cm2", "cm4"]
    assert page.continue_key is not None
    assert page.remaining is None  # unknown once a predicate filters
    rest = storage.list("/registry/configmaps/demo/", start_after=page.continue_key,
                        revision=page.revision, predicate=even)
    assert _names(rest.items) == ["cm6", "cm8"]


def test_list_pages_stay_consistent_while_writes_happen_between_them(storage: Storage):
    prefix = "/registry/configmaps/demo/"
    _fill(storage, "demo", [f"cm{i}" for i in range(6)])
    first = storage.list(prefix, limit=2)
    assert _names(first.items) == ["cm0", "cm1"]
    # between the pages: change, delete and add objects in the part not read yet
    storage.guaranteed_update(prefix + "cm3", _set_data(changed="yes"))
    storage.delete(prefix + "cm4")
    storage.create(prefix + "cm2a", _cm("cm2a"))
    storage.delete(prefix + "cm0")
    pages = [first]
    for _ in range(10):
        if pages[-1].continue_key is None:
            break
        pages.append(storage.list(prefix, limit=2, start_after=pages[-1].continue_key,
                                  revision=first.revision))
    items = [item for page in pages for item in page.items]
    assert _names(items) == [f"cm{i}" for i in range(6)]
    assert all(page.revision == first.revision for page in pages)
    assert all("changed" not in item["data"] for item in items)
    assert all(_rv(item) <= first.revision for item in items)
    # and the latest state shows the changes
    assert _names(storage.list(prefix).items) == ["cm1", "cm2", "cm2a", "cm3", "cm5"]


def test_list_at_a_revision_not_reached_yet_fails(storage: Storage):
    storage.create("/registry/configmaps/demo/a", _cm("a"))
    with pytest.raises(TooLargeRevisionError):
        storage.list("/registry/configmaps/", revision=storage.current_revision() + 100)


# --- compaction ------------------------------------------------------------------------------


def test_compacted_revisions_fail_for_list_and_watch_and_later_ones_still_work(storage: Storage):
    prefix = "/registry/configmaps/demo/"
    storage.create(prefix + "a", _cm("a", v="1"))
    storage.create(prefix + "b", _cm("b"))
    storage.create(prefix + "gone", _cm("gone"))
    storage.guaranteed_update(prefix + "a", _set_data(v="2"))
    storage.delete(prefix + "gone")
    point = storage.current_revision()
    storage.guaranteed_update(prefix + "a", _set_data(v="3"))  # after the compaction point
    storage.compact(point)

    with pytest.raises(CompactedError) as caught:
        storage.list(prefix, revision=point - 1)
    assert caught.value.requested == point - 1
    assert caught.value.compacted == point - 1
    with pytest.raises(CompactedError):
        storage.watch(prefix, point - 1)

    at_point = storage.list(prefix, revision=point)
    assert _names(at_point.items) == ["a", "b"]
    assert at_point.items[0]["data"] == {"v": "2"}
    watcher = storage.watch(prefix, point)
    event = watcher.next(timeout=WAIT)
    assert event is not None and event.type == MODIFIED and event.object["data"] == {"v": "3"}
    watcher.stop()


# --- guaranteed_update ---------------------------------------------------------------------


def test_guaranteed_update_writes_a_new_revision(storage: Storage):
    key = "/registry/configmaps/demo/a"
    created = storage.create(key, _cm("a", x="1"))
    updated = storage.guaranteed_update(key, _set_data(x="2"))
    assert updated["data"] == {"x": "2"}
    assert _rv(updated) > _rv(created)
    assert storage.get(key) == updated


def test_concurrent_updaters_lose_no_update(storage: Storage):
    key = "/registry/configmaps/demo/counter"
    storage.create(key, _cm("counter", n="0"))
    calls = [0]

    def increment(obj: dict) -> dict:
        calls[0] += 1
        gevent.sleep(0)  # let the others read the same revision: forces lost races
        obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
        return obj

    def updater() -> None:
        for _ in range(5):
            storage.guaranteed_update(key, increment)

    greenlets = [gevent.spawn(updater) for _ in range(20)]
    gevent.joinall(greenlets, timeout=30, raise_error=True)
    assert all(g.successful() for g in greenlets)
    assert storage.get(key)["data"]["n"] == "100"
    assert calls[0] > 100  # some attempts really did lose a race and retry


def test_noop_update_does_not_bump_the_revision(storage: Storage):
    key = "/registry/configmaps/demo/a"
    created = storage.create(key, _cm("a", x="1"))
    revision = storage.current_revision()
    assert storage.guaranteed_update(key, lambda obj: None) == created

    def same_content_new_order(obj: dict) -> dict:
        return {"data": dict(obj["data"]), **{k: v for k, v in obj.items() if k != "data"}}

    assert storage.guaranteed_update(key, same_content_new_order) == created
    assert storage.current_revision() == revision


def test_update_errors_pass_through_untouched(storage: Storage):
    key = "/registry/configmaps/demo/a"
    created = storage.create(key, _cm("a"))

    class Refused(Exception):
        pass

    refusal = Refused("no")

    def refuse(obj: dict) -> dict:
        raise refusal

    with pytest.raises(Refused) as caught:
        storage.guaranteed_update(key, refuse)
    assert caught.value is refusal
    assert storage.get(key) == created


def test_update_of_a_missing_key(storage: Storage):
    key = "/registry/configmaps/demo/new"
    with pytest.raises(KeyNotFoundError):
        storage.guaranteed_update(key, _set_data(x="1"))
    seen: list[dict] = []

    def upsert(obj: dict) -> dict:
        seen.append(dict(obj))
        return _cm("new", x="1")

    created = storage.guaranteed_update(key, upsert, ignore_not_found=True)
    assert seen == [{}]
    assert created["data"] == {"x": "1"}
    assert storage.get(key) == created


def test_update_preconditions(storage: Storage):
    key = "/registry/configmaps/demo/a"
    created = storage.create(key, _cm("a", x="1"))
    with pytest.raises(ConflictError) as caught:
        storage.guaranteed_update(key, _set_data(x="2"), preconditions=Preconditions(uid="other"))
    assert caught.value.key == key
    assert caught.value.current == created
    with pytest.raises(ConflictError):
        storage.guaranteed_update(key, _set_data(x="2"),
                                  preconditions=Preconditions(resource_version="1"
                                                              if _rv(created) != 1 else "2"))
    assert storage.get(key) == created
    matching = Preconditions(uid="uid-a", resource_version=created["metadata"]["resourceVersion"])
    assert storage.guaranteed_update(key, _set_data(x="2"),
                                     preconditions=matching)["data"] == {"x": "2"}


# --- delete ----------------------------------------------------------------------------------


def test_delete_returns_the_last_state_with_the_deletion_revision(storage: Storage):
    key = "/registry/configmaps/demo/a"
    created = storage.create(key, _cm("a", x="1"))
    deleted = storage.delete(key)
    assert deleted["data"] == {"x": "1"}
    assert _rv(deleted) > _rv(created)
    assert storage.current_revision() == _rv(deleted)
    with pytest.raises(KeyNotFoundError):
        storage.get(key)
    with pytest.raises(KeyNotFoundError):
        storage.delete(key)


def test_delete_preconditions_and_validate(storage: Storage):
    key = "/registry/configmaps/demo/a"
    created = storage.create(key, _cm("a"))
    with pytest.raises(ConflictError):
        storage.delete(key, preconditions=Preconditions(uid="other"))
    with pytest.raises(ConflictError):
        storage.delete(key, preconditions=Preconditions(resource_version=str(_rv(created) + 7)))

    class Refused(Exception):
        pass

    validated: list[dict] = []

    def refuse(obj: dict) -> None:
        validated.append(obj)
        raise Refused

    with pytest.raises(Refused):
        storage.delete(key, validate=refuse)
    assert validated == [created]
    assert storage.get(key) == created
    deleted = storage.delete(key, preconditions=Preconditions(uid="uid-a"),
                             validate=validated.append)
    assert _rv(deleted) > _rv(created)
    assert len(validated) == 2


# --- watch -----------------------------------------------------------------------------------


def test_watch_sees_added_modified_deleted_in_order(storage: Storage):
    prefix = "/registry/configmaps/demo/"
    watcher = storage.watch(prefix, 0)
    created = storage.create(prefix + "a", _cm("a", x="1"))
    updated = storage.guaranteed_update(prefix + "a", _set_data(x="2"))
    deleted = storage.delete(prefix + "a")
    events = _events(watcher, 3)
    assert [e.type for e in events] == [ADDED, MODIFIED, DELETED]
    assert [e.object for e in events] == [created, updated, deleted]
    assert [e.revision for e in events] == [_rv(created), _rv(updated), _rv(deleted)]
    assert all(e.key == prefix + "a" for e in events)
    assert watcher.next(timeout=0.05) is None
    watcher.stop()
    with pytest.raises(WatchClosed):
        watcher.next(timeout=0)


def _history(storage: Storage, prefix: str, count: int) -> tuple[int, list[tuple[str, int]]]:
    storage.create("/registry/secrets/demo/seed", _cm("seed"))  # revision 0 would mean "now"
    start = storage.current_revision()
    expected = []
    for i in range(count):
        obj = storage.create(f"{prefix}cm{i}", _cm(f"cm{i}"))
        expected.append((ADDED, _rv(obj)))
        if i % 3 == 0:
            obj = storage.guaranteed_update(f"{prefix}cm{i}", _set_data(n=str(i)))
            expected.append((MODIFIED, _rv(obj)))
        if i % 5 == 0:
            storage.create(f"/registry/secrets/demo/s{i}", _cm(f"s{i}"))  # another prefix
    return start, expected


@pytest.mark.parametrize("feed_running", [True, False], ids=["recent", "older"])
def test_watch_from_a_past_revision_replays_history_then_goes_live(make_storage,
                                                                      feed_running):
    """`recent`: the process already follows the change feed, so history comes from memory;
    `older`: it starts watching only after the writes, so history comes from the store."""
    storage = make_storage()
    prefix = "/registry/configmaps/demo/"
    if feed_running:
        storage.watch("/registry/unrelated/", 0).stop()
    start, expected = _history(storage, prefix, 300)
    watcher = storage.watch(prefix, start)
    replayed = _events(watcher, len(expected))
    assert [(e.type, e.revision) for e in replayed] == expected
    live = storage.create(prefix + "live", _cm("live"))
    assert _events(watcher, 1)[0].object == live
    later = storage.watch(prefix, expected[-2][1])
    assert [(e.type, e.revision) for e in _events(later, 2)] == [
        expected[-1], (ADDED, _rv(live))]


def test_watch_prefix_isolation(storage: Storage):
    watcher = storage.watch("/registry/configmaps/a/", 0)
    storage.create("/registry/configmaps/ab/x", _cm("x", "ab"))
    storage.create("/registry/configmaps/b/y", _cm("y", "b"))
    storage.create("/registry/configmaps/a", _cm("bare"))
    mine = storage.create("/registry/configmaps/a/z", _cm("z", "a"))
    event = watcher.next(timeout=WAIT)
    assert event is not None and event.object == mine
    assert watcher.next(timeout=0.05) is None


def test_watcher_revision_advances_without_matching_events(storage: Storage):
    watcher = storage.watch("/registry/configmaps/quiet/", 0)
    start = watcher.revision
    assert start == storage.current_revision()
    last = storage.create("/registry/configmaps/busy/a", _cm("a", "busy"))
    deadline = gevent.Timeout(WAIT)
    with deadline:
        while watcher.revision < _rv(last):
            assert watcher.next(timeout=0.01) is None
    assert watcher.revision == _rv(last)


def test_watcher_revision_stops_before_unread_events(storage: Storage):
    prefix = "/registry/configmaps/demo/"
    watcher = storage.watch(prefix, 0)
    first = storage.create(prefix + "a", _cm("a"))
    second = storage.create(prefix + "b", _cm("b"))
    assert _events(watcher, 1)[0].object == first
    assert watcher.revision == _rv(second) - 1
    assert _events(watcher, 1)[0].object == second
    assert watcher.revision >= _rv(second)


def test_a_watcher_that_falls_behind_is_closed(make_storage):
    storage = make_storage(watch_queue_limit=5)
    prefix = "/registry/configmaps/demo/"
    slow = storage.watch(prefix, 0)
    keeping_up = storage.watch(prefix, 0)
    received = []
    for i in range(12):
        storage.create(f"{prefix}cm{i}", _cm(f"cm{i}"))
        received += _events(keeping_up, 1)
    delivered = []
    with pytest.raises(WatchClosed):
        for _ in range(20):
            event = slow.next(timeout=WAIT)
            assert event is not None
            delivered.append(event)
    assert 1 <= len(delivered) <= 5
    assert delivered == received[:len(delivered)]  # what it got before closing is in order
    assert slow.revision == delivered[-1].revision  # resume point for the client
    assert len(received) == 12


def test_many_watchers_each_get_the_event(storage: Storage):
    watchers = [storage.watch(f"/registry/configmaps/ns{i % 10}/", 0) for i in range(9000)]
    watchers += [storage.watch("/registry/configmaps/", 0) for _ in range(1000)]
    created = storage.create("/registry/configmaps/ns3/a", _cm("a", "ns3"))
    for i, watcher in enumerate(watchers):
        if i < 9000 and i % 10 != 3:
            continue
        event = watcher.next(timeout=WAIT)
        assert event is not None and event.object == created
    quiet = [w for i, w in enumerate(watchers) if i < 9000 and i % 10 != 3]
    assert all(w.next(timeout=0) is None for w in quiet)
    for watcher in watchers:
        watcher.stop()
