"""Label and field selectors: kube's grammar, matching and 400 messages."""

from __future__ import annotations

import pytest

from kapisup.apimachinery.errors import StatusError
from kapisup.apimachinery.selectors import (
    FieldSelector,
    LabelSelector,
    escape_field_value,
    format_labels,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
    unescape_field_value,
)

KEY_RULE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
              "'_' or '.', and must start and end with an alphanumeric character (e.g. "
              "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def bad_label(text: str) -> str:
    with pytest.raises(StatusError) as caught:
        parse_label_selector(text)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


def bad_field(text: str) -> str:
    with pytest.raises(StatusError) as caught:
        parse_field_selector(text)
    assert caught.value.code == 400
    return caught.value.message


# --- label selectors: parsing ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "canonical"), [
    ("", ""),
    ("   ", ""),
    ("app=web", "app=web"),
    ("app==web", "app==web"),
    ("app!=web", "app!=web"),
    ("tier in (front, back)", "tier in (back,front)"),
    ("tier notin (a)", "tier notin (a)"),
    ("gpu", "gpu"),
    ("!gpu", "!gpu"),
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
    ("  b = 1 ,  a   in(x) ", "a in (x),b=1"),  # whitespace tolerant, sorted by key
    ("replicas>2,replicas<10", "replicas>2,replicas<10"),
    ("in in (in, notin)", "in in (in,notin)"),  # keywords are values where values go
    ("example.com/role=db", "example.com/role=db"),
    ("a=", "a="),
    ("a in (b,b)", "a in (b)"),
])
def test_parse_and_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


def test_empty_selector_matches_everything() -> None:
    selector = parse_label_selector("")
    assert selector.empty
    assert selector.matches(None)
    assert selector.matches({"any": "thing"})
    assert not parse_label_selector("a").empty


@pytest.mark.parametrize(("text", "message"), [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a,", "found '', expected: identifier after ','"),
    ("a=b,", "found '', expected: identifier after ','"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ("a=(", "unable to parse requirement: found '(', expected: identifier"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("Foo_", "unable to parse requirement: <nil>: Invalid value: \"Foo_\": " + KEY_RULE),
    ("a=b_", "unable to parse requirement: values[0][a]: Invalid value: \"b_\": " + VALUE_RULE),
    ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' "
            "operators, the value must be an integer"),
])
def test_bad_label_selectors_give_kube_messages(text: str, message: str) -> None:
    assert bad_label(text) == message


def test_too_long_label_value_reports_length_and_format() -> None:
    message = bad_label("a=" + "x" * 64)
    assert message == ('unable to parse requirement: values[0][a]: Invalid value: "' + "x" * 64
                       + '": must be no more than 63 characters')


def test_bad_prefix_in_key() -> None:
    message = bad_label("Bad_Prefix/name=x")
    assert message.startswith('unable to parse requirement: <nil>: Invalid value: '
                              '"Bad_Prefix/name": prefix part a lowercase RFC 1123 subdomain')


# --- label selectors: matching ---------------------------------------------------------------

LABELS = {"app": "web", "tier": "front", "replicas": "5"}


@pytest.mark.parametrize(("text", "expected"), [
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),  # != matches when the label is absent
    ("tier in (front,back)", True),
    ("tier in (back)", False),
    ("missing in (x)", False),
    ("tier notin (back)", True),
    ("tier notin (front)", False),
    ("missing notin (x)", True),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("replicas>4", True),
    ("replicas>5", False),
    ("replicas<6", True),
    ("app>1", False),  # a non-integer label never compares
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("missing=", False),
    ("missing in ()", False),
])
def test_matching(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


def test_empty_value_matches_empty_label() -> None:
    assert parse_label_selector("flag=").matches({"flag": ""})
    assert parse_label_selector("flag in ()").matches({"flag": ""})


def test_requires_exact_match() -> None:
    selector = parse_label_selector("app=web,tier in (a),x in (a,b),y!=z")
    assert selector.requires_exact_match("app") == "web"
    assert selector.requires_exact_match("tier") == "a"
    assert selector.requires_exact_match("x") is None
    assert selector.requires_exact_match("y") is None
    assert selector.requires_exact_match("nope") is None


# --- metav1.LabelSelector --------------------------------------------------------------------


def test_dict_selector_combines_labels_and_expressions() -> None:
    selector = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "edge"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "gpu", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    })
    assert str(selector) == "app=web,env notin (dev),gpu,!legacy,tier in (edge,front)"
    assert selector.matches({"app": "web", "tier": "edge", "gpu": "1"})
    assert not selector.matches({"app": "web", "tier": "edge", "gpu": "1", "legacy": "y"})
    assert not selector.matches({"app": "web", "tier": "edge", "gpu": "1", "env": "dev"})
    assert not selector.matches({"app": "web", "tier": "edge"})


