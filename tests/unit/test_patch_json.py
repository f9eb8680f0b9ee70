"""JSON patch (RFC 6902, evanphx v4 semantics) and JSON merge patch (RFC 7386)."""

import copy

import pytest

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.patch import json_patch, merge_patch

CM = {"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "c", "labels": {"app": "web", "a/b": "x", "t~": "y"}},
      "data": {"a": "1"}, "list": [1, 2, 3]}


def patched(ops: list) -> dict:
    before = copy.deepcopy(CM)
    result = json_patch(CM, ops)
    assert before == CM, "input mutated"
    return result


def failure(ops: list) -> StatusError:
    with pytest.raises(StatusError) as caught:
        json_patch(CM, ops)
    return caught.value


def test_add_replace_remove():
    result = patched([
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "one"},
        {"op": "remove", "path": "/metadata/labels/app"},
    ])
    assert result["data"] == {"a": "one", "b": "2"}
    assert "app" not in result["metadata"]["labels"]


def test_escaped_tokens():
    result = patched([
        {"op": "replace", "path": "/metadata/labels/a~1b", "value": "slash"},
        {"op": "remove", "path": "/metadata/labels/t~0"},
    ])
    assert result["metadata"]["labels"] == {"app": "web", "a/b": "slash"}


def test_array_end_index_and_negative():
    result = patched([
        {"op": "add", "path": "/list/-", "value": 4},
        {"op": "add", "path": "/list/0", "value": 0},
        {"op": "remove", "path": "/list/-1"},
    ])
    assert result["list"] == [0, 1, 2, 3]


def test_move_and_copy():
    result = patched([
        {"op": "copy", "from": "/data/a", "path": "/data/copied"},
        {"op": "move", "from": "/metadata/labels/app", "path": "/data/moved"},
    ])
    assert result["data"] == {"a": "1", "copied": "1", "moved": "web"}
    assert "app" not in result["metadata"]["labels"]


def test_copy_is_deep():
    result = patched([{"op": "copy", "from": "/metadata/labels", "path": "/data/l"},
                      {"op": "add", "path": "/data/l/new", "value": "n"}])
    assert "new" not in result["metadata"]["labels"]


def test_test_op_passes_and_fails_with_422():
    assert patched([{"op": "test", "path": "/data/a", "value": "1"}])["data"]["a"] == "1"
    err = failure([{"op": "test", "path": "/data/a", "value": "2"}])
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == "the server rejected our request due to an error in our request"
    assert "testing value /data/a failed" in " ".join(err.__notes__)


def test_test_op_type_strict():
    err = failure([{"op": "test", "path": "/list/0", "value": True}])
    assert err.code == 422


def test_missing_paths_are_422():
    for op in ({"op": "remove", "path": "/data/zzz"},
               {"op": "add", "path": "/nope/x", "value": 1},
               {"op": "replace", "path": "/nope/x", "value": 1},
               {"op": "remove", "path": "/list/9"},
               {"op": "bogus", "path": "/data"}):
        assert failure([op]).code == 422, op


def test_replace_missing_object_key_adds_it():
    """evanphx v4 (kube's library) lets replace create a key in an existing object."""
    assert patched([{"op": "replace", "path": "/data/new", "value": "v"}])["data"]["new"] == "v"


def test_malformed_patch_is_400():
    for ops in ({"op": "add"}, "x", [1]):
        with pytest.raises(StatusError) as caught:
            json_patch(CM, ops)
        assert (caught.value.code, caught.value.reason) == (400, "BadRequest")


def test_too_many_operations_is_413():
    err = failure([{"op": "test", "path": "/data/a", "value": "1"}] * 10001)
    assert (err.code, err.reason) == (413, "RequestEntityTooLarge")


def test_replacing_the_document_with_a_list_is_invalid():
    err = failure([{"op": "replace", "path": "", "value": [1]}])
    assert (err.code, err.reason) == (422, "Invalid")


def test_merge_patch_labels_and_null_delete():
    result = merge_patch(CM, {"metadata": {"labels": {"tier": "fe", "app": None}},
                              "data": {"b": {"x": None, "y": 1}}})
    assert result["metadata"]["labels"] == {"a/b": "x", "t~": "y", "tier": "fe"}
    assert result["data"]["b"] == {"y": 1}
    assert CM["metadata"]["labels"]["app"] == "web"


def test_merge_patch_replaces_lists_and_scalars():
    result = merge_patch(CM, {"list": [9, None], "data": "flat"})
    assert result["list"] == [9]
    assert result["data"] == "flat"


def test_merge_patch_bad_patch():
    with pytest.raises(StatusError) as caught:
        merge_patch(CM, None)
    assert caught.value.code == 400
    with pytest.raises(StatusError) as caught:
        merge_patch(CM, [1])
    assert caught.value.code == 422