def test_nil_dict_selector_matches_nothing_and_empty_matches_all() -> None:
    nothing = label_selector_from_dict(None)
    assert not nothing.empty
    assert not nothing.matches({})
    assert not nothing.matches({"a": "b"})
    everything = label_selector_from_dict({})
    assert everything.empty
    assert everything.matches({"a": "b"})


@pytest.mark.parametrize(("selector", "message"), [
    ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
     '"Gt" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
     "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     'values: Invalid value: ["x"]: values set must be empty for exists and does not exist'),
    ({"matchLabels": {"a": "b c"}},
     'values[0][a]: Invalid value: "b c": ' + VALUE_RULE),
    ({"matchLabels": {"a b": "c"}}, 'key: Invalid value: "a b": ' + KEY_RULE),
])
def test_bad_dict_selectors(selector: dict, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        label_selector_from_dict(selector)
    assert caught.value.code == 400
    assert caught.value.message == message


def test_several_requirement_errors_are_aggregated() -> None:
    with pytest.raises(StatusError) as caught:
        label_selector_from_dict({"matchExpressions": [
            {"key": "a_", "operator": "In", "values": []}]})
    assert caught.value.message == (
        '[key: Invalid value: "a_": ' + KEY_RULE + ", values: Invalid value: []: for 'in', "
        "'notin' operators, values set can't be empty]")


def test_format_labels() -> None:
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"


def test_label_selector_repr_and_everything() -> None:
    assert LabelSelector.everything().empty
    assert repr(parse_label_selector("a=b")) == "LabelSelector('a=b')"


# --- field selectors -------------------------------------------------------------------------


def test_field_selector_terms_sorted_and_normalised() -> None:
    selector = parse_field_selector("status.phase!=Failed,metadata.name==web")
    assert selector.requirements == [("metadata.name", "=", "web"),
                                     ("status.phase", "!=", "Failed")]
    assert str(selector) == "metadata.name=web,status.phase!=Failed"
    assert selector.fields() == {"metadata.name", "status.phase"}
    assert selector.value_for("metadata.name") == "web"
    assert selector.value_for("status.phase") is None  # only `=` narrows
    assert selector.value_for("spec.nodeName") is None


def test_field_selector_matching() -> None:
    selector = parse_field_selector("metadata.name=web,spec.nodeName=")
    assert selector.matches({"metadata.name": "web"})  # a missing field reads as ""
    assert selector.matches({"metadata.name": "web", "spec.nodeName": ""})
    assert not selector.matches({"metadata.name": "web", "spec.nodeName": "n1"})
    assert not selector.matches({"metadata.name": "db"})
    negative = parse_field_selector("status.phase!=Running")
    assert negative.matches({"status.phase": "Pending"})
    assert negative.matches({})
    assert not negative.matches({"status.phase": "Running"})


def test_empty_field_selector() -> None:
    for text in ("", ",", ",,"):
        selector = parse_field_selector(text)
        assert selector.empty
        assert selector.matches({"anything": "x"})
        assert str(selector) == ""
    assert FieldSelector().empty


def test_field_selector_escapes() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d,spec.x=y")
    assert selector.value_for("metadata.name") == "a,b=c\\d"
    assert selector.value_for("spec.x") == "y"
    assert str(selector) == r"metadata.name=a\,b\=c\\d,spec.x=y"
    assert unescape_field_value(escape_field_value(r"x,=\y")) == r"x,=\y"


def test_first_operator_splits_the_term() -> None:
    # The field name takes no escapes: the first operator wins, even `==` inside the value.
    assert parse_field_selector("a!=b").requirements == [("a", "!=", "b")]
    assert parse_field_selector("a==b").requirements == [("a", "=", "b")]


@pytest.mark.parametrize(("text", "message"), [
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_bad_field_selectors(text: str, message: str) -> None:
    assert bad_field(text) == message
